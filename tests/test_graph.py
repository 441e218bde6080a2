"""lab.graph: the DOT of every shipped topology (golden), what it draws as Graphviz reads it back,
session kinds and states, large labs collapsing, escaping, and SVG from the real `dot`.

After an intended change to the picture, regenerate and review the diff:
    FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_graph.py
"""

from __future__ import annotations

import dataclasses
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.calico.resources import parse_resources
from lab.checks.observe import ObservedSession
from lab.commands.graph import draw, plan_scene, run_dot
from lab.graph import GraphOptions, build
from lab.graph_sessions import session_lines
from lab.graph_style import DOWN
from lab.loader import TOPOLOGY_DIR, load_topology
from graph_helpers import Parsed, plan_dot, requires_dot, svg_groups, svg_of, svg_titles
from render_helpers import REFERENCE, REPO, TOPOLOGIES, UPDATE, assert_file_matches, stale_files

GOLDEN = Path(__file__).parent / "golden" / "graph"
REGENERATE = "FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_graph.py"
pytestmark = requires_dot


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_dot_of_every_topology_matches_its_golden_file(topology):
    assert_file_matches(GOLDEN / f"{topology}.dot", plan_dot(topology), REGENERATE)


def test_no_golden_picture_without_a_topology():
    assert not stale_files(GOLDEN, {f"{t}.dot" for t in TOPOLOGIES}), REGENERATE


def test_dot_is_deterministic():
    assert plan_dot(REFERENCE) == plan_dot(REFERENCE)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_real_dot_draws_every_box_and_session(topology):
    topo = load_topology(topology)
    scene = plan_scene(topo)
    picture = draw(scene)
    root = svg_of(picture.dot)
    boxes = svg_groups(root, "node")
    expected = len(topo.routers) + len(topo.racks) + len(topo.cluster.nodes) + len(scene.pods) + len(topo.hosts) + 1
    assert len(boxes) == expected  # + the legend
    assert len(svg_groups(root, "session")) == picture.sessions > 0
    assert len(svg_groups(root, "cluster")) == len(topo.racks)
    assert set(svg_titles(root, "k8s-node")) == {f"node_{n.name}" for n in topo.cluster.nodes}
    assert len(svg_groups(root, "link")) == len(topo.links) + len(topo.cluster.nodes) + len(scene.pods) + len(topo.hosts)


def test_reference_lab_draws_what_the_design_describes():
    parsed = Parsed(plan_dot(REFERENCE))
    assert sorted(parsed.nodes_of("spine")) == ["router_spine0", "router_spine1"]
    assert sorted(parsed.nodes_of("leaf")) == ["router_leaf0", "router_leaf1"]
    assert parsed.clusters == ["cluster_rack0", "cluster_rack1"]
    spine0 = parsed.nodes["router_spine0"]["label"]
    assert "AS 500" in spine0 and 'PORT="eth1"' in spine0 and "10.1.10.2/24" in spine0 and "10.1.34.2/24" in spine0
    assert "AS 65008" in parsed.nodes["router_leaf1"]["label"] and "10.1.8.1/24" in parsed.nodes["router_leaf1"]["label"]
    assert "10.1.8.10 · AS 65008" in parsed.nodes["node_worker2"]["label"]
    # Links end at the interfaces they use, labelled with their subnet.
    links = {(e["tail_name"], e.get("tailport"), e["head_name"], e.get("headport")) for e in parsed.edges_of("link")}
    assert ("router_spine0", "eth1:s", "router_leaf0", "eth1:n") in links
    assert ("router_spine1", "eth2:s", "router_leaf1", "eth2:n") in links
    assert ("router_leaf0", "eth3:s", "bridge_br-leaf0", None) in links
    assert ("bridge_br-leaf1", None, "node_worker3", None) in links
    assert any("10.1.34.0/24" in e.get("label", "") for e in parsed.edges_of("link"))
    # Sessions: spine/leaf eBGP over each link, each node iBGP to its leaf's rack address.
    fabric = {(e["tail_name"], e["tailport"], e["head_name"], e["headport"]) for e in parsed.edges_of("fabric-ebgp")}
    assert fabric == {("router_spine0", "eth1:s", "router_leaf0", "eth1:n"), ("router_spine1", "eth1:s", "router_leaf0", "eth2:n"),
                      ("router_spine0", "eth2:s", "router_leaf1", "eth1:n"), ("router_spine1", "eth2:s", "router_leaf1", "eth2:n")}
    leaf = {(e["tail_name"], e["tailport"], e["head_name"]) for e in parsed.edges_of("leaf-ibgp")}
    assert leaf == {("router_leaf0", "eth3:s", "node_control-plane"), ("router_leaf0", "eth3:s", "node_worker"),
                    ("router_leaf1", "eth3:s", "node_worker2"), ("router_leaf1", "eth3:s", "node_worker3")}
    assert not parsed.edges_of("down")
    assert "planned BGP sessions" in parsed.nodes["legend"]["label"] or "fabric eBGP" in parsed.nodes["legend"]["label"]


