"""Fidelity to Calico on real namespaces, BIRD and FRR: what a user of that Calico version would see.

Lab A (v3.23.5, the default): a four-node mesh with a disableBGPExport pool on one node, a Service
range, and a BGPPeer between two nodes that the mesh already connects (the duplicate protocol).
Lab B (v3.32.1): the reference spine/leaf lab plus an eBGP peering between two nodes of different
racks (off each other's subnet: only `multihop` lets it connect) that imports nothing (a BGPFilter).
Lab C (v3.32.1): the mesh plus a global peer to one node: sorted protocols, the global one holds it.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path

import pytest
import yaml

from lab.calico.status import parse_birdc_protocols
from lab.checks.observe import observe_bird_sessions, observe_routes, route_to
from lab.loader import TOPOLOGY_DIR, load_topology
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import quiet, requires_netns, unique

pytestmark = [requires_netns, pytest.mark.netns]


def _variant(tmp_path: Path, base: str, change, extra: str):
    doc = yaml.safe_load((TOPOLOGY_DIR / f"{base}.yaml").read_text())
    change(doc)
    (tmp_path / "extra.yaml").write_text(extra)
    doc.setdefault("calico", {})["resources"] = ["extra.yaml"]
    path = tmp_path / f"{base}-fidelity.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_topology(path)


def _lab(factory, name: str, base: str, change, extra: str):
    """Up a variant of a shipped topology for a module (fixture body), down afterwards."""
    tmp = factory.mktemp(name)
    provider = NetnsProvider(_variant(tmp, base, change, extra), unique(name), out_dir=tmp)
    if provider.is_up():  # left by an earlier run that was killed
        provider.down(quiet())
    provider.up(quiet())  # waits for the bgp-sessions and routes checks: the plan, Idle duplicates included
    yield provider
    provider.down(quiet())


DUPLICATE = """
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: cp-to-worker2}
spec: {node: calico-fullmesh-control-plane, peerIP: 10.2.0.12, asNumber: 64512}
"""


def _mesh_change(doc):
    doc["cluster"]["nodes"]["worker"]["labels"] = {"quiet": "yes"}
    doc["calico"]["ip_pools"] = [
        {"name": "quiet", "cidr": "10.244.128.0/24", "disable_bgp_export": True, "node_selector": "quiet == 'yes'"},
        {"name": "default", "cidr": "10.244.0.0/17"}]
    doc["calico"]["bgp_configuration"] = {"serviceClusterIPs": [{"cidr": "10.96.0.0/16"}]}


@pytest.fixture(scope="module")
def mesh_lab(tmp_path_factory):
    yield from _lab(tmp_path_factory, "t-fid-a", "calico-fullmesh", _mesh_change, DUPLICATE)


def test_duplicate_protocol_stays_idle_and_shows_in_status(mesh_lab):
    text = mesh_lab.access().birdc("control-plane", "show protocols")
    rows = [(r.peer_address, r.peer_type, r.state, r.info.split()[:1]) for r in parse_birdc_protocols(text)]
    assert ("10.2.0.12", "node-to-node mesh", "up", ["Established"]) in rows, text
    extra = [r for r in rows if r[:2] == ("10.2.0.12", "node specific")]
    assert len(extra) == 1 and extra[0][2] == "start" and extra[0][3] != ["Established"], text
    # The v3.23 template lists the mesh first: its row comes before the node-specific one.
    assert rows.index(("10.2.0.12", "node-to-node mesh", "up", ["Established"])) < rows.index(extra[0])
    # worker2 owns the peerIP: the reverse Node_ protocol exists there too, shadowed by its mesh protocol.
    names = {s.name: s.state for s in observe_bird_sessions(mesh_lab.access(), "worker2")}
    assert names["Mesh_10_2_0_10"] == "Established" and names["Node_10_2_0_10"] != "Established"


def test_disable_bgp_export_block_is_not_learned_by_other_nodes(mesh_lab):
    (quiet_block,) = mesh_lab.planned_blocks()["worker"]
    assert quiet_block.subnet_of(IPv4Network("10.244.128.0/24"))
    access = mesh_lab.access()
    own = route_to(observe_routes(access, "worker"), quiet_block)
    assert own is not None and own.kind == "blackhole" and own.protocol == "bird"
    for node in ("control-plane", "worker2", "worker3"):
        assert route_to(observe_routes(access, node), quiet_block) is None, node
        (block,) = mesh_lab.planned_blocks()[node]
        assert route_to(observe_routes(access, "worker"), block) is not None  # the others' blocks still flow


def test_service_range_advertised_but_never_blackholed_in_the_kernel(mesh_lab):
    access = mesh_lab.access()
    for node in ("control-plane", "worker", "worker2", "worker3"):
        routes = observe_routes(access, node)
        assert route_to(routes, IPv4Network("10.96.0.0/16")) is None, f"{node}: {routes}"
    learned = access.birdc("control-plane", "show route 10.96.0.0/16 all")
    assert "static" in learned.lower() and "BGP.origin" in learned, learned  # its own and its peers' copies


def test_felix_route_shape(mesh_lab):
    access = mesh_lab.access()
    for pod in mesh_lab.blueprint.pods:
        text = access.exec(pod.node, ["ip", "route", "show", f"{pod.ip}/32"]).stdout
        assert text.strip() == f"{pod.ip} dev {pod.cali} scope link", text
        link = json.loads(access.exec(pod.node, ["ip", "-j", "link", "show", pod.cali]).stdout)
        assert link[0]["address"] == "ee:ee:ee:ee:ee:ee"


CROSS_RACK = """
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata: {name: learn-nothing}
spec:
  importV4:
  - action: Reject
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: worker-to-worker3}
spec: {node: calico-bgp-rr-worker, peerIP: 10.1.8.11, asNumber: 65008, filters: [learn-nothing]}
"""


def _v332(doc):
    doc["calico"]["version"] = "v3.32.1"


@pytest.fixture(scope="module")
def v332_lab(tmp_path_factory):
    yield from _lab(tmp_path_factory, "t-fid-b", "calico-bgp-rr", _v332, CROSS_RACK)


def test_ebgp_multihop_to_a_peer_off_the_subnet_connects(v332_lab):
    access = v332_lab.access()
    mine = {s.name: s for s in observe_bird_sessions(access, "worker")}
    theirs = {s.name: s for s in observe_bird_sessions(access, "worker3")}
    assert mine["Node_10_1_8_11"].established and mine["Node_10_1_8_11"].peer_as == 65008
    assert theirs["Node_10_1_5_11"].established and theirs["Node_10_1_5_11"].peer_as == 65005
    config = v332_lab.blueprint.bird[[b.target for b in v332_lab.blueprint.bird].index("worker")].config
    session = config[config.index("protocol bgp Node_10_1_8_11"):]
    assert "ttl security off;\n  multihop;" in session and "'bgp_learn-nothing_importFilterV4'();" in session
    # The filter imports nothing over that session: worker3's block still comes via the leaf.
    (block,) = v332_lab.planned_blocks()["worker3"]
    learned = access.birdc("worker", f"show route {block} all")
    assert "Node_10_1_8_11" not in learned, learned


def test_v3_32_route_shape_and_metrics(v332_lab):
    access = v332_lab.access()
    for pod in v332_lab.blueprint.pods:
        text = access.exec(pod.node, ["ip", "route", "show", f"{pod.ip}/32"]).stdout
        assert text.strip() == f"{pod.ip} dev {pod.cali} scope link metric 1024", text
    (block,) = v332_lab.planned_blocks()["worker3"]
    remote = route_to(observe_routes(access, "worker"), block)
    # BIRD sets krt_metric from LOCAL_PREF (2147483647 - 100 from the leaf's iBGP), as calico-node v3.32 does.
    assert remote is not None and remote.metric == 2147483647 - 100, remote


GLOBAL_TO_WORKER2 = """
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: all-to-worker2}
spec: {peerIP: 10.2.0.12, asNumber: 64512}
"""


@pytest.fixture(scope="module")
def v332_mesh_lab(tmp_path_factory):
    yield from _lab(tmp_path_factory, "t-fid-c", "calico-fullmesh", _v332, GLOBAL_TO_WORKER2)


def test_v3_32_sorted_protocols_global_holds_the_neighbour_over_the_mesh(v332_mesh_lab):
    text = v332_mesh_lab.access().birdc("control-plane", "show protocols")
    rows = [(r.peer_address, r.peer_type, r.state) for r in parse_birdc_protocols(text)]
    # Sorted by name: Global_10_2_0_12 comes before Mesh_10_2_0_12 and holds it; the mesh protocol waits.
    assert rows[0] == ("10.2.0.12", "global", "up"), text
    assert ("10.2.0.12", "node-to-node mesh", "start") in rows, text
    assert [r[0] for r in rows] == ["10.2.0.12", "10.2.0.11", "10.2.0.12", "10.2.0.13"], text
