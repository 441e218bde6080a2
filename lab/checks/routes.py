"""routes: pod blocks and pod /32s where Calico puts them; remote blocks via the right next hops.

Blocks are read from the nodes themselves (the blackhole routes BIRD installs for
the blocks a node owns), so the check works whether our IPAM plan or Calico's
IPAM chose them; where the provider knows the plan, the owned blocks must match it.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from .. import model as m
from ..expect import leaf_next_hops, node_next_hop, routed_racks
from .base import FAIL, PASS, CheckResult, Context, poll
from ..calico.versions import felix_pod_route_metric, parse_version
from .observe import KernelRoute, observe_routes, route_to

NAME = "routes"


def _owned_blocks(routes: list[KernelRoute]) -> set[IPv4Network]:
    return {r.dst for r in routes if r.kind == "blackhole" and r.protocol == "bird"}


def evaluate(ctx: Context, tables: dict[str, list[KernelRoute]]) -> tuple[list[str], dict]:
    topo = ctx.topo
    problems: list[str] = []
    owned = {n.name: _owned_blocks(tables[n.name]) for n in topo.cluster.nodes}
    planned = ctx.lab.planned_blocks()
    exported = ctx.lab.exported_blocks()
    pods = ctx.lab.pods()
    metric = felix_pod_route_metric(parse_version(topo.calico.version))
    for node in topo.cluster.nodes:
        routes = tables[node.name]
        if planned is not None and owned[node.name] != planned.get(node.name, set()):
            problems.append(f"{node.name}: owns blocks {_fmt(owned[node.name])}, plan says {_fmt(planned.get(node.name, set()))}")
        if not owned[node.name] and any(p.node == node.name for p in pods):
            problems.append(f"{node.name}: no blackhole route (proto bird) for its pod block")
        for pod in (p for p in pods if p.node == node.name):
            r = route_to(routes, IPv4Network(f"{pod.ip}/32"))
            if not _felix_route(r, metric):
                shape = f"{pod.ip} dev cali* scope link" + (f" metric {metric}" if metric else "")
                problems.append(f"{node.name}: no '{shape}' route (proto boot, as Felix programs it) for pod {pod.name}"
                                + (f" (has {_route(r)})" if r else ""))
        for owner in topo.cluster.nodes:
            if owner.name == node.name:
                continue
            for block in owned[owner.name]:
                if exported is not None and block not in exported:
                    continue
                want = node_next_hop(topo, node, owner) if _reachable(topo, node, owner) else None
                if want is None:
                    continue
                r = route_to(routes, block)
                if r is None or r.kind != "unicast":
                    problems.append(f"{node.name}: no route to {block} of {owner.name} (want via {want})"
                                    + (f", has {_route(r)}" if r else ""))
                elif r.gateways != {want}:
                    problems.append(f"{node.name}: {block} of {owner.name} via {_fmt(r.gateways)}, want via {want}")
    ecmp_routes = 0
    if routed_racks(topo):
        for leaf in topo.leaves():
            routes = tables[leaf.name]
            for owner in topo.cluster.nodes:
                want = leaf_next_hops(topo, leaf, owner)
                for block in owned[owner.name]:
                    if exported is not None and block not in exported:
                        continue
                    r = route_to(routes, block)
                    if r is None:
                        problems.append(f"{leaf.name}: no route to {block} of {owner.name} (want via {_fmt(want)})")
                    elif set(r.gateways) != want:
                        problems.append(f"{leaf.name}: {block} of {owner.name} via {_fmt(r.gateways)}, want via {_fmt(want)}")
                    elif len(want) > 1:
                        ecmp_routes += 1
    blocks = sum(len(b) for b in owned.values())
    return problems, {"blocks": blocks, "leaf_ecmp_routes": ecmp_routes}


def _felix_route(r: KernelRoute | None, metric: int | None) -> bool:
    # Felix: RTPROT_BOOT (ip -j route leaves "protocol" out for boot), link scope, metric 1024 from v3.32.
    return (r is not None and (r.dev or "").startswith("cali") and r.scope == "link"
            and r.protocol in ("", "boot") and r.metric == metric)


def _reachable(topo: m.Topology, viewer: m.Node, owner: m.Node) -> bool:
    return viewer.rack == owner.rack or (routed_racks(topo) and topo.rack(viewer.rack).gateway is not None)


def _fmt(items) -> str:
    return "{" + ", ".join(sorted(str(i) for i in items)) + "}" if items else "{}"


def _route(r: KernelRoute) -> str:
    via = f" via {_fmt(r.gateways)}" if r.gateways else ""
    dev = f" dev {r.dev}" if r.dev else ""
    metric = f" metric {r.metric}" if r.metric is not None else ""
    return f"{r.kind} {r.dst}{via}{dev} proto {r.protocol or 'boot'} scope {r.scope}{metric}"


def run(ctx: Context) -> CheckResult:
    targets = [n.name for n in ctx.topo.cluster.nodes]
    if routed_racks(ctx.topo):
        targets += [r.name for r in ctx.topo.leaves()]
    access = ctx.access

    def observe():
        tables = {t: observe_routes(access, t) for t in targets}
        return evaluate(ctx, tables)

    ok, (problems, figures) = poll(observe, lambda value: not value[0], ctx.deadline, ctx.interval)
    return CheckResult(
        NAME, PASS if ok else FAIL,
        expected="own blocks blackholed (proto bird), pod /32s on cali*, remote blocks via the right next hops"
                 + ("; remote-rack blocks on leaves via every spine" if routed_racks(ctx.topo) else ""),
        observed=f"{figures['blocks']} blocks, {figures['leaf_ecmp_routes']} leaf ECMP routes"
                 + (f"; {len(problems)} problems: {problems[0]}" if problems else ""),
        figures=figures, details=problems,
    )
