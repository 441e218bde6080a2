"""The compact topology form (lab/compact.py): what it generates, its errors, and that it
equals the hand-written form it stands for."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from hypothesis import given, settings, strategies as st

from lab.errors import TopologyError
from lab.loader import load_topology

HEAD = "name: c\n"
CLUSTER = "cluster:\n  pod_subnet: 10.244.0.0/16\n"


def _load(tmp_path, text: str, name: str = "c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_topology(path)


def _nodes(topo):
    return [(n.name, n.rack, str(n.ip)) for n in topo.cluster.nodes]


def test_a_node_count_names_nodes_as_kind_does_and_addresses_them_from_host_10(tmp_path):
    topo = _load(tmp_path, HEAD + "racks:\n  rack0: {bridge: br0, subnet: 10.8.0.0/24, nodes: 4}\n" + CLUSTER
                 + "calico:\n  peering: mesh\n")
    assert _nodes(topo) == [("control-plane", "rack0", "10.8.0.10/24"), ("worker", "rack0", "10.8.0.11/24"),
                            ("worker2", "rack0", "10.8.0.12/24"), ("worker3", "rack0", "10.8.0.13/24")]
    assert topo.cluster.nodes[0].role == "control-plane"


def test_generated_nodes_continue_after_hand_written_ones_and_skip_their_addresses(tmp_path):
    topo = _load(tmp_path, HEAD + "racks:\n  rack0: {bridge: br0, subnet: 10.8.0.0/24, nodes: 2}\n"
                 "cluster:\n  pod_subnet: 10.244.0.0/16\n  nodes:\n"
                 "    control-plane: {rack: rack0, ip: 10.8.0.10, role: control-plane}\n"
                 "    worker: {rack: rack0, ip: 10.8.0.11}\n"
                 "calico:\n  peering: mesh\n")
    assert _nodes(topo) == [("control-plane", "rack0", "10.8.0.10/24"), ("worker", "rack0", "10.8.0.11/24"),
                            ("worker2", "rack0", "10.8.0.12/24"), ("worker3", "rack0", "10.8.0.13/24")]


def test_generated_racks_fabric_and_reflectors(tmp_path):
    topo = _load(tmp_path, HEAD + "fabric:\n  generate: {spines: 2, spine_asn: 65500, leaf_asn: 65000, "
                 "link_subnet: 10.255.0.0/24}\n"
                 "racks:\n  generate: {count: 3, subnet: 10.16.0.0/16, prefix: 24, nodes_per_rack: 10}\n"
                 + CLUSTER + "calico:\n  peering: rack-reflectors\n  route_reflectors: {per_rack: 1}\n")
    assert [(r.name, r.bridge, str(r.subnet), r.leaf, str(r.gateway)) for r in topo.racks] == [
        ("rack0", "br-rack0", "10.16.0.0/24", "leaf0", "10.16.0.1"),
        ("rack1", "br-rack1", "10.16.1.0/24", "leaf1", "10.16.1.1"),
        ("rack2", "br-rack2", "10.16.2.0/24", "leaf2", "10.16.2.1")]
    routers = {r.name: r for r in topo.routers}
    assert list(routers) == ["spine0", "spine1", "leaf0", "leaf1", "leaf2"]
    assert [(n, routers[n].asn) for n in routers] == [("spine0", 65500), ("spine1", 65501), ("leaf0", 65000),
                                                      ("leaf1", 65001), ("leaf2", 65002)]
    assert {i.name: str(i.address) for i in routers["leaf1"].interfaces} == {
        "eth1": "10.255.0.5/31", "eth2": "10.255.0.7/31", "eth3": "10.16.1.1/24"}
    assert {i.name: str(i.address) for i in routers["spine0"].interfaces} == {
        "eth1": "10.255.0.0/31", "eth2": "10.255.0.4/31", "eth3": "10.255.0.8/31"}
    assert routers["leaf0"].maximum_paths == 10  # the rack's node count (at least 8)
    assert len(topo.cluster.nodes) == 30
    assert [n.rack for n in topo.cluster.nodes].count("rack2") == 10
    firsts = [next(n.name for n in topo.cluster.nodes if n.rack == r) for r in ("rack0", "rack1", "rack2")]
    assert list(topo.calico.route_reflectors.nodes) == firsts == ["control-plane", "worker10", "worker20"]


@pytest.mark.parametrize("text, where", [
    ("racks:\n  rack0: {bridge: br0, subnet: 10.8.0.0/28, nodes: 9}\n" + CLUSTER + "calico:\n  peering: mesh\n",
     "c.yaml:3: racks.rack0.nodes: 9 nodes from host .10 on do not fit in 10.8.0.0/28"),
    ("racks:\n  rack0: {bridge: br0, subnet: 10.8.0.0/22, nodes: 1024}\n" + CLUSTER + "calico:\n  peering: mesh\n",
     "c.yaml:3: racks.rack0.nodes: 1024 is out of range (0..1023)"),
    ("racks:\n  rack0: {bridge: br0, subnet: 10.9.0.0/24}\n  generate: {count: 2, subnet: 10.16.0.0/16}\n"
     + CLUSTER + "calico:\n  peering: mesh\n", "generated rack 'rack0' is also written by hand"),
    ("racks:\n  generate: {count: 300, subnet: 10.16.0.0/16, prefix: 24}\n" + CLUSTER + "calico:\n  peering: mesh\n",
     "c.yaml:3: racks.generate.count: 300 racks of /24 do not fit in 10.16.0.0/16 (256 do)"),
    ("fabric:\n  generate: {spines: 2, spine_asn: 1, leaf_asn: 2, link_subnet: 10.255.0.0/30}\n"
     "racks:\n  generate: {count: 2, subnet: 10.16.0.0/16, nodes_per_rack: 1}\n" + CLUSTER
     + "calico:\n  peering: rack-leaf\n", "fabric.generate.link_subnet: 10.255.0.0/30 holds 2 /31 links, 4 are needed"),
    ("fabric:\n  generate: {spines: 1, spine_asn: 1, leaf_asn: 2, link_subnet: 10.255.0.0/24}\n  routers: {}\n"
     "racks:\n  generate: {count: 1, subnet: 10.16.0.0/16}\n" + CLUSTER + "calico:\n  peering: rack-leaf\n",
     "c.yaml:4: fabric.routers: fabric.generate writes the routers and links"),
    ("racks:\n  rack0: {bridge: br0, subnet: 10.8.0.0/24, nodes: 3}\n" + CLUSTER
     + "calico:\n  peering: route-reflectors\n  route_reflectors: {per_rack: 1, nodes: [worker]}\n",
     "calico.route_reflectors.per_rack: give either nodes or per_rack, not both"),
    ("racks:\n  rack0: {bridge: br0, subnet: 10.8.0.0/24, nodes: 3}\n" + CLUSTER
     + "calico:\n  peering: route-reflectors\n  route_reflectors: {per_rack: 0}\n",
     "calico.route_reflectors.per_rack: expected a number >= 1, got 0"),
])
def test_bad_compact_fields_are_one_error_naming_file_line_and_field(tmp_path, text, where):
    with pytest.raises(TopologyError) as err:
        _load(tmp_path, HEAD + text)
    assert where in str(err.value)
    assert "\n" not in str(err.value)


def _hand_written(racks: list[int]) -> str:
    """The documented rules written out independently: kind names, hosts from .10."""
    lines = [HEAD.rstrip(), "racks:"]
    for r, _ in enumerate(racks):
        lines.append(f"  rack{r}: {{bridge: br{r}, subnet: 10.{r}.0.0/24}}")
    lines += ["cluster:", "  pod_subnet: 10.244.0.0/16", "  nodes:"]
    index = 0
    for r, count in enumerate(racks):
        for k in range(count):
            name = "control-plane" if index == 0 else ("worker" if index == 1 else f"worker{index}")
            role = ", role: control-plane" if index == 0 else ""
            lines.append(f"    {name}: {{rack: rack{r}, ip: 10.{r}.0.{10 + k}{role}}}")
            index += 1
    return "\n".join(lines + ["calico:", "  peering: mesh", ""])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=5).filter(lambda c: sum(c) >= 1))
def test_the_compact_form_is_the_hand_written_form_it_stands_for(tmp_path_factory, counts):
    tmp = tmp_path_factory.mktemp("compact")
    compact = HEAD + "racks:\n" + "".join(
        f"  rack{r}: {{bridge: br{r}, subnet: 10.{r}.0.0/24, nodes: {n}}}\n" for r, n in enumerate(counts)) \
        + CLUSTER + "calico:\n  peering: mesh\n"
    a = _load(tmp, compact, "compact.yaml")
    b = _load(tmp, _hand_written(counts), "hand.yaml")
    assert a.cluster.nodes == b.cluster.nodes
    assert a.racks == b.racks
    assert a.calico == b.calico
    # Same file, same lab; every address in its rack's subnet and unique.
    assert _load(tmp, compact, "again.yaml").cluster.nodes == a.cluster.nodes
    ips = [n.ip.ip for n in a.cluster.nodes]
    assert len(set(ips)) == len(ips)
    assert all(n.ip.ip in ip_network(str(a.rack(n.rack).subnet)) for n in a.cluster.nodes)
