"""containerlab topology: valid against containerlab's own JSON schema, and wired as the lab needs."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from lab.errors import LabError
from lab.loader import load_topology
from lab.names import IFNAMSIZ
from lab.render.clab import RR_IMAGE, clab_topology, host_sidecar_name
from render_helpers import REFERENCE, TOPOLOGIES, rendered, topology_variant

# containerlab's published schema (v0.79.0, commit 39ff2b7c, schemas/clab.schema.json), vendored in
# tests/contracts/ so the contract is checked in every clone.
SCHEMA = Path(__file__).resolve().parent / "contracts" / "clab.schema.json"
needs_schema = pytest.mark.skipif(not SCHEMA.exists(), reason=f"containerlab schema missing at {SCHEMA}")
ENDPOINT = re.compile(r"^\S+:\S+$")  # the schema's endpoint pattern (under prefixItems, which draft-07 ignores)


@functools.lru_cache(maxsize=None)
def _validator():
    import jsonschema

    # The schema's patterns use ECMAScript's \p{N}\p{L} (Unicode digits and letters), which Python's re
    # lacks; [^\W_] is the same set in Python's Unicode-aware re.
    raw = SCHEMA.read_text().replace("\\\\p{N}\\\\p{L}", "^\\\\W_")
    schema = json.loads(raw)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _clab(topology: str) -> dict:
    return yaml.safe_load(rendered(topology)["clab.yaml"])


def _errors(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(doc)]


@needs_schema
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_clab_file_validates_against_containerlab_schema(topology):
    assert _errors(_clab(topology)) == []


@needs_schema
@pytest.mark.parametrize("node, field, value", [
    ("leaf0", "kind", "vyos-but-not-a-kind"),
    ("server-worker", "network-mode", "shared with worker"),
    ("leaf0", "startup_config", "a misspelt field"),
])
def test_schema_check_catches_a_broken_file(node, field, value):
    doc = _clab(REFERENCE)
    doc["topology"]["nodes"][node][field] = value
    problems = _errors(doc)
    assert problems and all(p.startswith(f"topology/nodes/{node}") for p in problems)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_links_reference_nodes_and_bridge_ports_fit_the_host(topology):
    topo = load_topology(topology)
    doc = _clab(topology)
    nodes = doc["topology"]["nodes"]
    ports = []
    for link in doc["topology"]["links"]:
        a, b = link["endpoints"]
        for end in (a, b):
            assert ENDPOINT.match(end), end
            node, iface = end.split(":")
            assert node in nodes, f"{end}: no such node"
            assert len(iface) <= IFNAMSIZ, f"{end}: interface name longer than {IFNAMSIZ}"
            if nodes[node]["kind"] == "bridge":
                ports.append(iface)
    assert len(ports) == len(set(ports)), f"bridge ports (host-side interfaces) must be unique: {ports}"
    # Every router interface is wired exactly once.
    wired = [e for link in doc["topology"]["links"] for e in link["endpoints"]]
    for router in topo.routers:
        for iface in router.interfaces:
            if topo.peer_of(router.name, iface.name) is not None:
                assert wired.count(f"{router.name}:{iface.name}") == 1


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_bind_sources_are_files_the_renderer_writes(topology):
    files = rendered(topology)
    for name, node in _clab(topology)["topology"]["nodes"].items():
        for bind in node.get("binds", []):
            source = bind.split(":")[0]
            if not source.startswith("/"):
                assert source in files, f"{name} binds {source}, which lab.render does not write"


def test_reference_lab_routers_bridges_and_servers():
    topo = load_topology(REFERENCE)
    doc = _clab(REFERENCE)
    assert doc["name"] == "calico-bgp-rr"
    nodes = doc["topology"]["nodes"]
    for router in ("spine0", "spine1", "leaf0", "leaf1"):
        assert nodes[router] == {
            "kind": "linux", "image": topo.vyos_image, "cmd": "/sbin/init",
            "binds": ["/lib/modules:/lib/modules", f"startup-conf/{router}-boot.cfg:/opt/vyatta/etc/config/config.boot"],
        }
    assert nodes["br-leaf0"] == {"kind": "bridge"} and nodes["br-leaf1"] == {"kind": "bridge"}
    expected = {"control-plane": ("10.1.5.10/24", "10.1.5.1", "br-leaf0"), "worker": ("10.1.5.11/24", "10.1.5.1", "br-leaf0"),
                "worker2": ("10.1.8.10/24", "10.1.8.1", "br-leaf1"), "worker3": ("10.1.8.11/24", "10.1.8.1", "br-leaf1")}
    endpoints = [tuple(link["endpoints"]) for link in doc["topology"]["links"]]
    for node, (ip, gateway, bridge) in expected.items():
        server = nodes[f"server-{node}"]
        assert server["kind"] == "linux" and "netshoot" in server["image"]
        assert server["network-mode"] == f"container:calico-bgp-rr-{node}"  # kind's container name
        assert server["exec"][:2] == [f"ip addr add {ip} dev net0", f"ip route replace default via {gateway}"]
        assert (f"server-{node}:net0", f"{bridge}:{node}") in endpoints
    for pair in (("spine0:eth1", "leaf0:eth1"), ("spine1:eth1", "leaf0:eth2"), ("spine0:eth2", "leaf1:eth1"),
                 ("spine1:eth2", "leaf1:eth2"), ("leaf0:eth3", "br-leaf0:leaf0-eth3"), ("leaf1:eth3", "br-leaf1:leaf1-eth3")):
        assert pair in endpoints
    assert len(endpoints) == 6 + 4


def test_servers_on_a_plain_segment_keep_their_default_route():
    doc = _clab("calico-fullmesh")
    server = doc["topology"]["nodes"]["server-worker"]
    assert server["exec"][0] == "ip addr add 10.2.0.11/24 dev net0"
    assert not any(line.startswith("ip route") for line in server["exec"])


def test_external_route_reflector_runs_bird_with_its_config_and_a_sidecar_for_the_address():
    doc = _clab("calico-rr-external")
    nodes = doc["topology"]["nodes"]
    assert nodes["rr1"] == {"kind": "linux", "image": RR_IMAGE, "binds": ["bird/rr1.conf:/etc/bird/bird.conf"]}
    sidecar = nodes[host_sidecar_name("rr1")]
    assert sidecar["network-mode"] == "container:rr1"  # containerlab resolves its own node names
    assert sidecar["exec"][0] == "ip addr add 10.4.0.50/24 dev eth1"
    assert {"endpoints": [f"{host_sidecar_name('rr1')}:eth1", "br-ext:rr1"], "mtu": 1500} in doc["topology"]["links"]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_every_link_carries_the_mtu_vyos_sets(topology):
    # containerlab's veths default to 9500; VyOS writes 1500 on its fabric interfaces (vyos.py).
    links = _clab(topology)["topology"]["links"]
    assert links and all(link["mtu"] == 1500 for link in links)


def test_a_second_lab_scopes_its_host_side_port_names():
    topo = load_topology(REFERENCE)
    own = {l["endpoints"][1] for l in clab_topology(topo)["topology"]["links"] if l["endpoints"][1].startswith("br-")}
    scoped = {l["endpoints"][1] for l in clab_topology(topo, "ab12")["topology"]["links"]
              if l["endpoints"][1].startswith("br-")}
    ports = lambda ends: {e.split(":", 1)[1] for e in ends}  # noqa: E731
    assert ports(own) & ports(scoped) == set() and len(ports(scoped)) == len(ports(own))
    assert all(len(p) <= IFNAMSIZ for p in ports(scoped))


def test_a_name_clash_is_an_error_not_a_silently_merged_node(tmp_path):
    def clash(doc):
        doc["hosts"]["worker"] = doc["hosts"].pop("rr1")  # host 'worker' -> bridge port 'worker' twice

    # The loader refuses it first (lab/clashes.py), naming the file, the line and both owners.
    with pytest.raises(LabError, match=r"\.yaml:\d+: hosts\.worker: 'worker' \(a host\) is also the name of a Calico node"):
        topology_variant(tmp_path, clash, base="calico-rr-external")
