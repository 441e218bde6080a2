"""The names object (lab/names.py): short <-> Kubernetes node names and the namespace prefix."""

from __future__ import annotations

from hypothesis import given, strategies as st

from lab.loader import load_topology
from lab.names import NS_SEPARATOR, NodeNames, k8s_node_name, lab_name_problem, namespace_prefix
from lab.providers.netns.blueprint import lab_prefix

short_name = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


def test_the_reference_lab_nodes_both_ways():
    topo = load_topology(None)
    names = topo.cluster.names()
    for node in topo.cluster.nodes:
        k8s = topo.cluster.k8s_name(node)
        assert k8s == k8s_node_name(topo.cluster.name, node.name)
        assert names.k8s(node.name) == names.k8s(k8s) == k8s
        assert names.short(k8s) == names.short(node.name) == node.name
        assert names.find(node.name) == names.find(k8s) == k8s
    assert list(names.by_k8s().values()) == [n.name for n in topo.cluster.nodes]


def test_a_node_the_topology_does_not_know():
    names = NodeNames("lab", ["worker"])
    assert names.short("lab-added") == "lab-added"  # a Node added to the datastore: as it is
    assert names.find("added") is None and not names.known("added")
    assert names.known("worker") and names.known("lab-worker")


@given(cluster=short_name, nodes=st.lists(short_name, unique=True, max_size=8))
def test_short_and_k8s_are_inverse(cluster, nodes):
    names = NodeNames(cluster, nodes)
    for node in nodes:
        assert names.short(names.k8s(node)) == node
        assert names.k8s(names.short(names.k8s(node))) == names.k8s(node)
    assert set(names.by_k8s()) == {k8s_node_name(cluster, n) for n in nodes}


@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?", fullmatch=True))
def test_namespace_prefixes_of_two_labs_never_collide(lab):
    assert lab_name_problem(lab) is None
    prefix = namespace_prefix(lab)
    assert prefix == lab_prefix(lab)  # the netns provider uses this one scheme
    # A valid lab name has no separator, so no other lab's prefix can start with this one.
    assert NS_SEPARATOR not in lab and prefix.count(NS_SEPARATOR) == 1
    assert not namespace_prefix(lab + "x").startswith(prefix)
