"""Peering fidelity: duplicate mesh + explicit protocols, version-dependent order, reflector and passive rules."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings, strategies as st

from lab.calico.peering import GLOBAL, MESH, NODE_SPECIFIC, plan_peering, sessions_by_key
from lab.calico.resources import parse_resources

OLD, NEW = "v3.23.5", "v3.32.1"


def rs_of(*docs: str, version=None):
    return parse_resources("\n---\n".join(textwrap.dedent(d).strip() for d in docs), "t.yaml", version=version)


def node(name: str, ip: str | None, labels: dict | None = None, **bgp) -> str:
    spec = dict(bgp)
    if ip:
        spec["ipv4Address"] = f"{ip}/24"
    body = "".join(f"\n    {k}: {v}" for k, v in spec.items()) or " {}"
    lab = "".join(f"\n    {k}: '{v}'" for k, v in (labels or {}).items()) or " {}"
    return f"apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: {name}\n  labels:{lab}\nspec:\n  bgp:{body}"


def peer(name: str, **spec) -> str:
    body = ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in spec.items())
    return f"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {{name: {name}}}\nspec: {{{body}}}"


MESH_OFF = "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {nodeToNodeMeshEnabled: false}"
THREE = [node("a", "10.0.0.10", {"x": "1"}), node("b", "10.0.0.11", {"x": "2"}), node("c", "10.0.0.12")]


def rows(plan, n):
    return [(s.protocol, s.holds) for s in plan[n]]


def test_mesh_and_node_specific_peer_both_exist_mesh_holds_in_both_families():
    rs = rs_of(*THREE, peer("a-b", nodeSelector="x == '1'", peerSelector="x == '2'"))
    for version in (OLD, NEW):
        plan = plan_peering(rs, version)
        assert ("Mesh_10_0_0_11", True) in rows(plan, "a") and ("Node_10_0_0_11", False) in rows(plan, "a")
        assert ("Mesh_10_0_0_10", True) in rows(plan, "b") and ("Node_10_0_0_10", False) in rows(plan, "b")  # reverse
        assert rows(plan, "c") == [("Mesh_10_0_0_10", True), ("Mesh_10_0_0_11", True)]


def test_mesh_and_global_peer_the_winner_depends_on_the_version():
    rs = rs_of(*THREE, peer("to-b", peerIP="10.0.0.11", asNumber=64512))
    old, new = plan_peering(rs, OLD), plan_peering(rs, NEW)
    # v3.23 template: mesh section first; v3.32: sorted by name, Global_ < Mesh_.
    assert rows(old, "a") == [("Mesh_10_0_0_11", True), ("Mesh_10_0_0_12", True), ("Global_10_0_0_11", False)]
    assert rows(new, "a") == [("Global_10_0_0_11", True), ("Mesh_10_0_0_11", False), ("Mesh_10_0_0_12", True)]
    # b owns the peerIP: the reverse pass gives it Node_ sessions to everyone, which the mesh shadows.
    assert ("Node_10_0_0_10", False) in rows(old, "b") and ("Node_10_0_0_10", False) in rows(new, "b")
    assert sessions_by_key(new)[("a", "Global_10_0_0_11")].peer_type == GLOBAL
    assert sessions_by_key(new)[("a", "Mesh_10_0_0_11")].peer_type == MESH


def test_mesh_is_ordered_by_node_name_in_the_template_era_and_by_protocol_name_later():
    rs = rs_of(node("z", "10.0.0.2"), node("m", "10.0.0.30"), node("a", "10.0.0.100"))
    assert [s.peer_address for s in plan_peering(rs, OLD)["m"]] == ["10.0.0.100", "10.0.0.2"]  # a, z
    assert [s.protocol for s in plan_peering(rs, NEW)["m"]] == ["Mesh_10_0_0_100", "Mesh_10_0_0_2"]


def test_peer_ip_between_reflectors_of_one_cluster_is_rr_client_selector_is_not():
    rr = {"routeReflectorClusterID": "224.0.0.1"}
    rs = rs_of(MESH_OFF, node("r1", "10.0.0.1", {"rr": "y"}, **rr), node("r2", "10.0.0.2", {"rr": "y"}, **rr),
               peer("r1-r2", node="r1", peerIP="10.0.0.2", asNumber=64512, reversePeering="Manual"))
    plan = plan_peering(rs, NEW)
    (s,) = plan["r1"]
    assert s.protocol == "Node_10_0_0_2" and s.rr_client and s.rr_cluster_id == "224.0.0.1"
    rs = rs_of(MESH_OFF, node("r1", "10.0.0.1", {"rr": "y"}, **rr), node("r2", "10.0.0.2", {"rr": "y"}, **rr),
               peer("rr-mesh", nodeSelector="has(rr)", peerSelector="has(rr)"))
    assert not plan_peering(rs)["r1"][0].rr_client


def test_global_from_peer_selector_never_passive_global_peer_ip_node_is():
    rs = rs_of(MESH_OFF, *THREE, peer("all-to-x2", peerSelector="x == '2'"))
    plan = plan_peering(rs)
    assert [(s.protocol, s.passive) for s in plan["a"]] == [("Global_10_0_0_11", False)]
    rs = rs_of(MESH_OFF, *THREE, peer("to-b", peerIP="10.0.0.11", asNumber=64512))
    assert [(s.protocol, s.passive) for s in plan_peering(rs)["a"]] == [("Global_10_0_0_11", True)]


def test_peer_without_peer_ip_or_selector_and_node_without_address():
    rs = rs_of(*THREE, node("d", None), peer("nothing", nodeSelector="all()"))
    plan = plan_peering(rs)
    assert plan["d"] == () and all(s.peer_type == MESH for v in plan.values() for s in v)
    assert "10.0.0.10" in {s.peer_address for s in plan["b"]} and not any(s.peer_node == "d" for s in plan["a"])


def test_listen_port_names_the_protocol():
    conf = "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: node.b}\nspec: {listenPort: 1790}"
    rs = rs_of(MESH_OFF, *THREE, conf, peer("to-b", nodeSelector="x == '1'", peerSelector="x == '2'",
                                               reversePeering="Manual"))
    (s,) = plan_peering(rs)["a"]
    assert s.protocol == "Node_10_0_0_11_port_1790" and s.port == 1790 and s.peer_type == NODE_SPECIFIC


@st.composite
def clusters(draw):
    n = draw(st.integers(2, 7))
    rr = draw(st.sets(st.integers(0, n - 1), max_size=2))
    docs = [node(f"n{i}", f"10.0.0.{10 + i}", {"rr": "y"} if i in rr else {"rack": str(i % 2)},
                 **({"routeReflectorClusterID": "224.0.0.1"} if i in rr else {})) for i in range(n)]
    if not draw(st.booleans()):
        docs.append(MESH_OFF)
    if rr:
        docs += [peer("to-rr", nodeSelector="!has(rr)", peerSelector="has(rr)"),
                 peer("rr-mesh", nodeSelector="has(rr)", peerSelector="has(rr)")]
    if draw(st.booleans()):
        docs.append(peer("rack0", nodeSelector="rack == '0'", peerSelector="rack == '1'"))
    return rs_of(*docs), draw(st.sampled_from([OLD, NEW]))


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_every_holding_session_has_a_holding_reverse_and_keys_are_unique(case):
    rs, version = case
    plan = plan_peering(rs, version)
    ips = {n.name: n.ip for n in rs.nodes}
    holding = {(s.node, s.peer_address) for v in plan.values() for s in v if s.holds}
    for n, ip in ips.items():
        assert len({s.protocol for s in plan[n]}) == len(plan[n])  # (node, protocol) is a key
        assert sum(1 for s in plan[n] if s.holds) == len({s.peer_address for s in plan[n]})
    for node_name, address in holding:
        other = next(n for n, ip in ips.items() if ip == address)
        assert (other, ips[node_name]) in holding, f"{node_name} -> {other} has no reverse"
