"""bgp-sessions: every planned session Established on both ends, and nothing else."""

from __future__ import annotations

from collections import defaultdict

from ..calico.status import StatusRow, format_status_table
from ..expect import ExpectedSession, expected_sessions
from .base import FAIL, PASS, CheckResult, Context, poll
from .observe import ObservedSession, observe_bird_sessions, observe_frr_sessions

NAME = "bgp-sessions"


def observe_all(ctx: Context, expected: list[ExpectedSession]) -> dict[str, list[ObservedSession]]:
    via = {e.target: e.via for e in expected}
    for host in ctx.topo.hosts:
        via.setdefault(host.name, "bird")
    for node in ctx.topo.cluster.nodes:
        via.setdefault(node.name, "bird")
    for router in ctx.topo.routers:
        via.setdefault(router.name, "frr")
    access = ctx.access
    observed = {}
    for target, kind in via.items():
        observe = observe_bird_sessions if kind == "bird" else observe_frr_sessions
        try:
            observed[target] = observe(access, target)
        except Exception as exc:  # a dead daemon is an observation, not a crash of the check
            observed[target] = [ObservedSession("?", f"no answer: {exc}".splitlines()[0][:120])]
    return observed


def compare(expected: list[ExpectedSession], observed: dict[str, list[ObservedSession]]) -> list[str]:
    problems = []
    want = defaultdict(set)
    for e in expected:
        want[e.target].add(e.peer)
    for target in sorted(set(want) | set(observed)):
        seen = {o.peer: o for o in observed.get(target, [])}
        for peer in sorted(want[target]):
            o = seen.get(peer)
            if o is None:
                problems.append(f"{target}: no session to {peer} configured")
            elif not o.established:
                problems.append(f"{target}: session to {peer} is {o.state}")
        for peer, o in sorted(seen.items()):
            if peer not in want[target]:
                problems.append(f"{target}: unexpected session to {peer} ({o.state})")
    return problems


def status_tables(expected: list[ExpectedSession], observed: dict[str, list[ObservedSession]]) -> list[str]:
    """Planned and observed `calicoctl node status` tables of the Calico nodes, side by side in text."""
    lines = []
    by_target = defaultdict(list)
    for e in expected:
        if e.via == "bird" and e.peer_type:
            by_target[e.target].append(e)
    for target, rows in sorted(by_target.items()):
        planned = [StatusRow(e.peer, e.peer_type, "up", "-", "Established") for e in rows]
        types = {e.peer: e.peer_type for e in rows}
        seen = [StatusRow(o.peer, types.get(o.peer, "?"), "up" if o.established else "start", "-", o.state)
                for o in observed.get(target, [])]
        lines.append(f"{target} planned:\n{format_status_table(planned)}")
        lines.append(f"{target} observed:\n{format_status_table(seen)}")
    return lines


def run(ctx: Context) -> CheckResult:
    expected = expected_sessions(ctx.topo, ctx.lab.resources())
    ok, observed = poll(lambda: observe_all(ctx, expected), lambda obs: not compare(expected, obs),
                        ctx.deadline, ctx.interval)
    problems = compare(expected, observed)
    established = sum(1 for sessions in observed.values() for o in sessions if o.established)
    targets = len({e.target for e in expected})
    result = CheckResult(
        NAME, PASS if ok else FAIL,
        expected=f"{len(expected)} session ends Established on {targets} speakers, none unexpected",
        observed=f"{established} Established" + (f"; {len(problems)} problems: {problems[0]}" if problems else ""),
        figures={"expected": len(expected), "established": established},
        details=problems,
    )
    if problems:
        result.details += status_tables(expected, observed)
    return result
