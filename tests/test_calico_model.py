"""The Calico model: selectors, resources, peering plan, IPAM, BIRD configs (checked by real BIRD)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from lab.calico.bird import BgpTimers, render_bird, render_rr_host_bird
from lab.calico.ipam import plan_ipam
from lab.calico.peering import GLOBAL, MESH, NODE_SPECIFIC, node_as, plan_as_json, plan_peering
from lab.calico.resources import load_resources, parse_resources
from lab.calico.selector import And, Has, Not, Or, parse_selector
from lab.calico.status import format_status_table, parse_birdc_protocols, status_rows_from_plan
from lab.errors import LabError, ResourceError, SelectorError

# -- selectors -----------------------------------------------------------------------------

LABELS = {"rack": "rack0", "route-reflector": "true", "zone": "eu-west-1a"}
SELECTORS = [
    ("all()", True), ("", True), ("has(rack)", True), ("!has(rack)", False), ("has(missing)", False),
    ("rack == 'rack0'", True), ('rack == "rack1"', False), ("rack != 'rack1'", True), ("missing != 'x'", True),
    ("rack in {'rack0', 'rack1'}", True), ("rack not in {'rack0'}", False), ("missing not in {'a'}", True),
    ("zone contains 'west'", True), ("zone starts with 'eu-'", True), ("zone ends with '1b'", False),
    ("has(rack) && route-reflector == 'true'", True), ("has(missing) || rack == 'rack0'", True),
    ("!(has(rack) && rack == 'rack1')", True), ("(has(a) || has(rack)) && !has(b)", True),
    ("rack == 'rack0' && (zone == 'x' || zone == 'eu-west-1a')", True),
]


@pytest.mark.parametrize("text,expected", SELECTORS)
def test_selector_matches(text, expected):
    selector = parse_selector(text)
    assert selector.matches(LABELS) is expected
    assert parse_selector(str(selector)) == selector


@pytest.mark.parametrize("text,column,problem", [
    ("rack = 'x'", 6, "expected an operator"), ("has(rack", 9, "expected ')'"), ("rack == x", 9, "quoted string"),
    ("rack == 'x' &&", 15, "expected a label name"), ("rack in {'a'", 13, "expected '}'"),
    ("rack == 'x' junk", 13, "unexpected 'junk'"), ("rack == 'x", 9, "unterminated string"),
])
def test_selector_syntax_errors_point_at_the_column(text, column, problem):
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert info.value.column == column and problem in info.value.problem
    assert str(info.value).splitlines()[-1] == "  " + " " * (column - 1) + "^"


keys = st.sampled_from(["a", "b", "rack", "x.y/z"])
values = st.sampled_from(["1", "2", "rack0"])
atoms = st.one_of(
    keys.map(lambda k: f"has({k})"),
    st.builds(lambda k, v: f"{k} == '{v}'", keys, values),
    st.builds(lambda k, v: f"{k} != '{v}'", keys, values),
    st.builds(lambda k, v: f"{k} in {{'{v}', '9'}}", keys, values),
    st.just("all()"),
)
exprs = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda a, b: f"({a}) && ({b})", inner, inner),
    st.builds(lambda a, b: f"({a}) || ({b})", inner, inner),
    inner.map(lambda a: f"!({a})")), max_leaves=8)
label_sets = st.dictionaries(keys, values, max_size=4)


@settings(max_examples=200, deadline=None)
@given(exprs, label_sets)
def test_selector_round_trip_keeps_meaning(text, labels):
    selector = parse_selector(text)
    again = parse_selector(str(selector))
    assert again == selector and again.matches(labels) == selector.matches(labels)


@settings(max_examples=200, deadline=None)
@given(exprs, exprs, label_sets)
def test_de_morgan(a, b, labels):
    left = parse_selector(f"!(({a}) && ({b}))")
    right = parse_selector(f"!({a}) || !({b})")
    assert left.matches(labels) == right.matches(labels)
    assert parse_selector(f"!!({a})").matches(labels) == parse_selector(a).matches(labels)
    assert isinstance(left, Not) and isinstance(right, Or)


# -- resources -----------------------------------------------------------------------------

def nodes_yaml(*specs: tuple[str, str, dict, dict]) -> str:
    docs = []
    for name, ip, labels, extra in specs:
        bgp = {"ipv4Address": f"{ip}/24", **extra}
        label_text = "".join(f"\n    {k}: '{v}'" for k, v in labels.items())
        bgp_text = "".join(f"\n    {k}: {v}" for k, v in bgp.items())
        docs.append(f"apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: {name}\n  labels:{label_text or ' {}'}\n"
                    f"spec:\n  bgp:{bgp_text}")
    return "\n---\n".join(docs)


def resources(*parts: str):
    return parse_resources("\n---\n".join(textwrap.dedent(p).strip() for p in parts), "test.yaml")


MESH_OFF = """
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false}
"""
POOL = """
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool}
spec: {cidr: 10.244.0.0/16, blockSize: 26}
"""


def peer(name: str, **spec) -> str:
    body = ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in spec.items())
    return f"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {{name: {name}}}\nspec: {{{body}}}"


def four_nodes(rr: tuple[str, ...] = (), cluster_id: str = "224.0.0.1") -> str:
    specs = []
    for i, name in enumerate(["n0", "n1", "n2", "n3"]):
        labels = {"route-reflector": "true"} if name in rr else {}
        extra = {"routeReflectorClusterID": cluster_id} if name in rr else {}
        specs.append((name, f"10.0.0.{10 + i}", labels, extra))
    return nodes_yaml(*specs)


def sessions(plan, node):
    return [(s.peer_address, s.peer_type, s.rr_client) for s in plan[node]]


def test_default_mesh_of_four():
    plan = plan_peering(resources(four_nodes(), POOL))
    assert sum(len(v) for v in plan.values()) == 12  # 6 sessions, seen from both ends
    assert sessions(plan, "n0") == [("10.0.0.11", MESH, False), ("10.0.0.12", MESH, False), ("10.0.0.13", MESH, False)]
    # The node whose address string sorts lower waits for the other one.
    assert [s.passive for s in plan["n0"]] == [True, True, True]
    assert [s.passive for s in plan["n3"]] == [False, False, False]
    assert plan["n1"][0].protocol == "Mesh_10_0_0_10" and plan["n1"][0].peer_as == 64512


def test_mesh_passive_side_is_string_order():
    rs = resources(nodes_yaml(("a", "10.0.0.9", {}, {}), ("b", "10.0.0.10", {}, {})))
    plan = plan_peering(rs)
    # "10.0.0.10" < "10.0.0.9" as strings: b is the passive one.
    assert plan["b"][0].passive and not plan["a"][0].passive


def test_mesh_off_one_rr_via_all_selector():
    rs = resources(MESH_OFF, four_nodes(rr=("n0",)),
                   peer("to-rr", nodeSelector="all()", peerSelector="route-reflector == 'true'"))
    plan = plan_peering(rs)
    assert sessions(plan, "n1") == [("10.0.0.10", NODE_SPECIFIC, False)]
    assert sessions(plan, "n0") == [(f"10.0.0.1{i}", NODE_SPECIFIC, True) for i in (1, 2, 3)]
    assert plan["n0"][0].rr_cluster_id == "224.0.0.1" and "reverse" in plan["n0"][0].source


def test_second_rr_same_cluster_id_is_plain_ibgp():
    rs = resources(MESH_OFF, four_nodes(rr=("n0", "n1")),
                   peer("to-rr", nodeSelector="all()", peerSelector="route-reflector == 'true'"))
    plan = plan_peering(rs)
    assert sessions(plan, "n0") == [("10.0.0.11", NODE_SPECIFIC, False), ("10.0.0.12", NODE_SPECIFIC, True),
                                    ("10.0.0.13", NODE_SPECIFIC, True)]
    assert sessions(plan, "n2") == [("10.0.0.10", NODE_SPECIFIC, False), ("10.0.0.11", NODE_SPECIFIC, False)]


def test_rr_with_different_cluster_ids_reflect_to_each_other():
    rs = resources(MESH_OFF, nodes_yaml(("r1", "10.0.0.1", {"rr": "y"}, {"routeReflectorClusterID": "1.1.1.1"}),
                                        ("r2", "10.0.0.2", {"rr": "y"}, {"routeReflectorClusterID": "2.2.2.2"})),
                   peer("rr-mesh", nodeSelector="has(rr)", peerSelector="has(rr)"))
    plan = plan_peering(rs)
    assert sessions(plan, "r1") == [("10.0.0.2", NODE_SPECIFIC, True)]


def test_three_rrs_of_five_with_peer_to_rrs_and_rr_mesh():
    specs = [(f"n{i}", f"10.3.0.1{i}", {"route-reflector": "true"} if i < 3 else {},
              {"routeReflectorClusterID": "224.0.0.1"} if i < 3 else {}) for i in range(5)]
    rs = resources(MESH_OFF, nodes_yaml(*specs),
                   peer("peer-to-rrs", nodeSelector="!has(route-reflector)", peerSelector="has(route-reflector)"),
                   peer("rr-mesh", nodeSelector="has(route-reflector)", peerSelector="has(route-reflector)"))
    plan = plan_peering(rs)
    assert sessions(plan, "n3") == [(f"10.3.0.1{i}", NODE_SPECIFIC, False) for i in range(3)]
    assert sessions(plan, "n0") == [("10.3.0.11", NODE_SPECIFIC, False), ("10.3.0.12", NODE_SPECIFIC, False),
                                    ("10.3.0.13", NODE_SPECIFIC, True), ("10.3.0.14", NODE_SPECIFIC, True)]
    assert sum(len(v) for v in plan.values()) == 2 * (3 + 3 * 2)  # 3 rr-rr pairs + 6 client sessions
    assert not any(s.passive for v in plan.values() for s in v)


def test_reference_lab_per_rack_peers():
    rs = resources(MESH_OFF, nodes_yaml(
        ("cp", "10.1.5.10", {"rack": "rack0"}, {"asNumber": 65005}), ("w", "10.1.5.11", {"rack": "rack0"}, {"asNumber": 65005}),
        ("w2", "10.1.8.10", {"rack": "rack1"}, {"asNumber": 65008}), ("w3", "10.1.8.11", {"rack": "rack1"}, {"asNumber": 65008})),
        peer("rack0-to-leaf0", peerIP="10.1.5.1", asNumber=65005, nodeSelector="rack == 'rack0'"),
        peer("rack1-to-leaf1", peerIP="10.1.8.1", asNumber=65008, nodeSelector="rack == 'rack1'"))
    plan = plan_peering(rs)
    assert {n: sessions(plan, n) for n in plan} == {
        "cp": [("10.1.5.1", NODE_SPECIFIC, False)], "w": [("10.1.5.1", NODE_SPECIFIC, False)],
        "w2": [("10.1.8.1", NODE_SPECIFIC, False)], "w3": [("10.1.8.1", NODE_SPECIFIC, False)]}
    assert plan["w3"][0].peer_as == 65008 and plan["w3"][0].local_as == 65008 and plan["w3"][0].protocol == "Node_10_1_8_1"
    assert plan_as_json(plan)["nodes"]["cp"] == [
        {"protocol": "Node_10_1_5_1", "peer_address": "10.1.5.1", "peer_type": "node specific", "peer_as": 65005,
         "rr_client": False, "holds": True}]


def test_rack_specific_rr():
    rs = resources(MESH_OFF, nodes_yaml(
        ("a", "10.0.1.10", {"rack": "rack001", "rack001-rr": "true"}, {"routeReflectorClusterID": "10.0.1.10"}),
        ("b", "10.0.1.11", {"rack": "rack001"}, {}), ("c", "10.0.2.10", {"rack": "rack002"}, {})),
        peer("rack001", nodeSelector="rack == 'rack001'", peerSelector="rack001-rr == 'true'"))
    plan = plan_peering(rs)
    assert sessions(plan, "b") == [("10.0.1.10", NODE_SPECIFIC, False)]
    assert sessions(plan, "a") == [("10.0.1.11", NODE_SPECIFIC, True)]
    assert plan["c"] == ()


def test_global_peer_with_its_own_as_and_mesh():
    rs = resources(four_nodes(), peer("upstream", peerIP="192.0.2.1", asNumber=65100))
    plan = plan_peering(rs)
    assert sessions(plan, "n2")[-1] == ("192.0.2.1", GLOBAL, False)
    assert plan["n2"][-1].peer_as == 65100 and plan["n2"][-1].protocol == "Global_192_0_2_1"
    assert [s.peer_type for s in plan["n2"]] == [MESH, MESH, MESH, GLOBAL]


def test_global_peer_to_a_calico_node_and_duplicates_collapse():
    rs = resources(MESH_OFF, four_nodes(), peer("to-n0", peerIP="10.0.0.10", asNumber=64512),
                   peer("also-n0", nodeSelector="all()", peerIP="10.0.0.10", asNumber=64512))
    plan = plan_peering(rs)
    # n1 has a global and a node-specific session to 10.0.0.10: the global one wins.
    assert sessions(plan, "n1") == [("10.0.0.10", GLOBAL, False)]
    assert plan["n1"][0].passive is False  # "10.0.0.10" < "10.0.0.11": n1 connects
    assert not any(s.peer_address == "10.0.0.10" for s in plan["n0"] if s.peer_type == GLOBAL)  # never itself
    # n0 owns the peerIP: it configures the reverse sessions towards everyone.
    assert sessions(plan, "n0") == [(f"10.0.0.1{i}", NODE_SPECIFIC, False) for i in (1, 2, 3)]


def test_reverse_peering_manual_and_node_field():
    rs = resources(MESH_OFF, four_nodes(rr=("n0",)),
                   peer("only-n1", node="n1", peerSelector="has(route-reflector)", reversePeering="Manual"))
    plan = plan_peering(rs)
    assert sessions(plan, "n1") == [("10.0.0.10", NODE_SPECIFIC, False)]
    assert plan["n0"] == () and plan["n2"] == ()


def test_as_resolution():
    rs = resources("apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {asNumber: 65333}",
                   nodes_yaml(("a", "10.0.0.1", {}, {"asNumber": 65001}), ("b", "10.0.0.2", {}, {})))
    assert node_as(rs, "a") == 65001 and node_as(rs, "b") == 65333
    assert node_as(resources(nodes_yaml(("c", "10.0.0.3", {}, {}))), "c") == 64512


# -- resources parsing ---------------------------------------------------------------------

def test_list_kinds_crd_form_and_apply_order(tmp_path):
    (tmp_path / "a.yaml").write_text(textwrap.dedent("""
        apiVersion: projectcalico.org/v3
        kind: BGPPeerList
        items:
        - apiVersion: projectcalico.org/v3
          kind: BGPPeer
          metadata: {name: p}
          spec: {peerIP: 10.0.0.1, asNumber: 65001}
        """))
    (tmp_path / "b.yaml").write_text(textwrap.dedent("""
        apiVersion: crd.projectcalico.org/v1
        kind: BGPPeer
        metadata: {name: p}
        spec: {peerIP: 10.0.0.2, asNumber: 65002}
        """))
    rs = load_resources([tmp_path])
    assert [(p.name, p.peer_ip, p.as_number) for p in rs.bgp_peers] == [("p", "10.0.0.2", 65002)]


@pytest.mark.parametrize("text,field,problem", [
    ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: x}", "kind", "unsupported kind 'NetworkPolicy'"),
    ("apiVersion: v1\nkind: Node\nmetadata: {name: x}", "apiVersion", "not a Calico API version"),
    ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {}\nspec: {}", "metadata.name", "required"),
    ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, asNumber: 0}",
     "spec.asNumber", "out of range"),
    ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerSelector: \"has(x\"}",
     "spec.peerSelector", "bad selector at column 6"),
    ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.300, asNumber: 1}",
     "spec.peerIP", "not a valid IP address"),
    ("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, blockSize: 8}",
     "spec.blockSize", "between the pool's prefix length and 32"),
])
def test_resource_errors_name_file_document_field(text, field, problem):
    with pytest.raises(ResourceError) as info:
        parse_resources("---\n" + text, "calico/x.yaml")
    assert info.value.file == "calico/x.yaml" and field in info.value.field and problem in info.value.problem
    assert "document 1" in info.value.field


# -- IPAM ----------------------------------------------------------------------------------

def test_ipam_blocks_are_deterministic_and_honour_pools():
    rs = resources(four_nodes(), textwrap.dedent("""
        apiVersion: projectcalico.org/v3
        kind: IPPool
        metadata: {name: old}
        spec: {cidr: 10.244.0.0/16, disabled: true}
        ---
        apiVersion: projectcalico.org/v3
        kind: IPPool
        metadata: {name: new}
        spec: {cidr: 10.248.0.0/24, blockSize: 28, disableBGPExport: true}
        """))
    ipam = plan_ipam(rs)
    assert [b.cidr for n in ("n0", "n1", "n2", "n3") for b in ipam.blocks[n]] == [
        "10.248.0.0/28", "10.248.0.16/28", "10.248.0.32/28", "10.248.0.48/28"]
    assert not any(b.export for blocks in ipam.blocks.values() for b in blocks)
    assert ipam.pod_ips("n1", 2) == ("10.248.0.17", "10.248.0.18")
    with pytest.raises(LabError, match="room for 14 pods"):
        ipam.pod_ips("n1", 15)
    tiny = resources(four_nodes(), "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: t}\nspec: {cidr: 10.9.0.0/25}")
    with pytest.raises(LabError, match="no free /26 block for node n2"):
        plan_ipam(tiny)


# -- BIRD configs --------------------------------------------------------------------------

CASES = {
    "mesh": lambda: resources(four_nodes(), POOL),
    "one-rr": lambda: resources(MESH_OFF, POOL, four_nodes(rr=("n0",)),
                                peer("to-rr", nodeSelector="all()", peerSelector="route-reflector == 'true'")),
    "global-and-services": lambda: resources(
        "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\n"
        "spec: {serviceClusterIPs: [{cidr: 10.96.0.0/16}], serviceExternalIPs: [{cidr: 192.0.2.0/24}]}",
        POOL, four_nodes(), peer("upstream", peerIP="192.0.2.1", asNumber=65100)),
}


def test_bird_config_content():
    rs = CASES["one-rr"]()
    rr = render_bird(rs, "n0")
    assert "router id 10.0.0.10;" in rr and "source address 10.0.0.10;" in rr and "local as 64512;" in rr
    assert "protocol bgp Node_10_0_0_11 from bgp_template {" in rr and "rr cluster id 224.0.0.1;" in rr
    assert 'interface -"cali*", -"kube-ipvs*", "*";' in rr and "krt_tunnel" not in rr
    (block,) = plan_ipam(rs).blocks["n0"]
    assert f"route {block.cidr} blackhole;" in rr and f"if ( net = {block.cidr} ) then {{ accept; }}" in rr
    assert "if ( net ~ 10.244.0.0/16 ) then {" in rr and "hold time" not in rr and "keepalive" not in rr
    svc = render_bird(CASES["global-and-services"](), "n1", lab_timers=BgpTimers(hold=3, keepalive=1))
    assert "route 10.96.0.0/16 blackhole;" in svc and "if ( net ~ 192.0.2.0/24 ) then { accept; }" in svc
    assert "hold time 3;" in svc and "protocol bgp Global_192_0_2_1 from bgp_template" in svc
    # Service ranges: advertised (static + export) but rejected for the kernel: no blackhole there.
    kernel = svc[svc.index("filter calico_kernel_programming"):]
    assert kernel.index("if ( net ~ 10.96.0.0/16 ) then { reject; }") < kernel.index("accept;")
    host = render_rr_host_bird("rr1", "10.4.0.50", 64512, "1.0.0.1", [("10.4.0.10", 64512)])
    assert "rr cluster id 1.0.0.1;" in host and "protocol bgp Client_10_4_0_10" in host


# -- status tables -------------------------------------------------------------------------

BIRDC = """BIRD 1.6.8 ready.
name     proto    table    state  since       info
static1  Static   master   up     11:33:27
Mesh_10_0_0_11 BGP      master   up     11:33:28    Established
Global_192_0_2_1 BGP      master   start  11:33:27    Active        Socket: Connection refused
Node_10_1_5_1 BGP      master   start  11:33:27    Connect
"""


def test_status_rows_from_birdc_and_table():
    rows = parse_birdc_protocols(BIRDC)
    assert [(r.peer_address, r.peer_type, r.state, r.info) for r in rows] == [
        ("10.0.0.11", "node-to-node mesh", "up", "Established"),
        ("192.0.2.1", "global", "start", "Active Socket: Connection refused"),
        ("10.1.5.1", "node specific", "start", "Connect")]
    table = format_status_table(rows)
    lines = table.splitlines()
    assert lines[0] == "IPv4 BGP status" and lines[2].startswith("| PEER ADDRESS |")
    assert "| 10.0.0.11    | node-to-node mesh | up    | 11:33:28 | Established" in table
    planned = status_rows_from_plan(plan_peering(resources(four_nodes()))["n0"])
    assert all(r.state == "up" and r.since == "-" and r.info == "Established" for r in planned)
