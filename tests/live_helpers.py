"""Shared pieces of the live-lab tests: calicoctl on a running lab, node status tables, routes."""

from __future__ import annotations

import io
import time
from ipaddress import IPv4Network

from lab.calico.status import parse_birdc_protocols
from lab.checks import run_checks
from lab.checks.base import Context
from lab.checks.observe import observe_routes
from lab.loader import load_topology
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import quiet, unique

MESH, GLOBAL, NODE = "node-to-node mesh", "global", "node specific"


def fresh_lab(topology: str, base: str, tmp_path) -> NetnsProvider:
    lab = NetnsProvider(load_topology(topology), unique(base), out_dir=tmp_path)
    if lab.is_up():
        lab.down(quiet())
    lab.up(quiet())
    return lab


def ctl(lab: NetnsProvider, *argv: str, stdin: str = "") -> str:
    """`invoke lab.calicoctl -- ARGV` on the lab (the same function), returning what it printed."""
    out = io.StringIO()
    assert lab.calicoctl(list(argv), out, io.StringIO(stdin)) == 0
    return out.getvalue()


def table(lab: NetnsProvider, node: str) -> set[tuple[str, str, bool]]:
    """A node's `calicoctl node status` rows as (peer address, peer type, Established?)."""
    rows = parse_birdc_protocols(lab.access().birdc(node, "show protocols"))
    return {(r.peer_address, r.peer_type, r.info.startswith("Established")) for r in rows}


def wait_tables(lab: NetnsProvider, expected: dict[str, set], deadline: float = 30.0) -> None:
    """Until every node's status table is exactly `expected` (all of them, polled together)."""
    end = time.monotonic() + deadline
    while True:
        seen = {node: table(lab, node) for node in expected}
        if seen == expected:
            return
        if time.monotonic() > end:
            diff = {n: {"want": sorted(expected[n]), "seen": sorted(seen[n]),
                        "bird": lab.access().birdc(n, "show protocols")} for n in expected if seen[n] != expected[n]}
            raise AssertionError(f"status tables did not converge in {deadline:.0f}s: {diff}")
        time.sleep(0.2)


def routes_to_blocks(lab: NetnsProvider, target: str) -> dict[IPv4Network, frozenset[str]]:
    """Pod-pool routes learned over BGP on `target`: block -> next hops (blackholes left out)."""
    return {r.dst: frozenset(map(str, r.gateways)) for r in observe_routes(lab.access(), target)
            if r.kind == "unicast" and r.protocol == "bird" and r.dst.prefixlen >= 20}


def block_of(lab: NetnsProvider, node: str) -> IPv4Network:
    (block,) = lab.planned_blocks()[node]
    return block


def wait_routes(lab: NetnsProvider, target: str, want: dict[IPv4Network, frozenset[str] | None],
                deadline: float = 30.0) -> None:
    """Until `target` routes each block via exactly those next hops (None: has no route to it)."""
    end = time.monotonic() + deadline
    while True:
        seen = routes_to_blocks(lab, target)
        if all(seen.get(block) == hops for block, hops in want.items()):
            return
        if time.monotonic() > end:
            raise AssertionError(f"{target}: routes {dict(seen)} never matched {want}")
        time.sleep(0.2)


def checks_pass(lab: NetnsProvider, names: list[str], deadline: float = 20.0) -> None:
    results = run_checks(Context(lab, deadline=deadline), names)
    assert [(r.name, r.status) for r in results] == [(n, "PASS") for n in names], \
        [(r.name, r.observed, r.details[:4]) for r in results]


def ip(lab: NetnsProvider, node: str) -> str:
    return str(lab.topo.cluster.node(node).ip.ip)


def k8s(lab: NetnsProvider, node: str) -> str:
    return lab.topo.cluster.k8s_name(node)
