"""What every check shares: its result shape, the context it runs in, and polling.

A check never sleeps for a fixed time: it polls a probe with a short interval
until the probe says yes or a deadline passes, then reports what it last saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Protocol, Sequence

from .. import model as m
from ..calico.resources import ResourceSet
from ..exec import LabAccess, Result

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


@dataclass(frozen=True)
class PodInfo:
    name: str
    node: str  # topology node name
    ip: str


class Running(Protocol):
    def stop(self) -> "Result":
        """Stop it (by PID) and return what it printed."""


class LabUnderTest(Protocol):
    """What checks need from a provider besides `LabAccess`: the provider-specific verbs."""

    topo: m.Topology
    out_dir: Path

    def access(self) -> LabAccess: ...

    def pods(self) -> Sequence[PodInfo]: ...

    def resources(self) -> ResourceSet:
        """The Calico resources in force now."""

    def planned_blocks(self) -> dict[str, set] | None:
        """Blocks each node must own (topology node name -> networks), or None where Calico's IPAM decides."""

    def exported_blocks(self) -> set | None:
        """Blocks that are advertised over BGP, or None when unknown (then all are)."""

    def run_traffic(self, target: str, args: Sequence[str]) -> "Result":
        """Run lab/traffic.py with args inside target and wait for it."""

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str) -> Running:
        """Start lab/traffic.py in the background; returns once its output has a line starting with `ready`."""

    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str) -> ContextManager:
        """tcpdump on each interface of target into the pcap files on this host, listening before it returns."""

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        """Apply BGPConfiguration serviceClusterIPs the way a user would ([] removes them)."""


@dataclass
class Context:
    lab: LabUnderTest
    deadline: float = 15.0  # seconds each check may wait for the lab to get where it expects
    interval: float = 0.1

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


def poll(probe: Callable[[], Any], until: Callable[[Any], bool], deadline: float,
         interval: float = 0.1, clock=time.monotonic, wait=time.sleep) -> tuple[bool, Any]:
    """Call `probe` until `until(value)` holds or `deadline` seconds pass; returns (ok, last value)."""
    end = clock() + deadline
    while True:
        value = probe()
        if until(value):
            return True, value
        if clock() >= end:
            return False, value
        wait(interval)
