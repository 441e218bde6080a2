"""bgp-sessions: every planned session Established on both ends (a planned Idle duplicate Idle), nothing else."""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

from ..calico.status import StatusRow, calico_peer, format_status_table
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


def _key(e_or_o: ExpectedSession | ObservedSession, by_protocol: bool) -> str:
    if not by_protocol:
        return e_or_o.peer
    name = e_or_o.protocol if isinstance(e_or_o, ExpectedSession) else e_or_o.name
    return e_or_o.peer if name is None else name


def compare(expected: list[ExpectedSession], observed: dict[str, list[ObservedSession]]) -> list[str]:
    """Sessions keyed by (target, BIRD protocol name) where the plan names them, else (target, peer address).

    Per session: it exists, its peer AS is the planned one, and it is Established — except a planned
    duplicate (a second protocol to an address another protocol holds), which BIRD leaves start/Idle and
    must never be Established. A protocol name carries the PEER TYPE (Mesh_/Global_/Node_), so a Global_
    session where Node_ was planned is a missing one plus an unexpected one. Sessions nobody planned are flagged.
    """
    problems = []
    want: dict[str, dict[str, ExpectedSession]] = defaultdict(dict)
    for e in expected:
        by_protocol = e.protocol is not None
        want[e.target][_key(e, by_protocol)] = e
    for target in sorted(set(want) | set(observed)):
        by_protocol = any(e.protocol for e in want[target].values())
        dead = [o for o in observed.get(target, []) if o.peer == "?"]
        if dead:
            problems.append(f"{target}: {dead[0].state}")
            continue
        seen = {_key(o, by_protocol): o for o in observed.get(target, [])}
        for key, e in sorted(want[target].items()):
            o = seen.get(key)
            what = f"{key} ({e.peer_type}) to {e.peer}" if by_protocol else f"session to {e.peer}"
            if o is None:
                problems.append(f"{target}: no {what} configured")
            elif o.peer_as is not None and o.peer_as != e.peer_as:
                problems.append(f"{target}: {what} has peer AS {o.peer_as}, planned {e.peer_as}")
            elif e.holds and not o.established:
                problems.append(f"{target}: {what} is {o.state}")
            elif not e.holds and o.established:
                problems.append(f"{target}: {what} is Established, but another protocol to {e.peer} comes first "
                                "in BIRD's config: it must stay start/Idle")
        for key, o in sorted(seen.items()):
            if key not in want[target]:
                problems.append(f"{target}: unexpected {'protocol ' + key if by_protocol else 'session'} "
                                f"to {o.peer} ({o.state})")
    return problems


def status_tables(expected: Sequence[ExpectedSession], observed: Mapping[str, Sequence[ObservedSession]]) -> list[str]:
    """Planned and observed `calicoctl node status` tables of the Calico nodes, side by side in text."""
    lines = []
    by_target: dict[str, list[tuple[ExpectedSession, str]]] = defaultdict(list)
    for e in expected:
        if e.via == "bird" and e.peer_type:
            by_target[e.target].append((e, e.peer_type))
    for target, rows in sorted(by_target.items()):
        planned = [StatusRow(e.peer, peer_type, "up" if e.holds else "start", "-", "Established" if e.holds else "Idle")
                   for e, peer_type in rows]
        seen = []
        for o in observed.get(target, []):
            peer = calico_peer(o.name)
            seen.append(StatusRow(o.peer, peer[1] if peer else "?", "up" if o.established else "start", "-", o.state))
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
    idle = sum(1 for e in expected if not e.holds)
    result = CheckResult(
        NAME, PASS if ok else FAIL,
        expected=f"{len(expected) - idle} session ends Established on {targets} speakers"
                 + (f", {idle} shadowed duplicates start/Idle" if idle else "") + ", none unexpected",
        observed=f"{established} Established" + (f"; {len(problems)} problems: {problems[0]}" if problems else ""),
        figures={"expected": len(expected), "established": established},
        details=problems,
    )
    if problems:
        result.details += status_tables(expected, observed)
    return result
