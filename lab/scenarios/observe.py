"""What a scenario step looks at and how its expectations are judged.

Observation goes through the one exec interface (`lab.access()`) and lab.checks.observe; the
judging functions are pure (observations in, a list of problems out) and unit-tested.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Mapping, Sequence

from ..calico.status import StatusRow, parse_birdc_protocols
from ..checks.observe import KernelRoute, observe_routes
from ..errors import LabError
from .spec import Expect, RouteSpec, SessionSpec


class Names:
    """Node/host names to addresses (topology names and Kubernetes node names)."""

    def __init__(self, topo):
        self.addresses: dict[str, str] = {}
        for node in topo.cluster.nodes:
            self.addresses[node.name] = str(node.ip.ip)
            self.addresses[topo.cluster.k8s_name(node)] = str(node.ip.ip)
        for host in topo.hosts:
            self.addresses[host.name] = str(host.ip.ip)
        self.nodes = topo.cluster.names()

    def address(self, name_or_ip: str) -> str:
        if name_or_ip in self.addresses:
            return self.addresses[name_or_ip]
        try:
            return str(IPv4Address(name_or_ip))
        except ValueError:
            raise LabError(f"'{name_or_ip}' is neither a node/host of this lab nor an address "
                           f"(known: {', '.join(sorted(self.addresses))})") from None

    def node(self, name: str) -> str:
        """The topology name of a node given by topology or Kubernetes name."""
        return self.nodes.short(name)


# -- observing -----------------------------------------------------------------------------

def session_rows(access, node: str) -> list[StatusRow] | None:
    """The node's `calicoctl node status` rows, or None when its BIRD does not answer."""
    try:
        return parse_birdc_protocols(access.birdc(node, "show protocols"))
    except LabError:
        return None


def route_line(r: KernelRoute) -> str:
    parts = [] if r.kind == "unicast" else [r.kind]
    parts.append(str(r.dst) if r.dst.prefixlen else "default")
    if r.gateways:
        parts.append("via " + ",".join(sorted(str(g) for g in r.gateways)))
    if r.dev and not r.gateways:
        parts.append(f"dev {r.dev}")
    if r.protocol:
        parts.append(f"proto {r.protocol}")
    return " ".join(parts)


def route_snapshot(access, targets: Sequence[str]) -> dict[str, set[str]]:
    return {t: {route_line(r) for r in observe_routes(access, t)} for t in targets}


def route_diff(before: Mapping[str, set[str]], after: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """Per target the routes gone (`- ...`) and new (`+ ...`), targets without change left out."""
    diff = {}
    for target in after:
        old, new = before.get(target, set()), after[target]
        lines = [f"- {r}" for r in sorted(old - new)] + [f"+ {r}" for r in sorted(new - old)]
        if lines:
            diff[target] = lines
    return diff


# -- judging (pure) --------------------------------------------------------------------------

def _state_matches(want: str, row: StatusRow) -> bool:
    info = row.info.split()[0] if row.info.split() else ""
    return want.lower() in (row.state.lower(), info.lower())


def judge_sessions(node: str, want: Sequence[SessionSpec], rows: list[StatusRow] | None, names: Names) -> list[str]:
    if rows is None:
        return [f"{node}: BIRD does not answer (Calico process is not running), expected {len(want)} sessions"]
    problems = []
    left = list(rows)
    for spec in want:
        address = names.address(spec.peer)
        match = next((r for r in left if r.peer_address == address and r.peer_type == spec.type), None)
        if match is None:
            problems.append(f"{node}: no {spec.type} session to {spec.peer} ({address})")
            continue
        left.remove(match)
        if not _state_matches(spec.state, match):
            problems.append(f"{node}: session to {spec.peer} ({address}) is {match.state} {match.info}, "
                            f"expected {spec.state}")
    for row in left:
        problems.append(f"{node}: unexpected {row.peer_type} session to {row.peer_address} ({row.state} {row.info})")
    return problems


def expand(spec: RouteSpec, blocks: Mapping[str, set[IPv4Network]], names: Names) -> list[IPv4Network]:
    if spec.dst is not None:
        return [IPv4Network(spec.dst)]
    assert spec.blocks_of is not None  # the loader requires dst or blocks_of
    node = names.node(spec.blocks_of)
    if node not in blocks:
        raise LabError(f"blocks_of: '{spec.blocks_of}' is not a node of this lab (nodes: {', '.join(blocks)})")
    return sorted(blocks[node])


def judge_routes(target: str, present: Sequence[RouteSpec], absent: Sequence[RouteSpec],
                 routes: Sequence[KernelRoute], blocks: Mapping[str, set[IPv4Network]], names: Names) -> list[str]:
    forwarding = {r.dst: r for r in routes if r.kind == "unicast"}
    problems = []
    for spec in present:
        nets = expand(spec, blocks, names)
        if not nets:
            problems.append(f"{target}: {spec.describe()}: {spec.blocks_of} owns no block")
        want_via = {IPv4Address(names.address(v)) for v in spec.via}
        for net in nets:
            route = forwarding.get(net)
            if route is None:
                problems.append(f"{target}: no route to {net} ({spec.describe()})")
            elif want_via and route.gateways != want_via:
                got = ",".join(sorted(map(str, route.gateways))) or route.dev or "-"
                problems.append(f"{target}: {net} via {got}, expected via {','.join(sorted(map(str, want_via)))}")
            elif spec.nexthops is not None and len(route.gateways) != spec.nexthops:
                problems.append(f"{target}: {net} has {len(route.gateways)} next hops, expected {spec.nexthops}")
    for spec in absent:
        for net in expand(spec, blocks, names):
            if net in forwarding:
                problems.append(f"{target}: route to {net} present ({route_line(forwarding[net])}), expected none")
    return problems


def judge_outage(expect: Expect, max_outage_ms: float | None, worst: str | None, sent: int = 1) -> list[str]:
    if max_outage_ms is None or (expect.needs_traffic and not sent):
        return [] if not expect.needs_traffic else ["no probe was sent during this step"]
    problems = []
    if expect.max_outage_ms is not None and max_outage_ms > expect.max_outage_ms:
        problems.append(f"longest outage {max_outage_ms:g} ms ({worst}) exceeds {expect.max_outage_ms:g} ms")
    if expect.min_outage_ms is not None and max_outage_ms < expect.min_outage_ms:
        problems.append(f"longest outage {max_outage_ms:g} ms is below the expected {expect.min_outage_ms:g} ms "
                        f"(the step was meant to show the loss)")
    return problems


def describe_expect(expect: Expect) -> str:
    parts = []
    for node, rows in expect.sessions.items():
        parts.append(f"{node}: {len(rows)} sessions" + (" (" + ", ".join(f"{r.peer} {r.type} {r.state}" for r in rows) + ")" if rows else ""))
    for target, specs in expect.present.items():
        parts.append(f"{target} has " + ", ".join(s.describe() for s in specs))
    for target, specs in expect.absent.items():
        parts.append(f"{target} lacks " + ", ".join(s.describe() for s in specs))
    if expect.max_outage_ms is not None:
        parts.append(f"outage <= {expect.max_outage_ms:g} ms")
    if expect.min_outage_ms is not None:
        parts.append(f"outage >= {expect.min_outage_ms:g} ms")
    if expect.pods_reachable:
        parts.append("every pod reachable")
    return "; ".join(parts) or "nothing (narrative only)"
