"""Long-running processes inside lab namespaces: started by argument list, known by PID.

A process is identified by (pid, starttime): field 22 of /proc/PID/stat, the
start time in clock ticks since boot, which never changes for the life of a
process and differs for any later process that reuses the PID. Everything that
signals a process checks it first, so a recycled PID is never killed.

Entering the namespace: `ip netns exec NS argv...`. It execs the program, so
the PID `Popen` returns is the daemon's own (same PID, same starttime after
the exec). Measured (`python bench/primitives.py`): starting /bin/true takes
~2.0 ms that way against ~0.6 ms with setns() on the calling thread before
fork and ~3.6 ms with setns() in a `preexec_fn` (which forces a slow fork
path). The 1.5 ms difference is noise next to a daemon's own start-up
(zebra ~45 ms until its socket exists), and `ip netns exec` gives the process
a /sys of its namespace (what tcpdump and `ip` inside expect), applies
/etc/netns/NS if present, and is exactly the command a user types to reproduce
what the lab did. So the lab uses it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ...exec import pid_alive, proc_starttime, stop_pid
from ...preflight import binary
from . import cpushare, netlink, timens

__all__ = ["Proc", "start", "pid_alive", "stop", "starttime", "netns_argv", "pids_in_netns", "terminate_all"]

starttime = proc_starttime


def stop(pid: int, starttime: int | None, deadline: float = 5.0) -> bool:
    """SIGTERM the process `pid` if it is still the one started at `starttime`; SIGKILL after
    `deadline` seconds. Returns True if it was running and is now gone; False (and sends
    nothing) if the PID is dead, a zombie, or now belongs to another process."""
    return stop_pid(pid, starttime, deadline)


def terminate_all(records) -> set[int]:
    """SIGTERM every recorded process that is still the one recorded (same start time), all at
    once, without waiting: a lab's daemons then shut down side by side (one at a time, 1,000
    BIRDs took minutes). Returns the PIDs signalled; `stop` afterwards waits and SIGKILLs."""
    signalled = set()
    for record in records:
        pid, started = record["pid"], record.get("starttime")
        if started is None:
            continue
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if pid_alive(pid, started):  # checked with the pidfd held: the PID cannot be recycled
                signal.pidfd_send_signal(pidfd, signal.SIGTERM)
                signalled.add(pid)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)
    return signalled


def reap(pid: int) -> None:
    """Collect the exit status of `pid` if it is an exited child of this process (else nothing)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


@dataclass(frozen=True)
class Proc:
    """A process the lab started; its state-file record has the same fields."""

    pid: int
    starttime: int | None  # None: /proc/PID/stat was unreadable (then no stop may signal the PID)
    netns: str
    argv: tuple[str, ...]
    role: str
    log: Path
    extra: Mapping[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return pid_alive(self.pid, self.starttime)

    def stop(self, deadline: float = 5.0) -> bool:
        return stop(self.pid, self.starttime, deadline)


def netns_argv(netns: str, argv: Sequence[str]) -> list[str]:
    """The argument list that runs `argv` inside namespace `netns`."""
    return [binary("ip"), "netns", "exec", netlink.check_netns_name(netns), *map(str, argv)]


def start(state, netns: str, argv: Sequence[str], *, log_path: str | Path, role: str,
          env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
          extra: Mapping[str, str] | None = None, clock_offset_ns: int | None = None,
          nice: int = 0) -> Proc:
    """Start `argv` (no shell) inside `netns`, in its own session, stdin from /dev/null and
    stdout+stderr appended to `log_path`; record it in `state` (durably) before returning.

    The process's namespace is recorded before the namespace is created, so even a crash
    between the fork and the record leaves the process findable (`pids_in_netns`).
    `extra` is stored in the record, each value formatted with the new PID (e.g.
    {"tmpdir": "/var/tmp/frr/zebra.{pid}"}: a directory the process creates that teardown
    removes once the process is gone). `clock_offset_ns`: run it in a time namespace of its
    own, CLOCK_MONOTONIC shifted by that many ns (timens.py: why BIRD needs it); recorded, so
    a restart keeps the same clock. `nice`: its CPU share (cpushare.py), set at once.
    """
    if not argv or isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a non-empty list of arguments, not a shell string")
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full = netns_argv(netns, argv)
    with open(log_path, "ab") as out:
        def fork() -> subprocess.Popen:
            return subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, close_fds=True, cwd=cwd,
                                    env={**os.environ, **env} if env else None)
        # Without time namespaces in the kernel it starts on the host's clock (and says none).
        popen = fork() if clock_offset_ns is None else timens.run_with_clock_offset(clock_offset_ns, fork)
        own_clock = clock_offset_ns is not None and timens.supported()
    if nice:
        cpushare.renice(popen.pid, nice)
    # Not reaped yet, so /proc/PID/stat exists even if it already died.
    extra = {key: str(value).format(pid=popen.pid) for key, value in (extra or {}).items()}
    if own_clock:
        extra["clock_offset_ns"] = str(clock_offset_ns)
    if nice:
        extra["nice"] = str(nice)
    proc = Proc(popen.pid, proc_starttime(popen.pid), netns, tuple(map(str, argv)), role, log_path, extra)
    state.record_process(proc.pid, proc.starttime, netns, proc.argv, role, log=str(log_path), **proc.extra)
    # The Popen object is dropped: subprocess reaps the child on a later Popen once it ended,
    # and `stop` reaps it too; either way it is tracked by (pid, starttime), never by the object.
    return proc


def pids_in_netns(name: str) -> list[int]:
    """PIDs of every process whose network namespace is /run/netns/`name` (as `ip netns pids`)."""
    try:
        st = os.stat(netlink.NETNS_DIR / netlink.check_netns_name(name))
    except FileNotFoundError:
        return []
    target = (st.st_dev, st.st_ino)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ns = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:
            continue
        if (ns.st_dev, ns.st_ino) == target and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found
