"""What every check shares: its result shape, the context it runs in, and polling.

A check never sleeps for a fixed time: it polls a probe with a short interval
until the probe says yes or a deadline passes, then reports what it last saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import model as m
from ..deadline import Deadline
from ..contract import LabProvider, PodInfo, Running
from ..exec import LabAccess

__all__ = ["CheckResult", "Context", "LabUnderTest", "PodInfo", "Running", "poll", "PASS", "FAIL", "SKIP"]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class CheckResult:
    name: str
    status: str
    expected: str
    observed: str
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != FAIL


# The checks need the whole provider contract (lab/contract.py); PodInfo lives there too.
LabUnderTest = LabProvider


@dataclass
class Context:
    lab: LabUnderTest
    deadline: float = 15.0  # seconds each check may wait for the lab to get where it expects
    interval: float = 0.1
    full: bool = False  # checks that sample a big lab (connectivity) cover every pair instead

    @property
    def topo(self) -> m.Topology:
        return self.lab.topo

    @property
    def access(self) -> LabAccess:
        return self.lab.access()

    def journal(self, kind: str, what: str, **undo) -> str | None:
        """Record a temporary change in the lab's journal *before* making it, with what undoes it
        (see lab/providers/netns/journal.py), so the next command undoes it if this one dies.
        Providers without a journal return None."""
        add = getattr(self.lab, "journal_add", None)
        return add(kind, what, **undo) if add else None

    def journal_done(self, entry: str | None) -> None:
        """The change is undone: forget the journal entry."""
        done = getattr(self.lab, "journal_done", None)
        if done and entry is not None:
            done(entry)

    def dead_daemons(self) -> list[str]:
        """'bgpd of leaf0 is not running (...)' per recorded daemon that is gone ([] if unknown)."""
        dead = getattr(self.lab, "dead_daemons", None)
        return dead() if dead else []

    @property
    def capture_dir(self) -> Path:
        path = self.lab.out_dir / "captures"
        path.mkdir(parents=True, exist_ok=True)
        return path


def poll(probe: Callable[[], Any], until: Callable[[Any], bool], deadline: Deadline | float,
         interval: float = 0.1, clock=time.monotonic, wait=time.sleep) -> tuple[bool, Any]:
    """Call `probe` until `until(value)` holds or the deadline (a Deadline, or seconds from now)
    passes; returns (ok, last value)."""
    return Deadline.of(deadline, clock).poll(probe, until, interval, wait)
