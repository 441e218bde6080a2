"""The connectivity check's pairs (lab/checks/sampling.py): all in a small lab, a covering sample in a big one."""

from __future__ import annotations

from collections import namedtuple

from hypothesis import given, settings, strategies as st

from lab.checks.sampling import FULL_LIMIT, all_pairs, choose_pairs

Pod = namedtuple("Pod", "name node ip")


def _lab(racks: int, nodes_per_rack: int, pods_per_node: int = 1, rr: tuple[str, ...] = ()):
    nodes = [f"n{r}-{i}" for r in range(racks) for i in range(nodes_per_rack)]
    rack_of = {n: f"rack{n.split('-')[0][1:]}" for n in nodes}
    pods = [Pod(f"{n}-pod{k}", n, f"10.{j}.{k}.1") for j, n in enumerate(nodes) for k in range(pods_per_node)]
    sessions = {n: (len(nodes) if n in rr else 2) for n in nodes}
    return pods, nodes, rack_of, sessions


def test_a_small_lab_pings_every_pair():
    pods, nodes, rack_of, sessions = _lab(2, 2)  # the reference lab's shape
    pairs, coverage = choose_pairs(pods, nodes, rack_of, sessions)
    assert len(pairs) == 4 * 3 + 4 * 4 == coverage.pairs == coverage.all_pairs
    assert not coverage.sampled and coverage.describe() == "all 28 pairs"
    assert pairs == all_pairs(pods, nodes)


def test_full_forces_every_pair_in_a_big_lab():
    pods, nodes, rack_of, sessions = _lab(2, 30)
    pairs, coverage = choose_pairs(pods, nodes, rack_of, sessions, full=True)
    assert len(pairs) == 60 * 59 + 60 * 60 and not coverage.sampled


def test_a_flat_reflector_lab_samples_through_the_reflectors():
    pods, nodes, rack_of, sessions = _lab(1, 1000, rr=("n0-5", "n0-7"))
    pairs, coverage = choose_pairs(pods, nodes, rack_of, sessions)
    assert coverage.sampled and coverage.all_pairs == 1000 * 999 + 1000 * 1000
    assert len(pairs) <= 2 * 1000 + 1
    hub_nodes = {"n0-5", "n0-7"}
    # Every pair has a reflector at one end: each hop's neighbour entry is a session peer's.
    assert all(p.dst.node in hub_nodes or p.source_node in hub_nodes for p in pairs)
    assert coverage.pods_as_source == 1000 and coverage.nodes_as_source == 1000
    assert "--full" in coverage.describe()


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 12), st.integers(1, 30), st.integers(1, 3))
def test_a_sample_covers_every_pod_node_and_rack_pair_and_stays_linear(racks, per_rack, pods_per_node):
    pods, nodes, rack_of, sessions = _lab(racks, per_rack, pods_per_node)
    pairs, coverage = choose_pairs(pods, nodes, rack_of, sessions, limit=0)  # always sample
    assert coverage.sampled
    assert all(p.source != p.dst.name for p in pairs)  # nobody pings itself
    assert len(set(pairs)) == len(pairs)
    sources = {p.source for p in pairs}
    singles = [p for p in pods if sum(1 for q in pods if rack_of[q.node] == rack_of[p.node]) == 1]
    # Every pod pings (a pod alone in its rack has nobody in its rack to ping) and every node pings.
    assert {p.name for p in pods} - sources <= {p.name for p in singles}
    assert set(nodes) <= sources
    # Every rack pair, a rack with itself included where it has two pods.
    rack_links = {frozenset((rack_of[p.source_node], rack_of[p.dst.node])) for p in pairs}
    rack_names = sorted(set(rack_of.values()))
    for i, a in enumerate(rack_names):
        for b in rack_names[i + 1:]:
            assert frozenset((a, b)) in rack_links
    assert len(pairs) <= len(pods) + len(nodes) + racks * (racks + 1) // 2


def test_the_default_limit_keeps_labs_of_about_twenty_pods_exhaustive():
    pods, nodes, rack_of, sessions = _lab(1, 20)
    assert 20 * 19 + 20 * 20 <= FULL_LIMIT
    assert not choose_pairs(pods, nodes, rack_of, sessions)[1].sampled
    pods, nodes, rack_of, sessions = _lab(1, 30)
    assert choose_pairs(pods, nodes, rack_of, sessions)[1].sampled


def test_behind_a_fabric_only_hubs_talk_within_a_rack():
    # Within a rack, node-to-node traffic needs a neighbour entry per pair (no session between
    # them behind a fabric): only the hubs' own rack pair does that, two hubs per rack.
    pods, nodes, rack_of, sessions = _lab(4, 25)
    pairs, coverage = choose_pairs(pods, nodes, rack_of, sessions)
    same_rack = [p for p in pairs if rack_of[p.dst.node] == rack_of[p.source_node]]
    assert len(same_rack) == 4 and len({p.source for p in same_rack}) == 4
    assert len([p for p in pairs if p.source in nodes]) == 100 and coverage.pods_as_source == 100
