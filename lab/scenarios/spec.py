"""The parsed form of a scenario file: what `model.load_scenario` returns and the runner reads.

Plain frozen dataclasses, no I/O; split from the loader so each reads in one sitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

ACTIONS = ("calicoctl", "pods", "link", "stop", "start", "netem", "check")
WAITS = ("sessions", "routes", "seconds", "expect")
DEFAULT_DEADLINE = 30.0
PEER_TYPES = ("node-to-node mesh", "global", "node specific")
CALICOCTL_FILE_VERBS = ("apply", "create", "replace", "delete")


class ScenarioError(InputError):
    """A scenario file is invalid."""


@dataclass(frozen=True)
class Action:
    kind: str  # one of ACTIONS
    args: Any  # kind-specific, already validated (see _action)
    line: int = 0

    def describe(self) -> str:
        a = self.args
        if self.kind == "calicoctl":
            return "calicoctl " + " ".join(a["argv"]) + (" (inline document)" if a.get("documents") else "")
        if self.kind == "pods":
            return "pods " + " ".join(f"--{k} {v}" for k, v in a.items())
        if self.kind == "link":
            return f"link {a['target']}:{a['iface']} {'up' if a['up'] else 'down'}"
        if self.kind == "stop":
            return f"stop {a['target']}" + (" (SIGKILL)" if a["kill"] else "")
        if self.kind == "start":
            return f"start {a['target']}"
        if self.kind == "netem":
            if a["clear"]:
                return f"netem {a['target']}:{a['iface']} clear"
            return f"netem {a['target']}:{a['iface']} delay {a['delay_ms']:g} ms jitter {a['jitter_ms']:g} ms loss {a['loss_pct']:g} %"
        return f"check {', '.join(a)}"


@dataclass(frozen=True)
class Wait:
    sessions: bool = False
    routes: bool = False
    expect: bool = False
    seconds: float | None = None
    deadline: float = DEFAULT_DEADLINE


@dataclass(frozen=True)
class RouteSpec:
    dst: str | None = None  # a CIDR, or
    blocks_of: str | None = None  # every block of this node
    via: tuple[str, ...] = ()  # node names or addresses
    nexthops: int | None = None

    def describe(self) -> str:
        what = self.dst or f"blocks of {self.blocks_of}"
        via = f" via {','.join(self.via)}" if self.via else ""
        hops = f" ({self.nexthops} next hops)" if self.nexthops is not None else ""
        return what + via + hops


@dataclass(frozen=True)
class SessionSpec:
    peer: str  # an address or a node name
    type: str
    state: str


@dataclass(frozen=True)
class Expect:
    sessions: dict[str, tuple[SessionSpec, ...]] = field(default_factory=dict)
    present: dict[str, tuple[RouteSpec, ...]] = field(default_factory=dict)
    absent: dict[str, tuple[RouteSpec, ...]] = field(default_factory=dict)
    max_outage_ms: float | None = None
    min_outage_ms: float | None = None
    pods_reachable: bool = False

    @property
    def empty(self) -> bool:
        return not (self.sessions or self.present or self.absent or self.pods_reachable
                    or self.max_outage_ms is not None or self.min_outage_ms is not None)

    @property
    def needs_traffic(self) -> bool:
        return self.max_outage_ms is not None or self.min_outage_ms is not None


@dataclass(frozen=True)
class Step:
    name: str
    line: int
    action: Action | None = None
    wait: Wait | None = None
    show_status: tuple[str, ...] = ()
    show_routes: tuple[str, ...] = ()
    expect: Expect = field(default_factory=Expect)


@dataclass(frozen=True)
class Traffic:
    enabled: bool = True
    pairs: str = "cross-node"
    interval_ms: float = 20.0
    limit_s: float = 300.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    topology: str
    source: Path
    traffic: Traffic
    steps: tuple[Step, ...]