def test_without_sessions_only_the_physical_lab_is_drawn():
    parsed = Parsed(plan_dot(REFERENCE, sessions=False))
    assert not parsed.edges_of("session") and "legend" not in parsed.nodes
    assert len(parsed.edges_of("link")) == 6 + 4 + 4


@pytest.mark.parametrize("topology,kinds", [
    ("calico-fullmesh", {"mesh": 6}),
    ("calico-rr-incluster", {"rr-client": 6, "node-specific": 3}),
    ("calico-rr-external", {"rr-client": 4}),
    ("calico-bgp-rr", {"fabric-ebgp": 4, "leaf-ibgp": 4}),
])
def test_sessions_are_coloured_by_kind(topology, kinds):
    parsed = Parsed(plan_dot(topology))
    seen = defaultdict(int)
    for e in parsed.edges_of("session"):
        seen[e["class"].split()[1]] += 1
    assert dict(seen) == kinds
    colours = {e["class"].split()[1]: e["color"] for e in parsed.edges_of("session")}
    assert len(set(colours.values())) == len(colours)  # one colour per kind
    for kind in kinds:
        assert colours[kind] != DOWN


def _all_established(topo, rs, **states):
    """What observe_all would report on a healthy lab; states maps a target to its daemon's fate."""
    observed = defaultdict(list)
    for line in session_lines(topo, rs):
        for near, far in ((line.a, line.b), (line.b, line.a)):
            if not near.outside:
                observed[near.speaker].append(ObservedSession(far.address, states.get(near.speaker, "Established")))
    for target in states:
        if states[target] == "silent":
            observed[target] = [ObservedSession("?", "no answer: birdc: connection refused")]
    return dict(observed)


def test_a_stopped_bird_draws_its_sessions_dashed_red_with_each_ends_state():
    topo = load_topology(REFERENCE)
    scene = plan_scene(topo)
    observed = _all_established(topo, scene.rs, worker2="silent")
    observed["leaf1"] = [o if o.peer != "10.1.8.10" else ObservedSession(o.peer, "Active") for o in observed["leaf1"]]
    picture = build(topo, scene.rs, pods=scene.pods, observed=observed)
    parsed = Parsed(picture.dot)
    (down,) = parsed.touching("node_worker2")
    assert "down" in down["class"] and down["style"] == "dashed" and down["color"] == DOWN
    assert "leaf1: Active" in down["label"] and "worker2: no answer" in down["label"]
    others = [e for e in parsed.edges_of("session") if e is not down]
    assert len(others) == 7 and not any("down" in e["class"] or e.get("style") for e in others)
    assert "silent" in parsed.nodes["node_worker2"]["class"] and "BIRD not answering" in parsed.nodes["node_worker2"]["label"]
    assert picture.down == 1 and "not Established" in parsed.nodes["legend"]["label"]


def test_an_unplanned_session_and_a_peer_outside_the_lab_are_drawn():
    topo = load_topology(REFERENCE)
    scene = plan_scene(topo)
    observed = _all_established(topo, scene.rs)
    observed["leaf0"].append(ObservedSession("10.1.5.99", "Active", "stray"))
    parsed = Parsed(build(topo, scene.rs, observed=observed).dot)
    (stray,) = parsed.edges_of("unplanned")
    assert {stray["tail_name"], stray["head_name"]} == {"router_leaf0", "outside_10.1.5.99"}
    assert "leaf0: Active" in stray["label"] and "outside" in parsed.nodes["outside_10.1.5.99"]["class"]


def test_a_session_only_one_end_configures_is_marked():
    topo = load_topology(REFERENCE)
    scene = plan_scene(topo)
    extra = parse_resources(yaml.safe_dump({"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer",
                                            "metadata": {"name": "to-spine0"},
                                            "spec": {"node": "calico-bgp-rr-worker", "peerIP": "10.1.10.2", "asNumber": 500}}),
                            "extra.yaml")
    parsed = Parsed(build(topo, scene.rs.merged(extra)).dot)
    (one,) = parsed.edges_of("one-sided")
    assert {one["tail_name"], one["head_name"]} == {"router_spine0:eth1:s", "node_worker"} or \
        {one["tail_name"], one["head_name"]} == {"router_spine0", "node_worker"}
    assert "not configured on spine0" in one["label"] and one["style"] == "dotted"


