"""CPU for each routing daemon in proportion to its BGP sessions, as on machines of their own.

Why: on one host the scheduler shares the CPU equally between runnable processes, so a route
reflector with 500 clients got no more of it than each client, while it does hundreds of
times their work; a spine or leaf of a big fabric likewise competes with every node's BIRD,
misses its keepalives (the fabric's hold time is 3 s) and its sessions flap. On real
hardware every speaker has a machine of its own. So the lab gives each daemon a nice value
from its share of sessions: the lab's busiest speakers run at nice 0, and a speaker with
1.25 times fewer sessions one step lower (the kernel's weight per nice step is 1.25), down
to 19. Speakers with equal work (a full mesh) all stay at 0. A lab only ever *lowers* the
priority of its own processes, so it never takes CPU from the rest of the host.

Measured (`bench/scale.py --family rr --sizes 500`, 2 cores): convergence 116 s with every
BIRD at nice 0, 62.9 s with these shares.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import replace
from typing import Any, Hashable, Mapping, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)
F = TypeVar("F", bound=Any)  # blueprint.FrrDaemon (not imported: blueprint imports this module)
B = TypeVar("B", bound=Any)  # blueprint.BirdDaemon

__all__ = ["NICE_STEP", "apply", "assign", "bird_sessions", "frr_sessions", "nice_values", "renice"]

NICE_STEP = 1.25  # CFS: each nice level weighs ~1.25x the next (sched_prio_to_weight)
MAX_NICE = 19

_BIRD_BGP = re.compile(r"^protocol bgp \S+", re.M)
_FRR_NEIGHBOR = re.compile(r"^ neighbor (\S+) remote-as ", re.M)


def bird_sessions(config: str) -> int:
    """BGP sessions a BIRD config asks for (one `protocol bgp` each)."""
    return len(_BIRD_BGP.findall(config))


def frr_sessions(bgpd_conf: str) -> int:
    """BGP neighbours an FRR bgpd config names."""
    return len(set(_FRR_NEIGHBOR.findall(bgpd_conf)))


def nice_values(sessions: Mapping[K, int]) -> dict[K, int]:
    """Per speaker: 0 for the busiest, one step per factor 1.25 fewer sessions, at most 19."""
    busiest = max(sessions.values(), default=0)
    out = {}
    for target, count in sessions.items():
        if busiest <= 0 or count >= busiest:
            out[target] = 0
        else:
            out[target] = min(MAX_NICE, round(math.log(busiest / max(count, 1), NICE_STEP)))
    return out


def assign(frr: Sequence[F], bird: Sequence[B]) -> tuple[list[F], list[B]]:
    """The blueprint's routers and BIRDs, each with its nice value (from its rendered config)."""
    counts: dict[tuple[str, str], int] = {("frr", d.target): frr_sessions(d.bgpd_conf) for d in frr}
    counts.update({("bird", d.target): bird_sessions(d.config) for d in bird})
    nice = nice_values(counts)
    return ([replace(d, nice=nice[("frr", d.target)]) for d in frr],
            [replace(d, nice=nice[("bird", d.target)]) for d in bird])


def renice(pid: int, nice: int) -> bool:
    """Set the nice value of `pid` and of each of its threads (Linux keeps one per thread;
    FRR's daemons have several, and threads started later inherit it), only ever 0..19, so
    never above the host's normal priority. False if the process is gone."""
    if not 0 <= nice <= MAX_NICE:
        raise ValueError(f"a lab daemon's nice value is 0..{MAX_NICE}, not {nice}")
    try:
        tasks = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return False
    for task in tasks or [pid]:
        try:
            if os.getpriority(os.PRIO_PROCESS, task) != nice:
                os.setpriority(os.PRIO_PROCESS, task, nice)
        except ProcessLookupError:  # a thread that just ended
            if task == pid:
                return False
    return True


def apply(state, bp) -> int:
    """After a reconcile changed who peers with whom (mesh -> reflectors): each running daemon
    of the lab gets the nice value of the new blueprint, and its record says so (lab.start
    restarts with it). Returns how many changed."""
    from .procs import pid_alive

    wanted = {f"bird:{d.target}": d.nice for d in bp.bird}
    for router in bp.frr:
        wanted[f"zebra:{router.target}"] = wanted[f"bgpd:{router.target}"] = router.nice
    changed = 0
    for record in state.processes():
        nice = wanted.get(record.get("role"))
        if nice is None or int(record.get("nice", 0)) == nice:
            continue
        if pid_alive(record["pid"], record.get("starttime")):
            renice(record["pid"], nice)
        state.replace(record["pid"], {**record, "nice": nice})
        changed += 1
    return changed
