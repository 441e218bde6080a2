"""Which pairs the connectivity check pings: all of them in a small lab, a sample in a big one.

All pairs are P·(P-1) pod pairs plus N·P node-to-pod pairs: 28 in the reference lab,
~2 million at 1,000 nodes (hours of pings). Up to `FULL_LIMIT` pairs (or with `full`),
every pair is pinged. Past it, a deterministic sample that still covers every pod, every
node and every rack pair, and grows linearly with the lab (plus one pair per rack pair):

- every pod and every node pings a *hub* pod of the next rack (of its own rack in a one-rack
  lab; a hub on another node where there is one);
- for every unordered pair of racks (a rack with itself included) one hub pod pings another.

A rack's hubs are its nodes with the most planned BGP sessions (the route reflectors of an
in-cluster reflector lab; ties by name). Why: the hubs' addresses are session peers of the
other nodes (or, behind a fabric, traffic to them crosses routers), so the sample's traffic
finds permanent neighbour entries on every hop (providers/netns/neighbours.py) and adds
(next to) nothing to the host's shared dynamic ARP table.
Pure: pods, racks and session counts in, pairs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

FULL_LIMIT = 1000
HUBS_PER_RACK = 2


@dataclass(frozen=True)
class Pair:
    source: str  # a pod or node name
    source_node: str  # the node the source runs on (itself for a node)
    dst: Any  # a PodInfo (or anything with .name, .node, .ip)


@dataclass(frozen=True)
class Coverage:
    pairs: int
    all_pairs: int
    sampled: bool
    pods_as_source: int
    nodes_as_source: int
    rack_pairs: int
    all_rack_pairs: int

    def describe(self) -> str:
        if not self.sampled:
            return f"all {self.pairs} pairs"
        return (f"a sample of {self.pairs} of {self.all_pairs} pairs: every pod ({self.pods_as_source}) and node "
                f"({self.nodes_as_source}) pings a hub pod, {self.rack_pairs}/{self.all_rack_pairs} rack "
                f"pairs between hubs (--full: every pair)")


def all_pairs(pods: Sequence, nodes: Sequence[str]) -> list[Pair]:
    pairs = [Pair(a.name, a.node, b) for a in pods for b in pods if a.name != b.name]
    return pairs + [Pair(n, n, b) for n in nodes for b in pods]


def choose_pairs(pods: Sequence, nodes: Sequence[str], rack_of: Mapping[str, str],
                 sessions_of: Mapping[str, int], full: bool = False,
                 limit: int = FULL_LIMIT) -> tuple[list[Pair], Coverage]:
    """The pairs to ping and what they cover. `rack_of`: node -> rack; `sessions_of`: node ->
    number of planned sessions (hubs are the best-connected nodes of a rack)."""
    total = len(pods) * (len(pods) - 1) + len(nodes) * len(pods)
    racks = sorted({rack_of[p.node] for p in pods})
    all_rack_pairs = len(racks) * (len(racks) + 1) // 2
    if full or total <= limit:
        every = all_pairs(pods, nodes)
        return every, Coverage(len(every), total, False, len(pods), len(nodes), all_rack_pairs, all_rack_pairs)
    hubs = _hub_pods(pods, rack_of, sessions_of)
    pairs: list[Pair] = []

    def target(rack: str) -> str:
        # Within a rack, traffic between two nodes goes straight to the owner of a block, which
        # is no session peer behind a fabric (the leaf is): a dynamic neighbour entry per pair.
        # With racks, a hub of the next rack answers through the fabric (routers' entries are
        # permanent); on one segment the hubs are everybody's session peers.
        return racks[(racks.index(rack) + 1) % len(racks)] if rack in racks and len(racks) > 1 else rack

    for i, pod in enumerate(sorted(pods, key=lambda p: p.name)):
        dst = _hub_for(hubs[target(rack_of[pod.node])], pod.node, pod.name, i)
        if dst is not None:
            pairs.append(Pair(pod.name, pod.node, dst))
    for i, node in enumerate(sorted(nodes)):
        rack_hubs = hubs.get(target(rack_of[node]))
        if rack_hubs:
            pairs.append(Pair(node, node, _hub_for(rack_hubs, node, node, i) or rack_hubs[0]))
    rack_pairs = 0
    for a_index, a in enumerate(racks):
        for b in racks[a_index:]:
            src, dst = hubs[a][0], hubs[b][-1]
            if src.name == dst.name:
                if len(hubs[a]) < 2:
                    continue  # a rack with one pod has no pair within itself
                dst = hubs[a][1]
            pairs.append(Pair(src.name, src.node, dst))
            rack_pairs += 1
    pairs = list(dict.fromkeys(pairs))
    sources = {p.source for p in pairs}
    return pairs, Coverage(len(pairs), total, True, sum(1 for p in pods if p.name in sources),
                           sum(1 for n in nodes if n in sources), rack_pairs, all_rack_pairs)


def _hub_pods(pods: Sequence, rack_of: Mapping[str, str], sessions_of: Mapping[str, int]) -> dict[str, list]:
    by_rack: dict[str, list] = {}
    for pod in pods:
        by_rack.setdefault(rack_of[pod.node], []).append(pod)
    hubs = {}
    for rack, members in by_rack.items():
        rank = {n: i for i, n in enumerate(sorted({p.node for p in members},
                                                   key=lambda n: (-sessions_of.get(n, 0), n)))}
        ordered = sorted(members, key=lambda p: (rank[p.node], p.name))
        # One pod per hub node in rank order; a rack of one node gets two pods of it.
        firsts, seen = [], set()
        for p in ordered:
            if p.node not in seen:
                seen.add(p.node)
                firsts.append(p)
        chosen = firsts[:HUBS_PER_RACK]
        chosen += [p for p in ordered if p not in chosen][:HUBS_PER_RACK - len(chosen)]
        hubs[rack] = chosen
    return hubs


def _hub_for(hubs: list, node: str, name: str, i: int):
    """A hub pod not on `node` (rotating between hubs), else one that is not the source itself."""
    others = [h for h in hubs if h.node != node]
    if others:
        return others[i % len(others)]
    others = [h for h in hubs if h.name != name]
    return others[0] if others else None
