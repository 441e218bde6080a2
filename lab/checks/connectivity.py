"""connectivity: ping every pod from every other pod and from every node (a covering sample in a
big lab, see sampling.py; `full` forces every pair); loss per pair."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .base import FAIL, PASS, SKIP, CheckResult, Context, PodInfo
from .observe import parse_ping
from .sampling import choose_pairs

NAME = "connectivity"
COUNT = 3


def _kind(topo, a_node: str, b: PodInfo) -> str:
    if a_node == b.node:
        return "same node"
    if topo.cluster.node(a_node).rack == topo.cluster.node(b.node).rack:
        return "same rack"
    return "across racks"


def run(ctx: Context) -> CheckResult:
    topo = ctx.topo
    pods = list(ctx.lab.pods())
    if len(pods) < 2:
        return CheckResult(NAME, SKIP, "two or more pods", f"{len(pods)} pods")
    chosen, coverage = choose_pairs(pods, [n.name for n in topo.cluster.nodes],
                                    {n.name: n.rack for n in topo.cluster.nodes}, _session_counts(ctx),
                                    full=getattr(ctx, "full", False))
    pairs = [(p.source, p.source_node, p.dst) for p in chosen]
    access = ctx.access
    # -i 0.05: root may ping fast; -W 1 bounds each reply wait. The first packet may wait for ARP.
    argv = ["ping", "-n", "-q", "-c", str(COUNT), "-i", "0.05", "-W", "1"]

    def ping(pair):
        source, _, dst = pair
        result = access.exec(source, argv + [dst.ip], timeout=10)
        return parse_ping(result.stdout)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ping, pairs))
    problems = []
    by_kind: dict[str, list[int]] = {}
    for (source, source_node, dst), (sent, received) in zip(pairs, answers):
        kind = "node to pod" if source == source_node else _kind(topo, source_node, dst)
        counts = by_kind.setdefault(kind, [0, 0])
        counts[0] += 1
        lost = sent - received if sent else COUNT
        if received == 0 or lost:
            counts[1] += 1
            problems.append(f"{source} -> {dst.name} ({dst.ip}) [{kind}]: {lost}/{COUNT} lost")
    summary = ", ".join(f"{kind}: {total - bad}/{total} ok" for kind, (total, bad) in sorted(by_kind.items()))
    return CheckResult(
        NAME, FAIL if problems else PASS,
        expected=f"{len(pairs)} pairs answer every ping ({COUNT} each): {coverage.describe()}",
        observed=summary + (f"; {problems[0]}" if problems else ""),
        figures={"pairs": len(pairs), "failed_pairs": len(problems), "all_pairs": coverage.all_pairs,
                 "sampled": coverage.sampled, "rack_pairs": coverage.rack_pairs}, details=problems,
    )


def _session_counts(ctx: Context) -> dict[str, int]:
    """Planned sessions per node (the sample's hubs are the best-connected nodes)."""
    from ..expect import expected_sessions

    counts: dict[str, int] = {}
    for e in expected_sessions(ctx.topo, ctx.lab.resources()):
        counts[e.target] = counts.get(e.target, 0) + 1
    return counts
