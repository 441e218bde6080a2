"""The shape every provider has: lifecycle steps plus one way to reach lab targets.

A provider builds a lab as an ordered list of named steps (kind's "actions"):
each prints one status line, and the first failure stops the run naming the
step. The checks never know which provider they run on: they get a `LabAccess`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol, TextIO

from .. import model as m
from .. import paths
from ..errors import LabError
from ..exec import LabAccess



@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[], None]


class StepFailed(LabError):
    def __init__(self, index: int, total: int, title: str, cause: BaseException):
        self.title = title
        self.cause = cause
        super().__init__(f"step {index}/{total} '{title}' failed: {cause}")


class StatusOut(Protocol):
    """Where the step status lines go: a TextIO or a provider's filter in front of one."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def run_steps(steps: Iterable[Step], out: StatusOut, clock: Callable[[], float] = time.monotonic) -> None:
    steps = list(steps)
    for index, step in enumerate(steps, 1):
        started = clock()
        out.write(f"[{index}/{len(steps)}] {step.title} ...")
        out.flush()
        try:
            step.run()
        except LabError as exc:
            out.write(" FAILED\n")
            raise StepFailed(index, len(steps), step.title, exc) from exc
        out.write(f" ok ({clock() - started:.2f}s)\n")
        out.flush()


def default_out_dir(lab_name: str) -> Path:
    return paths.out_dir(lab_name)


class Provider(ABC):
    """One lab of one topology, under a lab name (defaults to the topology's name)."""

    name: str = ""

    def __init__(self, topo: m.Topology, lab_name: str | None = None, out_dir: str | Path | None = None):
        self.topo = topo
        self.lab_name = lab_name or topo.name
        self.out_dir = Path(out_dir) if out_dir else default_out_dir(self.lab_name)

    @abstractmethod
    def up(self, out: TextIO) -> None:
        """Build the lab and wait until it has converged; a no-op that says so when it is up."""

    @abstractmethod
    def down(self, out: TextIO) -> None:
        """Remove everything the lab created; a no-op when nothing is there."""

    @abstractmethod
    def is_up(self) -> bool:
        """Whether a lab of this name currently exists."""

    @abstractmethod
    def access(self) -> LabAccess:
        """How checks reach the lab's nodes, routers, pods and hosts."""

    def link(self, target: str, iface: str, up: bool) -> str:
        """Set an interface of a target down or up through the exec interface (`ip link set`).

        The netns provider overrides this to restore, on up, what the lab installed through
        the interface (lab/faults.py)."""
        self.access().exec(target, ["ip", "link", "set", iface, "up" if up else "down"], check=True)
        return f"{target} {iface} {'up' if up else 'down'}"
