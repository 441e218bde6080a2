"""The provider contract: what every provider offers, grouped by capability.

Commands, checks, scenarios and bug bundles talk to a lab only through these protocols,
never through a provider's class or name; both providers (netns, clab) satisfy all of
them, which mypy checks in CI (each provider module ends with a `_contract` function
that mypy type-checks as a conversion to `LabProvider`) and tests/test_contract.py checks
at run time. A capability a provider cannot offer is still declared and refuses with
one clear LabError (for example a fault the clab lab has no equivalent for).

This module sits below both the checks and the providers: it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import ContextManager, Mapping, Protocol, Sequence, TextIO, runtime_checkable

from . import model as m
from .calico.resources import ResourceSet
from .exec import LabAccess, Result


@dataclass(frozen=True)
class PodInfo:
    """A workload pod as the checks see it."""

    name: str
    node: str  # topology node name
    ip: str


class Running(Protocol):
    """A background process of the lab (traffic, capture)."""

    def alive(self) -> bool: ...

    def stop(self) -> Result: ...


class Lifecycle(Protocol):
    name: str  # the provider's name: netns | clab
    lab_name: str
    topo: m.Topology
    out_dir: Path

    def up(self, out: TextIO) -> None: ...

    def down(self, out: TextIO) -> None: ...

    def is_up(self) -> bool: ...


class Access(Protocol):
    def access(self) -> LabAccess:
        """How to run a command in a target (the one exec interface)."""


class Datastore(Protocol):
    def resources(self) -> ResourceSet:
        """The Calico resources in force now."""

    def calicoctl(self, argv: Sequence[str], out: TextIO, stdin: TextIO = ..., files: dict[str, str] | None = None) -> int:
        """calicoctl's verbs against the lab; changes take effect at once."""

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        """BGPConfiguration default serviceClusterIPs, as a user would set them ([] removes them)."""


class Workloads(Protocol):
    def pods(self) -> Sequence[PodInfo]: ...

    def change_pods(self, *, recreate_pods: bool = False, node: str | None = None, all_pods: bool = False,
                    add: str | None = None, delete: str | None = None, out: TextIO = ...) -> int:
        """List (no option), recreate, add or delete pods."""

    def planned_blocks(self) -> dict[str, set[IPv4Network]] | None:
        """Blocks each node must own (topology node name -> networks), or None where Calico's IPAM decides."""

    def exported_blocks(self) -> set[IPv4Network] | None:
        """Blocks advertised over BGP, or None when unknown (then all are)."""


class Faults(Protocol):
    def link(self, target: str, iface: str, up: bool) -> str: ...

    def stop(self, target: str, kill: bool = False) -> str: ...

    def start(self, target: str) -> str: ...

    def netem(self, target: str, iface: str, delay_ms: float = 0.0, jitter_ms: float = 0.0,
              loss_pct: float = 0.0) -> str: ...

    def clear_netem(self, target: str, iface: str) -> str: ...

    def apply_fault(self, method: str, *args, **kwargs) -> str:
        """A fault a user asked for: done and logged in the lab's history."""


class Traffic(Protocol):
    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        """Run lab/traffic.py with args inside target and wait for it."""

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str) -> Running:
        """Start lab/traffic.py in the background; returns once its output has a line starting with `ready`."""


class Capture(Protocol):
    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str) -> ContextManager:
        """tcpdump on each interface of target into the pcap files on this host, listening before it returns."""


class Journal(Protocol):
    def journal_add(self, kind: str, what: str, **undo) -> str | None:
        """Record a temporary change before making it, with what undoes it; None where not journaled."""

    def journal_done(self, entry_id: str | None) -> None: ...

    def dead_daemons(self) -> list[str]:
        """One line per routing daemon of the lab that should run and does not."""


@runtime_checkable
class LabProvider(Lifecycle, Access, Datastore, Workloads, Faults, Traffic, Capture, Journal, Protocol):
    """Everything a provider offers."""


# The names of the contract's methods, for the run-time check of each provider.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    cls.__name__: tuple(name for name in vars(cls) if not name.startswith("_") and callable(getattr(cls, name)))
    for cls in (Lifecycle, Access, Datastore, Workloads, Faults, Traffic, Capture, Journal)
}
