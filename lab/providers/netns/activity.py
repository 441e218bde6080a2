"""What the netns provider runs for a while inside a lab: traffic, captures, temporary changes.

Every such thing is journaled in the lab state (state.py) before or as it starts and
forgotten when it ends, so a command killed in the middle (kill -9 included) leaves
an entry the next command on the lab undoes (journal.py). Each background process
also has a time limit of its own: traffic.py its `--seconds`, tcpdump `timeout(1)`.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence, TextIO

from ... import traffic
from ...errors import LabError
from ...exec import NetnsAccess, Result
from . import journal, procs
from .state import LabState
from ..waits import wait_for_line as _wait_for_line, wait_until_quiet as _wait_until_quiet

CAPTURE_LIMIT = 300.0  # seconds a tcpdump may run at most, whatever happens to its command


class Journaled:
    """A background process that is in the lab journal until it is stopped."""

    def __init__(self, spawned, lab, entry_id: str | None):
        self.spawned, self.lab, self.entry_id = spawned, lab, entry_id

    def alive(self) -> bool:
        return self.spawned.alive()

    def stop(self) -> Result:
        result = self.spawned.stop()
        self.lab.journal_done(self.entry_id)
        return result


class LabActivity:
    """Mixin of NetnsProvider: needs `state_path`, `lab_name`, `access()`."""

    command: str = ""  # the command running on the lab (journal entries name it)
    if TYPE_CHECKING:  # what the mixin needs from NetnsProvider
        state_path: Path
        lab_name: str

        def access(self) -> NetnsAccess: ...

    # -- journal ---------------------------------------------------------------------------

    def journal_add(self, kind: str, what: str, **undo) -> str | None:
        if not self.state_path.is_file():
            return None
        return LabState(self.state_path).journal_add(kind, what, command=self.command, **undo)

    def journal_done(self, entry_id: str | None) -> None:
        LabState(self.state_path).journal_done(entry_id)

    def restore_journal(self, out: TextIO, removing: bool = False) -> list[str]:
        """Undo what an interrupted command left (call with the lab's lock held)."""
        if not self.state_path.is_file():
            return []
        return journal.restore(self, out, removing=removing)

    def _spawn_journaled(self, target: str, argv: Sequence[str], log_path: Path, role: str) -> Journaled:
        spawned = self.access().spawn(target, argv, log_path=log_path)
        # Journaled right after the start (the PID is known only then); a kill in between leaves
        # a process that still ends by its own time limit.
        entry = self.journal_add("process", f"{role} in {target}", pid=spawned.pid,
                                 starttime=spawned.starttime, role=role, target=target)
        return Journaled(spawned, self, entry)

    # -- daemons ---------------------------------------------------------------------------

    def dead_daemons(self) -> list[str]:
        """'bgpd of leaf0 is not running (...)' for every recorded daemon that is gone."""
        if not self.state_path.is_file():
            return []
        latest: dict[str, dict] = {}
        for obj in LabState(self.state_path).processes():
            latest[obj.get("role", str(obj["pid"]))] = obj  # a restarted daemon's newest record counts
        dead = []
        for role, obj in latest.items():
            if not procs.pid_alive(obj["pid"], obj.get("starttime")):
                daemon, _, target = role.partition(":")
                dead.append(f"{daemon} of {target or '?'} is not running (PID {obj['pid']} is gone; "
                            f"log {obj.get('log', '?')})")
        return dead

    # -- traffic ---------------------------------------------------------------------------

    def _traffic_argv(self, args: Sequence[str]) -> list[str]:
        return [sys.executable, traffic.__file__, *args]

    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        return self.access().exec(target, self._traffic_argv(args), timeout=60)

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str):
        role = f"traffic {args[0] if args else ''}".strip()
        spawned = self._spawn_journaled(target, self._traffic_argv(args), Path(log_path), role)
        try:
            _wait_for_line(spawned, log_path, ready)
        except LabError:
            spawned.stop()
            raise
        return spawned

    # -- capture ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str,
                limit: float = CAPTURE_LIMIT) -> Iterator[None]:
        running = []
        try:
            for iface in ifaces:
                log = Path(str(pcaps[iface]) + ".log")
                # Immediate mode + per-packet flush: nothing waits in a buffer when the capture stops.
                # timeout(1) relays our SIGTERM to tcpdump and ends it by itself after `limit`.
                argv = ["timeout", "--kill-after=2", f"{limit:g}",
                        "tcpdump", "-i", iface, "-n", "--immediate-mode", "-U", "-B", "8192",
                        "-w", str(pcaps[iface]), bpf]
                spawned = self._spawn_journaled(target, argv, log, f"tcpdump on {iface}")
                running.append(spawned)
                _wait_for_line(spawned, log, "listening on")
            yield
            _wait_until_quiet([pcaps[i] for i in ifaces])
        finally:
            for spawned in running:
                spawned.stop()


__all__ = ["LabActivity", "Journaled"]
