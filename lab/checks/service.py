"""service-advertisement: serviceClusterIPs makes every node advertise the Service range.

Before: nobody routes the Service range. Then the check sets
`BGPConfiguration default spec.serviceClusterIPs` through the provider (the
resource is changed and re-applied as a user would) and expects every node to
advertise it: leaves hold it with one next hop per rack node (ECMP); without a
fabric, every node learns it from the other nodes. The original configuration is
restored afterwards, whether the check passed or not.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from ..expect import Expectations
from .base import FAIL, PASS, SKIP, CheckResult, Context, poll
from .observe import bgp_next_hops, observe_routes, route_to

NAME = "service-advertisement"


def _viewers(ctx: Context) -> dict[str, set]:
    """Who must learn the Service range, and from which next hops, from the plan in force.

    With routed racks (a leaf has planned sessions with Calico nodes): the leaves, in
    their kernel, via every node of their routed racks (the leaf's peers announce it
    and reflect their rack's paths with `add paths`); at most `maximum_paths` of them
    (FRR installs no more), which the caller checks as a count. Without a fabric, the
    speakers that hear every node directly, in their BGP table (a node's own static
    route outranks what it learns, so its kernel shows nothing): the reflector hosts,
    else the in-cluster reflectors (nodes with a cluster ID), else every node; each from
    the Calico nodes it has planned sessions with.
    """
    topo = ctx.topo
    rs = ctx.lab.resources()
    exp = Expectations(topo, rs)
    if exp.routed:
        return {leaf.name: {n.ip.ip for n in topo.cluster.nodes
                            if n.rack in exp.routed and topo.rack(n.rack).leaf == leaf.name}
                for leaf in exp.routed_leaves()}
    plan = exp.plan
    if len(plan.addresses) < 2:
        return {}
    if topo.hosts:
        return {h.name: {IPv4Address(a) for _, a, _ in plan.clients_of(str(h.ip.ip))} for h in topo.hosts}
    by_k8s = topo.cluster.names().by_k8s()
    reflectors = [n.name for n in rs.nodes if n.route_reflector_cluster_id and n.name in plan.sessions]
    viewers = reflectors or [n for n in plan.sessions if n in by_k8s]
    return {by_k8s.get(v, v): {IPv4Address(s.peer_address) for s in plan.sessions[v] if s.peer_node}
            for v in viewers}


def _want(viewers: dict[str, set], limits: dict[str, int]) -> dict[str, tuple[frozenset, int]]:
    """Per viewer: the next hops it may use and how many it must install (its maximum_paths)."""
    return {t: (frozenset(hops), min(len(hops), limits.get(t, len(hops)))) for t, hops in viewers.items()}


def _satisfied(seen: frozenset, allowed: frozenset, count: int) -> bool:
    return seen <= allowed and len(seen) == count


def _state(ctx: Context, cidr: IPv4Network, viewers: dict[str, set]) -> dict[str, frozenset]:
    access = ctx.access
    bird_speakers = {n.name for n in ctx.topo.cluster.nodes} | {h.name for h in ctx.topo.hosts}
    seen = {}
    for target in viewers:
        if target in bird_speakers:
            seen[target] = frozenset(bgp_next_hops(access.birdc(target, f"show route {cidr} all")))
            continue
        route = route_to(observe_routes(access, target), cidr)
        seen[target] = route.gateways if route is not None and route.kind == "unicast" else frozenset()
    return seen


def run(ctx: Context) -> CheckResult:
    topo = ctx.topo
    cidr = topo.cluster.service_subnet
    viewers = _viewers(ctx)
    limits = {r.name: r.maximum_paths for r in topo.routers}
    want = _want(viewers, limits)
    if not viewers:
        return CheckResult(NAME, SKIP, "a fabric or two nodes", "nothing can learn the Service range")
    original = list(ctx.lab.resources().default_bgp_configuration().service_cluster_ips)
    if str(cidr) in original:
        return CheckResult(NAME, SKIP, f"{cidr} not advertised yet", "serviceClusterIPs already set in the topology")
    problems: list[str] = []
    figures: dict = {}
    before = _state(ctx, cidr, viewers)
    leaked = {t: g for t, g in before.items() if g}
    if leaked:
        problems.append(f"before serviceClusterIPs: {', '.join(sorted(leaked))} already route(s) {cidr}")
    # Journaled first: if this command dies mid-check, the next one puts the original back.
    entry = ctx.journal("service-cluster-ips", f"BGPConfiguration default serviceClusterIPs set to [{cidr}]",
                        original=original)
    try:
        ctx.lab.set_service_cluster_ips([str(cidr)])
        ok, after = poll(lambda: _state(ctx, cidr, viewers),
                         lambda s: all(_satisfied(s[t], *want[t]) for t in viewers),
                         ctx.deadline, ctx.interval)
        for target, (allowed, count) in sorted(want.items()):
            if not _satisfied(after[target], allowed, count):
                of = f"{count} of " if count < len(allowed) else ""
                problems.append(f"after serviceClusterIPs: {target} routes {cidr} via "
                                f"{sorted(map(str, after[target])) or 'nothing'}, want via {of}{sorted(map(str, allowed))}")
        figures["ecmp_next_hops"] = {t: len(g) for t, g in after.items()}
    finally:
        ctx.lab.set_service_cluster_ips(original)
        ctx.journal_done(entry)
        restored, final = poll(lambda: _state(ctx, cidr, viewers), lambda s: not any(s.values()),
                               ctx.deadline, ctx.interval)
        if not restored:
            problems.append(f"after restoring: {', '.join(t for t, g in final.items() if g)} still route(s) {cidr}")
    return CheckResult(
        NAME, FAIL if problems else PASS,
        expected=f"nobody learns {cidr} before; after serviceClusterIPs {', '.join(sorted(viewers))} learn it from every node they peer with",
        observed="; ".join(problems[:2]) if problems else
        ", ".join(f"{t}: {n} next hops" for t, n in sorted(figures.get("ecmp_next_hops", {}).items())),
        figures=figures, details=problems,
    )
