"""The topology loader: the reference lab loads as DESIGN.md §2 says; every bad input fails
with file:line, the field and the problem."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from lab import model as m
from lab.errors import TopologyError
from lab.loader import TOPOLOGY_DIR, load_topology, resolve_topology_path

REFERENCE = (TOPOLOGY_DIR / "calico-bgp-rr.yaml").read_text()
ALL_TOPOLOGIES = sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml"))


def test_reference_lab_matches_design():
    topo = load_topology("calico-bgp-rr")
    assert topo.name == "calico-bgp-rr"
    plan = {r.name: (r.role, r.asn, {i.name: str(i.address) for i in r.interfaces}) for r in topo.routers}
    assert plan == {
        "spine0": ("spine", 500, {"eth1": "10.1.10.2/24", "eth2": "10.1.34.2/24"}),
        "spine1": ("spine", 800, {"eth1": "10.1.12.2/24", "eth2": "10.1.11.2/24"}),
        "leaf0": ("leaf", 65005, {"eth1": "10.1.10.1/24", "eth2": "10.1.12.1/24", "eth3": "10.1.5.1/24"}),
        "leaf1": ("leaf", 65008, {"eth1": "10.1.34.1/24", "eth2": "10.1.11.1/24", "eth3": "10.1.8.1/24"}),
    }
    nodes = {n.name: (n.rack, str(n.ip), topo.node_asn(n)) for n in topo.cluster.nodes}
    assert nodes == {
        "control-plane": ("rack0", "10.1.5.10/24", 65005),
        "worker": ("rack0", "10.1.5.11/24", 65005),
        "worker2": ("rack1", "10.1.8.10/24", 65008),
        "worker3": ("rack1", "10.1.8.11/24", 65008),
    }
    assert [(r.name, r.bridge, r.leaf, str(r.gateway)) for r in topo.racks] == [
        ("rack0", "br-leaf0", "leaf0", "10.1.5.1"), ("rack1", "br-leaf1", "leaf1", "10.1.8.1")]
    # Router IDs default to the rack-facing address (leaves) or the first interface (spines): unique.
    assert len({r.router_id for r in topo.routers}) == 4
    assert topo.router("leaf0").router_id == IPv4Address("10.1.5.1")
    # Spines are in different ASes: the leaves need multipath-relax for ECMP.
    assert topo.router("leaf0").multipath_relax and topo.router("leaf1").multipath_relax
    assert topo.cluster.pod_subnet == IPv4Network("10.244.0.0/16")
    assert topo.calico.peering == m.PEERING_RACK_LEAF
    assert topo.cluster.k8s_name("worker2") == "calico-bgp-rr-worker2"
    assert topo.cluster.node("worker").labels["rack"] == "rack0"
    assert topo.peer_of("leaf0", "eth1") == m.Endpoint("spine0", "eth1")
    assert topo.peer_of("leaf0", "eth3") == m.Endpoint("br-leaf0")


@pytest.mark.parametrize("name", ALL_TOPOLOGIES)
def test_every_shipped_topology_loads(name):
    topo = load_topology(name)
    assert topo.cluster.nodes


def test_other_scenarios():
    mesh = load_topology("calico-fullmesh")
    assert mesh.calico.peering == "mesh" and len(mesh.cluster.nodes) == 4 and not mesh.routers
    assert {mesh.node_asn(n) for n in mesh.cluster.nodes} == {64512}
    rr = load_topology("calico-rr-incluster")
    assert len(rr.cluster.nodes) == 5
    assert [n.name for n in rr.cluster.nodes if rr.is_route_reflector(n)] == ["control-plane", "worker", "worker2"]
    ext = load_topology("calico-rr-external")
    assert [(h.name, str(h.ip), h.asn, h.cluster_id) for h in ext.hosts] == [("rr1", "10.4.0.50/24", 64512, "1.0.0.1")]


def test_resolve_by_name_path_and_suffix(tmp_path):
    assert resolve_topology_path("calico-fullmesh").name == "calico-fullmesh.yaml"
    assert resolve_topology_path("calico-fullmesh.yaml").name == "calico-fullmesh.yaml"
    assert resolve_topology_path(None).name == "calico-bgp-rr.yaml"
    with pytest.raises(TopologyError, match="no such topology file or name"):
        resolve_topology_path("nope")


def _load_variant(tmp_path: Path, old: str, new: str, base: str = REFERENCE):
    assert old in base, f"test setup: {old!r} not in the base topology"
    path = tmp_path / "lab.yaml"
    path.write_text(base.replace(old, new, 1))
    return path, lambda: load_topology(path)


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


# (description, old text, new text, expected field, expected problem fragment, text on the error line)
BAD = [
    ("unknown key (typo)", "      asn: 500\n", "      asm: 500\n", "fabric.routers.spine0.asn", "required field is missing (found 'asm': a typo?)", "asm: 500"),
    ("typo with suggestion", "  pods_per_node: 1", "  pods_per_nod: 1", "workloads.pods_per_nod", "did you mean 'pods_per_node'", "pods_per_nod"),
    ("missing required field", "  rack0: {bridge: br-leaf0, subnet: 10.1.5.0/24, leaf: leaf0}",
     "  rack0: {bridge: br-leaf0, leaf: leaf0}", "racks.rack0.subnet", "required field is missing", "rack0: {bridge"),
    ("unknown router in link", "- [spine0:eth1, leaf0:eth1]", "- [spine9:eth1, leaf0:eth1]",
     "fabric.links[0]", "unknown router 'spine9'", "spine9:eth1"),
    ("unknown interface in link", "- [spine0:eth1, leaf0:eth1]", "- [spine0:eth7, leaf0:eth1]",
     "fabric.links[0]", "router 'spine0' has no interface 'eth7'", "spine0:eth7"),
    ("unknown bridge in link", "- [leaf0:eth3, br-leaf0]", "- [leaf0:eth3, br-nope]",
     "fabric.links[4]", "unknown bridge 'br-nope'", "br-nope"),
    ("interface used twice", "- [spine1:eth1, leaf0:eth2]", "- [spine1:eth1, leaf0:eth1]",
     "fabric.links[1]", "already used by fabric.links[0]", "spine1:eth1, leaf0:eth1"),
    ("duplicate address", "worker:        {rack: rack0, ip: 10.1.5.11}", "worker:        {rack: rack0, ip: 10.1.5.10}",
     "cluster.nodes.worker.ip", "duplicate address 10.1.5.10", "worker:        {rack"),
    ("address outside its subnet", "worker2:       {rack: rack1, ip: 10.1.8.10}", "worker2:       {rack: rack1, ip: 10.1.5.20}",
     "cluster.nodes.worker2.ip", "outside the subnet 10.1.8.0/24 of rack rack1", "worker2:"),
    ("overlapping rack subnets", "subnet: 10.1.8.0/24", "subnet: 10.1.0.0/20",
     "racks.rack1.subnet", "overlaps 10.1.5.0/24", "rack1:"),
    ("ASN out of range", "asn: 800", "asn: 4294967296", "fabric.routers.spine1.asn", "out of range (1..4294967295)", "asn: 4294967296"),
    ("ASN zero", "asn: 500", "asn: 0", "fabric.routers.spine0.asn", "out of range", "asn: 0"),
    ("duplicate router id", "      asn: 800\n", "      asn: 800\n      router_id: 10.1.10.2\n",
     "fabric.routers.spine1.router_id", "duplicate router ID 10.1.10.2", "router_id: 10.1.10.2"),
    ("invalid router name", "    spine0:\n", "    Spine_0:\n", "fabric.routers.Spine_0", "not a valid name", "Spine_0:"),
    ("interface name too long", "eth1: 10.1.10.2/24", "ethernet0123456789: 10.1.10.2/24",
     "fabric.routers.spine0.interfaces.ethernet0123456789", "too long for a Linux interface name", "ethernet0123456789"),
    ("bridge name too long", "bridge: br-leaf0,", "bridge: br-leaf0-extra-long,", "racks.rack0.bridge", "too long", "br-leaf0-extra-long"),
    ("multipath-relax off with spines in different ASes", "      interfaces: {eth1: 10.1.10.1/24",
     "      multipath_relax: false\n      interfaces: {eth1: 10.1.10.1/24", "fabric.routers.leaf0.multipath_relax",
     "needs multipath-relax", "leaf0:"),
    ("link ends in different subnets", "eth1: 10.1.10.1/24", "eth1: 10.1.99.1/24", "fabric.links[0]", "not in the same subnet", "spine0:eth1, leaf0:eth1"),
    ("node name kind cannot give", "    worker3:       {rack: rack1", "    worker9:       {rack: rack1",
     "cluster.nodes.worker9", "kind names this worker node 'worker3'", "worker9:"),
    ("unknown rack of a node", "worker3:       {rack: rack1", "worker3:       {rack: rack7",
     "cluster.nodes.worker3.rack", "unknown rack 'rack7'", "worker3:"),
    ("leaf not linked to its bridge", "subnet: 10.1.8.0/24, leaf: leaf1}", "subnet: 10.1.8.0/24, leaf: leaf0}",
     "racks.rack1.leaf", "leaf 'leaf0' has no link to the rack bridge 'br-leaf1'", "rack1:"),
    ("bad peering mode", "peering: rack-leaf", "peering: ibgp-everything", "calico.peering", "not a peering mode", "peering: ibgp"),
    ("not a network", "pod_subnet: 10.244.0.0/16", "pod_subnet: 10.244.0.1/16", "cluster.pod_subnet", "not a valid IPv4 network", "pod_subnet"),
    ("pod subnet overlaps fabric", "pod_subnet: 10.244.0.0/16", "pod_subnet: 10.1.0.0/16", "cluster.pod_subnet", "overlaps", "pod_subnet"),
    ("boolean where a number belongs", "asn: 500", "asn: true", "fabric.routers.spine0.asn", "expected a whole number, got a boolean", "asn: true"),
    ("unconnected interface", "interfaces: {eth1: 10.1.10.2/24, eth2: 10.1.34.2/24}",
     "interfaces: {eth1: 10.1.10.2/24, eth2: 10.1.34.2/24, eth9: 10.9.9.1/24}",
     "fabric.routers.spine0.interfaces.eth9", "not connected by any link", None),
    ("yaml syntax", "racks:\n", "racks:\n  - [\n", "", "YAML syntax error", None),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_names_file_line_field_problem(tmp_path, case):
    _, old, new, field, problem, line_text = case
    path, load = _load_variant(tmp_path, old, new)
    with pytest.raises(TopologyError) as info:
        load()
    err = info.value
    message = str(err)
    assert str(path) in message or path.name in message
    assert err.field == field, message
    assert problem in err.problem, message
    assert err.line is not None, message
    if line_text is not None:
        assert err.line == _line_of(path, line_text), message
    assert message.count("\n") == 0


def test_empty_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(TopologyError, match="file is empty"):
        load_topology(path)


def test_top_level_must_be_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(TopologyError, match="expected a mapping"):
        load_topology(path)


def test_node_ip_with_explicit_prefix_must_match_rack(tmp_path):
    path, load = _load_variant(tmp_path, "ip: 10.1.5.11}", "ip: 10.1.5.11/16}")
    with pytest.raises(TopologyError, match="outside the subnet 10.1.5.0/24"):
        load()
    path, load = _load_variant(tmp_path, "ip: 10.1.5.11}", "ip: 10.1.5.11/24}")
    assert load().cluster.node("worker").ip == IPv4Interface("10.1.5.11/24")


def test_explicit_node_asn_and_labels(tmp_path):
    _, load = _load_variant(tmp_path, "worker3:       {rack: rack1, ip: 10.1.8.11}",
                            "worker3:       {rack: rack1, ip: 10.1.8.11, asn: 64999, labels: {tier: edge}}")
    topo = load()
    node = topo.cluster.node("worker3")
    assert topo.node_asn(node) == 64999
    assert dict(node.labels) == {"rack": "rack1", "tier": "edge"}


def test_bad_label_value(tmp_path):
    _, load = _load_variant(tmp_path, "worker3:       {rack: rack1, ip: 10.1.8.11}",
                            "worker3:       {rack: rack1, ip: 10.1.8.11, labels: {tier: 'has space'}}")
    with pytest.raises(TopologyError, match="not a valid Kubernetes label value"):
        load()


def test_route_reflector_unknown_node(tmp_path):
    base = (TOPOLOGY_DIR / "calico-rr-incluster.yaml").read_text()
    _, load = _load_variant(tmp_path, "nodes: [control-plane, worker, worker2]", "nodes: [control-plane, ghost]", base)
    with pytest.raises(TopologyError, match="unknown node 'ghost'"):
        load()


def test_external_rr_needs_a_host(tmp_path):
    base = (TOPOLOGY_DIR / "calico-rr-external.yaml").read_text()
    _, load = _load_variant(tmp_path, "hosts:\n  rr1: {role: route-reflector, rack: rack0, ip: 10.4.0.50, asn: 64512, cluster_id: 1.0.0.1}\n", "", base)
    with pytest.raises(TopologyError, match="needs a route-reflector host"):
        load()


def test_model_is_immutable():
    topo = load_topology("calico-bgp-rr")
    with pytest.raises(AttributeError):
        topo.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        topo.cluster.node("worker").labels["rack"] = "rack9"  # type: ignore[index]