def _big(tmp_path, per_rack: int, peering: str = "rack-leaf", reflectors: int = 0):
    doc = yaml.safe_load((TOPOLOGY_DIR / f"{REFERENCE}.yaml").read_text())
    nodes = {"control-plane": {"role": "control-plane", "rack": "rack0", "ip": "10.1.5.10"}}
    for i in range(1, 2 * per_rack):
        rack = i % 2
        name = "worker" if i == 1 else f"worker{i}"
        nodes[name] = {"rack": f"rack{rack}", "ip": f"10.1.{5 if rack == 0 else 8}.{10 + i // 2 + (1 - rack)}"}
    doc["cluster"]["nodes"] = nodes
    doc["calico"]["peering"] = peering
    if reflectors:
        doc["calico"]["route_reflectors"] = {"nodes": list(nodes)[:reflectors]}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_topology(path)


def test_a_large_lab_collapses_racks_and_aggregates_sessions(tmp_path):
    topo = _big(tmp_path, 100)
    scene = plan_scene(topo)
    started = time.monotonic()
    picture = build(topo, scene.rs, pods=scene.pods)
    root = svg_of(picture.dot)
    assert time.monotonic() - started < 10
    assert picture.collapsed_racks == ("rack0", "rack1") and picture.sessions == 204
    parsed = Parsed(picture.dot)
    assert not parsed.nodes_of("k8s-node") and len(parsed.nodes_of("rack-summary")) == 2
    assert "100 nodes" in parsed.nodes["rack_rack0_nodes"]["label"]
    groups = parsed.edges_of("leaf-ibgp")
    assert len(groups) == 2 and all("×100" in e["label"] for e in groups)
    assert len(svg_groups(root, "node")) < 15  # readable: a dozen boxes, not 200
    observed = _all_established(topo, scene.rs, worker3="silent", worker5="silent", worker7="silent")
    parsed = Parsed(build(topo, scene.rs, observed=observed).dot)
    (rack1,) = [e for e in parsed.edges_of("leaf-ibgp") if "down" in e["class"]]
    assert "97/100 Established" in rack1["label"] and "no answer ×3" in rack1["label"]
    assert "BIRD not answering on 3" in parsed.nodes["rack_rack1_nodes"]["label"]


def test_reflectors_stay_visible_when_their_rack_collapses(tmp_path):
    topo = _big(tmp_path, 16, peering="route-reflectors", reflectors=2)
    parsed = Parsed(plan_dot(topo))
    assert sorted(parsed.nodes_of("k8s-node")) == ["node_control-plane", "node_worker"]
    clients = [e for e in parsed.edges_of("rr-client") if "group" in e["class"]]
    # 32 nodes, 16 per rack, one reflector in each: each reflects to the 15 clients of either rack.
    assert sorted(e["label"].split("×")[1].split("<")[0] for e in clients) == ["15", "15", "15", "15"]
    (between,) = parsed.edges_of("node-specific")
    assert {between["tail_name"], between["head_name"]} == {"node_control-plane", "node_worker"}
    assert all(any(r in (e["tail_name"], e["head_name"]) for r in ("node_control-plane", "node_worker")) for e in clients)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40))
def test_any_description_is_escaped(description):
    topo = dataclasses.replace(load_topology("calico-fullmesh"), description=description)
    scene = plan_scene(topo)
    root = svg_of(build(topo, scene.rs, pods=scene.pods, options=GraphOptions(sessions=False)).dot)
    assert root.tag.endswith("svg")


def test_markup_in_a_description_stays_text():
    topo = dataclasses.replace(load_topology("calico-fullmesh"), description='<b>&"x\'</b> & <TABLE>')
    root = svg_of(build(topo, plan_scene(topo).rs).dot)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert '<b>&"x\'</b> & <TABLE>' in texts


# -- the committed reference picture (README) ------------------------------------------------

DOCS = REPO / "docs"


def test_committed_reference_picture_is_what_lab_graph_draws():
    """docs/calico-bgp-rr.dot is compared as text; the SVG next to it must be drawn from that DOT
    (its boxes and lines; its geometry depends on the Graphviz version)."""
    dot_text = plan_dot(REFERENCE)
    svg_path = DOCS / f"{REFERENCE}.svg"
    if UPDATE:
        svg_path.parent.mkdir(exist_ok=True)
        svg_path.write_bytes(run_dot(dot_text, "svg"))
    assert_file_matches(DOCS / f"{REFERENCE}.dot", dot_text, REGENERATE)
    committed = ET.parse(svg_path).getroot()
    fresh = svg_of(dot_text)
    for cls in ("node", "edge", "cluster"):
        assert sorted(svg_titles(committed, cls)) == sorted(svg_titles(fresh, cls)), \
            f"{svg_path} was not drawn from {DOCS / (REFERENCE + '.dot')}: {REGENERATE}"
    assert f"docs/{REFERENCE}.svg" in (REPO / "README.md").read_text()
