"""service-advertisement: serviceClusterIPs makes every node advertise the Service range.

Before: nobody routes the Service range. Then the check sets
`BGPConfiguration default spec.serviceClusterIPs` through the provider (the
resource is changed and re-applied as a user would) and expects every node to
advertise it: leaves hold it with one next hop per rack node (ECMP); without a
fabric, every node learns it from the other nodes. The original configuration is
restored afterwards, whether the check passed or not.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from ..expect import routed_racks
from .base import FAIL, PASS, SKIP, CheckResult, Context, poll
from .observe import bgp_next_hops, observe_routes, route_to

NAME = "service-advertisement"


def _viewers(ctx: Context) -> dict[str, set]:
    """Who must learn the Service range, and from which next hops.

    With a fabric: the leaves, in their kernel (ECMP over the rack's nodes). Without
    one, the speakers that hear every node directly, in their BGP table (a node's
    own static route outranks what it learns, so its kernel shows nothing): the
    external reflector hosts, else the in-cluster reflectors, else (mesh) every node.
    """
    topo = ctx.topo
    if routed_racks(topo):
        return {leaf.name: {n.ip.ip for n in topo.cluster.nodes if topo.rack(n.rack).leaf == leaf.name}
                for leaf in topo.leaves()}
    nodes = topo.cluster.nodes
    if topo.hosts:
        return {h.name: {n.ip.ip for n in nodes} for h in topo.hosts}
    viewers = [n for n in nodes if topo.is_route_reflector(n)] or list(nodes)
    if len(nodes) < 2:
        return {}
    return {v.name: {n.ip.ip for n in nodes if n.name != v.name} for v in viewers}


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
                         lambda s: all(s[t] == frozenset(want) for t, want in viewers.items()),
                         ctx.deadline, ctx.interval)
        for target, want in sorted(viewers.items()):
            if after[target] != frozenset(want):
                problems.append(f"after serviceClusterIPs: {target} routes {cidr} via "
                                f"{sorted(map(str, after[target])) or 'nothing'}, want via {sorted(map(str, want))}")
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
