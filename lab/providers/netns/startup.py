"""Starting many daemons at once, and waiting for each speaker's own sessions.

Why threads: starting a daemon is `ip netns exec` + fork/exec, ~10-20 ms of which the
caller mostly waits (for the child's exec to report success); a few workers overlap those
waits on 2 cores. The records are collected in a `ProcessBatch` and written once per batch
(each daemon runs in a recorded namespace, so teardown finds one the batch had not recorded).

Why per speaker: the session check asks every speaker every round until *all* agree; while
a big lab converges most rounds find most speakers done. `wait_sessions` asks only the
speakers that are not Established yet, one probe (one `show protocols all` / `show bgp
summary json`) per speaker per round, then the full check runs once to confirm.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Sequence, TypeVar

from .state import LabState, ProcessBatch

WORKERS = 4
T = TypeVar("T")


def in_parallel(items: Sequence[T], action: Callable[[T], None], workers: int = WORKERS) -> None:
    """`action(item)` for every item on a few threads; the first error is raised after all ran."""
    if len(items) <= 1:
        for item in items:
            action(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(action, item) for item in items]
        errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


BIRD_FIRST_UP_TO = 100  # BIRD speakers


def daemon_order(bird: T, frr: T, speakers: int) -> list[T]:
    """Which daemons `up` starts first. Small labs: BIRD, whose sessions wait out Calico's 2 s
    connect delay while FRR starts. Big ones: the fabric first, as in a data centre: a thousand
    starting BIRDs (kernel and device scans every 2 s) starved zebra's start-up past its deadline."""
    return [bird, frr] if speakers <= BIRD_FIRST_UP_TO else [frr, bird]


def start_bird(state: LabState, nodes: Sequence, ready_seconds: float = 10.0) -> None:
    """Start every BIRD (records in one batch), then one readiness probe per node."""
    with ProcessBatch(state) as batch:
        in_parallel(nodes, lambda node: node.start(batch))
    deadline = time.monotonic() + ready_seconds + 0.02 * len(nodes)
    in_parallel(nodes, lambda node: node.wait_ready(deadline))


def start_frr(state: LabState, routers: Sequence, ready_seconds: float = 10.0) -> None:
    """Every zebra, then every bgpd (each once its zebra listens), then readiness per router."""
    deadline = time.monotonic() + ready_seconds + 0.05 * len(routers)
    with ProcessBatch(state) as batch:
        in_parallel(routers, lambda router: router.start_zebra(batch))
    with ProcessBatch(state) as batch:
        in_parallel(routers, lambda router: router.start_bgpd(batch, deadline))
    in_parallel(routers, lambda router: router.wait_ready(deadline))


def wait_sessions(targets: Iterable[str], settled: Callable[[str], bool], deadline: float,
                  interval: float = 0.05, clock=time.monotonic, wait=time.sleep) -> list[str]:
    """Ask each target in turn until `settled(target)`; a settled target is not asked again.
    Returns the targets still unsettled at `deadline` ([] when all settled).

    Between rounds it waits `interval`, or as long as the last round took if that was longer:
    asking is work for the daemons too (a reflector answering for 500 sessions every 50 ms had
    no time left to accept its clients), so probing takes at most about half the time."""
    pending = list(dict.fromkeys(targets))
    while pending:
        started = clock()
        pending = [t for t in pending if not settled(t)]
        if not pending or clock() >= deadline:
            break
        wait(max(interval, clock() - started))
    return pending


def wait_each_speaker(lab, ctx, deadline: float) -> list[str]:
    """Until each speaker's own planned sessions are Established (`wait_sessions`); returns
    the speakers not settled by `deadline` (the full check that follows says what is wrong)."""
    from ...calico.status import calico_peer
    from ...checks.observe import observe_bird_session_states, observe_bird_sessions, observe_frr_sessions
    from ...checks.sessions import compare
    from ...expect import expected_sessions

    by_target: dict[str, list] = {}
    for e in expected_sessions(lab.topo, lab.resources()):
        by_target.setdefault(e.target, []).append(e)
    access = ctx.access

    def settled(target: str) -> bool:
        expected = by_target[target]
        if expected[0].via != "bird":
            observe = observe_frr_sessions
        elif all(e.protocol and calico_peer(e.protocol) for e in expected):
            # Calico's protocol names carry the peer: the one-line-per-protocol list is enough
            # to wait on (a 500-client reflector's `show protocols all` is ~15x longer); the
            # full check after the wait compares everything.
            observe = observe_bird_session_states
        else:
            observe = observe_bird_sessions
        try:
            return not compare(expected, {target: observe(access, target)})
        except Exception:  # not answering yet: not settled
            return False

    return wait_sessions(by_target, settled, deadline, ctx.interval)
