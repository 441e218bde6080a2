"""routes: pod blocks and pod /32s where Calico puts them; remote blocks via the right next hops.

Blocks are read from the nodes themselves (the blackhole routes BIRD installs for
the blocks a node owns), so the check works whether our IPAM plan or Calico's
IPAM chose them; where the provider knows the plan, the owned blocks must match it.

Cost: one table per speaker per poll, each indexed by prefix once; the fabric side
(routed racks, leaf uplinks) is computed once from the plan. So one evaluation is
linear in the routes the lab must hold (nodes x blocks), not in pairs x table size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network

from ..expect import Expectations
from .base import FAIL, PASS, CheckResult, Context, poll
from ..calico.versions import felix_pod_route_metric, parse_version
from .observe import KernelRoute, observe_routes

NAME = "routes"


def _owned_blocks(routes: list[KernelRoute], pools: list[IPv4Network]) -> set[IPv4Network]:
    """Blocks a node owns: BIRD's blackholes inside an IP pool (a Service range is no block)."""
    return {r.dst for r in routes if r.kind == "blackhole" and r.protocol == "bird"
            and any(r.dst.subnet_of(p) for p in pools)}


def _by_prefix(routes: list[KernelRoute]) -> dict[IPv4Network, KernelRoute]:
    index: dict[IPv4Network, KernelRoute] = {}
    for r in routes:
        index.setdefault(r.dst, r)  # the first one, as `ip route get` would pick among equals
    return index


class _Lab:
    """What one evaluation needs from the lab, fetched once per check run (not per poll)."""

    def __init__(self, ctx: Context, exp: Expectations | None = None):
        self.topo = ctx.topo
        self.exp = exp or Expectations(self.topo, ctx.lab.resources())
        self.planned = ctx.lab.planned_blocks()
        self.exported = ctx.lab.exported_blocks()
        self.pools = [IPv4Network(p.cidr) for p in ctx.lab.resources().ip_pools]
        self.pod_metric = felix_pod_route_metric(parse_version(self.topo.calico.version))
        self.pods_of: dict[str, list] = {}
        for pod in ctx.lab.pods():
            self.pods_of.setdefault(pod.node, []).append(pod)


def evaluate(ctx: Context, tables: dict[str, list[KernelRoute]], lab: _Lab | None = None) -> tuple[list[str], dict]:
    lab = lab or _Lab(ctx)
    topo, exp = lab.topo, lab.exp
    problems: list[str] = []
    indexed = {t: _by_prefix(routes) for t, routes in tables.items()}
    owned = {n.name: _owned_blocks(tables[n.name], lab.pools) for n in topo.cluster.nodes}
    advertised = {name: [b for b in sorted(blocks) if lab.exported is None or b in lab.exported]
                  for name, blocks in owned.items()}
    for node in topo.cluster.nodes:
        routes = indexed[node.name]
        want_blocks = lab.planned.get(node.name, set()) if lab.planned is not None else None
        if want_blocks is not None and owned[node.name] != want_blocks:
            problems.append(f"{node.name}: owns blocks {_fmt(owned[node.name])}, plan says {_fmt(want_blocks)}")
        pods = lab.pods_of.get(node.name, [])
        if not owned[node.name] and pods:
            problems.append(f"{node.name}: no blackhole route (proto bird) for its pod block")
        for pod in pods:
            r = routes.get(IPv4Network(f"{pod.ip}/32"))
            if not _felix_route(r, lab.pod_metric):
                shape = f"{pod.ip} dev cali* scope link" + (f" metric {lab.pod_metric}" if lab.pod_metric else "")
                problems.append(f"{node.name}: no '{shape}' route (proto boot, as Felix programs it) for pod {pod.name}"
                                + (f" (has {_route(r)})" if r else ""))
        for owner in topo.cluster.nodes:
            if owner.name == node.name or not advertised[owner.name] or not exp.reachable(node, owner):
                continue
            want = exp.node_next_hop(node, owner)
            for block in advertised[owner.name]:
                r = routes.get(block)
                if r is None or r.kind != "unicast":
                    problems.append(f"{node.name}: no route to {block} of {owner.name} (want via {want})"
                                    + (f", has {_route(r)}" if r else ""))
                elif r.gateways != {want}:
                    problems.append(f"{node.name}: {block} of {owner.name} via {_fmt(r.gateways)}, want via {want}")
    ecmp_routes = 0
    for leaf in exp.routed_leaves():
        routes = indexed[leaf.name]
        for owner in topo.cluster.nodes:
            if owner.rack not in exp.routed:
                continue
            hops = exp.leaf_next_hops(leaf, owner)
            for block in advertised[owner.name]:
                r = routes.get(block)
                if r is None:
                    problems.append(f"{leaf.name}: no route to {block} of {owner.name} (want via {_fmt(hops)})")
                elif r.gateways != hops:
                    problems.append(f"{leaf.name}: {block} of {owner.name} via {_fmt(r.gateways)}, want via {_fmt(hops)}")
                elif len(hops) > 1:
                    ecmp_routes += 1
    blocks = sum(len(b) for b in owned.values())
    return problems, {"blocks": blocks, "leaf_ecmp_routes": ecmp_routes}


def _felix_route(r: KernelRoute | None, metric: int | None) -> bool:
    # Felix: RTPROT_BOOT (ip -j route leaves "protocol" out for boot), link scope, metric 1024 from v3.32.
    return (r is not None and (r.dev or "").startswith("cali") and r.scope == "link"
            and r.protocol in ("", "boot") and r.metric == metric)


def _fmt(items) -> str:
    return "{" + ", ".join(sorted(str(i) for i in items)) + "}" if items else "{}"


def _route(r: KernelRoute) -> str:
    via = f" via {_fmt(r.gateways)}" if r.gateways else ""
    dev = f" dev {r.dev}" if r.dev else ""
    metric = f" metric {r.metric}" if r.metric is not None else ""
    return f"{r.kind} {r.dst}{via}{dev} proto {r.protocol or 'boot'} scope {r.scope}{metric}"


def run(ctx: Context) -> CheckResult:
    lab = _Lab(ctx)
    leaves = lab.exp.routed_leaves()
    targets = [n.name for n in ctx.topo.cluster.nodes] + [r.name for r in leaves]
    access = ctx.access

    def observe():
        # One `ip -j route` per target, a few at a time: each is a process start (~10 ms) the
        # check would otherwise wait for in turn (10 s a round at 1,000 nodes).
        with ThreadPoolExecutor(max_workers=4) as pool:
            tables = dict(zip(targets, pool.map(lambda t: observe_routes(access, t), targets)))
        return evaluate(ctx, tables, lab)

    ok, (problems, figures) = poll(observe, lambda value: not value[0], ctx.deadline, ctx.interval)
    return CheckResult(
        NAME, PASS if ok else FAIL,
        expected="own blocks blackholed (proto bird), pod /32s on cali*, remote blocks via the right next hops"
                 + ("; remote-rack blocks on leaves via every spine" if leaves else ""),
        observed=f"{figures['blocks']} blocks, {figures['leaf_ecmp_routes']} leaf ECMP routes"
                 + (f"; {len(problems)} problems: {problems[0]}" if problems else ""),
        figures=figures, details=problems,
    )
