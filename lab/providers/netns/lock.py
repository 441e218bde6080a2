"""One lock per lab name: commands that change a lab never run at the same time.

`lab_lock(lab, command)` takes an exclusive `flock` on `<run root>/.locks/<lab>.lock`.
The lock file lives outside the lab's run directory so `down` can hold it while
it removes that directory, and it is never deleted (deleting a lock file that
another process has open and is about to lock would give two holders). Lab
names cannot start with '.', so `.locks` is never a lab's run directory.

The kernel drops an flock when its holder dies (kill -9 included): a crashed
command never leaves a lab locked. The holder writes its command and PID into
the file after it got the lock, so a second command that gave up waiting can say
who holds it. The lock is re-entrant within one process (a command that calls
another command's code keeps its lock), and its file descriptor is close-on-exec:
daemons a command starts never inherit it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Iterator

from ...deadline import Deadline
from ...errors import EnvironmentProblem, LabError
from ...exec import proc_starttime
from ...names import check_lab_name
from ...paths import run_root as resolve_run_root

LOCK_DIR = ".locks"
DEFAULT_WAIT = 3.0  # seconds a second command waits before it says who holds the lab
_POLL = 0.05

# lab lock path -> [fd, depth]: the locks this process holds.
_held: dict[str, list[int]] = {}


class LabBusy(LabError):
    """Another command holds the lab's lock."""

    def __init__(self, lab: str, holder: dict | None, waited: float):
        self.lab, self.holder = lab, holder or {}
        who = (f"`{self.holder.get('command', '?')}` (PID {self.holder.get('pid', '?')}, "
               f"for {max(0.0, time.time() - self.holder.get('since', time.time())):.0f}s)"
               if self.holder else "another command")
        super().__init__(f"lab {lab} is busy: {who} is changing it; waited {waited:g}s. "
                         f"Run this again when it has finished (or stop it: kill {self.holder.get('pid', 'PID')})")


def lock_path(lab_name: str, run_root: Path | str | None = None) -> Path:
    return resolve_run_root(run_root) / LOCK_DIR / f"{check_lab_name(lab_name)}.lock"


def holder(lab_name: str, run_root: Path | str | None = None) -> dict | None:
    """Who holds (or last held) the lab's lock: {"command", "pid", "starttime", "since"}, or None."""
    try:
        text = lock_path(lab_name, run_root).read_text()
        info = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def is_locked(lab_name: str, run_root: Path | str | None = None) -> bool:
    """True if some process (this one included) holds the lab's lock now."""
    path = lock_path(lab_name, run_root)
    if str(path) in _held:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock at once
    return False


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except PermissionError:
        raise EnvironmentProblem(f"cannot create the lab lock {path}: changing a netns lab needs root "
                                 "(run with sudo)") from None


@contextlib.contextmanager
def lab_lock(lab_name: str, command: str, wait: float = DEFAULT_WAIT,
             run_root: Path | str | None = None) -> Iterator[None]:
    """Hold the lab's lock for the body; wait up to `wait` seconds for it, then LabBusy.

    `command` is what a waiting command shows, e.g. "lab.test" or "lab.calicoctl apply".
    """
    path = lock_path(lab_name, run_root)
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    fd = _open(path)
    try:
        end = Deadline.after(wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if end.expired():
                    raise LabBusy(lab_name, holder(lab_name, run_root), wait) from None
                time.sleep(_POLL)  # flock has no timeout of its own; this wait is bounded by `wait`
        info = {"command": command, "pid": os.getpid(), "starttime": proc_starttime(os.getpid()), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode() + b"\n", 0)
        _held[key] = [fd, 1]
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock


def __getattr__(name: str) -> Path:
    # `RUN_ROOT` for code written before lab/paths.py (resolved when it is imported, not
    # fixed when this module loads); new code calls lab.paths.run_root().
    if name == "RUN_ROOT":
        return resolve_run_root()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
