"""The one way checks and tasks reach inside a lab: run a command in a target.

A target is a lab name (router, node, pod, host). Each provider maps targets to
its own mechanism: `ip netns exec` here, docker exec / kubectl exec / SSH in
the clab provider. Commands are argument lists, never shell strings.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence, TextIO

from . import birdctl
from .errors import LabError
from .deadline import Deadline


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


class Spawned(Protocol):
    def alive(self) -> bool: ...

    def stop(self) -> Result: ...


class LabAccess(Protocol):
    def exec(self, target: str, argv: Sequence[str], *, timeout: float = 10.0, check: bool = False) -> Result: ...

    def spawn(self, target: str, argv: Sequence[str], *, log_path: str | Path) -> Spawned: ...

    def birdc(self, node: str, command: str) -> str: ...

    def vtysh(self, router: str, command: str) -> str: ...


def run_argv(argv: Sequence[str], *, timeout: float = 10.0, check: bool = False, input: str | None = None,
             env: Mapping[str, str] | None = None) -> Result:
    """Run a command (argument list) and capture its output; a time-out is an rc of 124.

    `env` adds variables to this process's environment for the command.
    """
    argv = tuple(str(a) for a in argv)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                              env={**os.environ, **env} if env else None)
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
    except subprocess.TimeoutExpired as exc:
        result = Result(argv, 124, _text(exc.stdout), _text(exc.stderr) + f"\ntimed out after {timeout}s")
    except FileNotFoundError:
        result = Result(argv, 127, "", f"{argv[0]}: command not found")
    if check and result.rc != 0:
        raise LabError(f"`{' '.join(argv)}` failed (rc {result.rc}): {(result.stderr or result.stdout).strip()[:500]}")
    return result


def stream_argv(argv: Sequence[str], *, out: TextIO, err: TextIO, timeout: float = 600.0) -> int:
    """Run a command, writing its stdout/stderr to `out`/`err` chunk by chunk while it runs."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        err.write(f"{argv[0]}: command not found\n")
        return 127
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None  # both are pipes (Popen above)
    sinks = {stdout.fileno(): out, stderr.fileno(): err}
    # A chunk may end inside a multi-byte character: decode each stream incrementally.
    decoders = {fd: codecs.getincrementaldecoder("utf-8")(errors="replace") for fd in sinks}
    poller = select.poll()
    for fd in sinks:
        poller.register(fd, select.POLLIN | select.POLLHUP)
    end = Deadline.after(timeout)
    try:
        while sinks:
            remaining = end.remaining()
            if remaining <= 0:
                stop_pid(proc.pid, proc_starttime(proc.pid), 2.0, reap=False)
                err.write(f"timed out after {timeout:g}s\n")
                proc.wait()
                return 124
            for fd, _ in poller.poll(int(min(remaining, 1.0) * 1000) + 1):
                chunk = os.read(fd, 65536)
                sink = sinks[fd]
                sink.write(decoders[fd].decode(chunk, final=not chunk))
                if not chunk:
                    poller.unregister(fd)
                    del sinks[fd]
                    continue
                sink.flush()
        return proc.wait()
    finally:
        if proc.poll() is None:  # our reader went away (Ctrl-C, closed pipe): do not leave it running
            stop_pid(proc.pid, proc_starttime(proc.pid), 2.0, reap=False)
            proc.wait()
        stdout.close()
        stderr.close()


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def proc_starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: with the PID, identifies one process for its whole life."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; it is closed by the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _proc_state(pid: int) -> tuple[str, int] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[19])


def pid_alive(pid: int, starttime: int | None) -> bool:
    """True if `pid` runs (not a zombie) and is the process that started at `starttime`.

    A starttime of None identifies nothing: False.
    """
    if starttime is None:
        return False
    found = _proc_state(pid)
    return found is not None and found[0] not in ("Z", "X") and found[1] == starttime


def stop_pid(pid: int, starttime: int | None, deadline: float = 5.0, *, reap: bool = True) -> bool:
    """Stop a process we started, by PID, only if /proc still shows its start time.

    SIGTERM, wait up to `deadline` seconds for it to go, then SIGKILL (and wait up to 2 s).
    A pidfd pins the process between the identity check and the signals, so a PID recycled
    in between cannot be hit; the wait wakes as soon as the process exits (the pidfd polls
    readable) and re-checks /proc. Returns True if it was running and is now gone, False if
    there was nothing of ours to stop (dead, zombie, PID reused or starttime None).
    `reap=False` leaves the exit status to the caller's own `Popen.wait()`.
    """
    if starttime is None:
        return False
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except OSError:  # no pidfd support: fall back to kill() right after the check
        pidfd = None
    try:
        if not pid_alive(pid, starttime):
            return False
        for sig, wait in ((signal.SIGTERM, deadline), (signal.SIGKILL, 2.0)):
            try:
                if pidfd is not None:
                    signal.pidfd_send_signal(pidfd, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                return True
            if _wait_gone(pid, starttime, pidfd, wait, reap):
                return True
        return not pid_alive(pid, starttime)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _wait_gone(pid: int, starttime: int, pidfd: int | None, wait: float, reap: bool) -> bool:
    poller = None
    if pidfd is not None:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
    end = Deadline.after(wait)
    while True:
        if reap:
            _reap(pid)
        if not pid_alive(pid, starttime):
            return True
        remaining = end.remaining()
        if remaining <= 0:
            return False
        if poller is not None:
            poller.poll(max(1, int(min(remaining, 0.05) * 1000)))
        else:
            time.sleep(min(remaining, 0.01))


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


class Background:
    """A background process started in a namespace; stopped by PID, output kept in a file."""

    def __init__(self, argv: Sequence[str], log_path: str | Path, popen_argv: Sequence[str],
                 stderr_path: str | Path | None = None):
        self.argv = tuple(argv)
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # stdout may be data (a pcap streamed with -w -): then stderr goes to its own file.
        with open(self.log_path, "wb") as log, open(stderr_path or os.devnull, "wb") as err:
            self.proc = subprocess.Popen(list(popen_argv), stdout=log,
                                         stderr=err if stderr_path else subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        self.starttime = proc_starttime(self.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> Result:
        if self.proc.poll() is None:
            # Our own Popen reaps it, so the Result carries its real exit status.
            stop_pid(self.pid, self.starttime, reap=False)
        rc = self.proc.wait(timeout=5)
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return Result(self.argv, rc, text, "")


class NetnsAccess:
    """Targets are network namespaces on this host; daemons are reached through their sockets."""

    def __init__(self, netns: Mapping[str, str], birdc_sockets: Mapping[str, Path], vty_dirs: Mapping[str, Path]):
        self.netns = dict(netns)
        self.birdc_sockets = dict(birdc_sockets)
        self.vty_dirs = dict(vty_dirs)

    def _ns(self, target: str) -> str:
        try:
            return self.netns[target]
        except KeyError:
            raise LabError(f"unknown lab target '{target}' (targets: {', '.join(self.netns)})") from None

    def exec(self, target: str, argv: Sequence[str], *, timeout: float = 10.0, check: bool = False) -> Result:
        return run_argv(["ip", "netns", "exec", self._ns(target), *argv], timeout=timeout, check=check)

    def spawn(self, target: str, argv: Sequence[str], *, log_path: str | Path) -> Background:
        return Background(argv, log_path, ["ip", "netns", "exec", self._ns(target), *argv])

    def exec_stream(self, target: str, argv: Sequence[str], *, out: TextIO, err: TextIO,
                    timeout: float = 600.0) -> int:
        """Run argv in target, copying its output to `out`/`err` as it comes; returns its exit code
        (124 after `timeout` seconds, 127 if the command does not exist)."""
        return stream_argv(["ip", "netns", "exec", self._ns(target), *argv], out=out, err=err, timeout=timeout)

    def birdc(self, node: str, command: str) -> str:
        if node not in self.birdc_sockets:
            raise LabError(f"'{node}' runs no BIRD (BIRD runs on: {', '.join(self.birdc_sockets)})")
        # The control socket is a file on this host: no namespace, and no birdc process either
        # (lab/birdctl.py speaks its protocol and prints what birdc would).
        try:
            return birdctl.command(self.birdc_sockets[node], " ".join(command.split()), timeout=10)
        except birdctl.BirdCtlError as exc:
            raise LabError(f"BIRD on {node} does not answer: {str(exc)[:300]}") from None

    def vtysh(self, router: str, command: str) -> str:
        if router not in self.vty_dirs:
            raise LabError(f"'{router}' runs no FRR (FRR runs on: {', '.join(self.vty_dirs)})")
        result = run_argv(["vtysh", "--vty_socket", str(self.vty_dirs[router]), "-c", command], timeout=10)
        if result.rc != 0:
            raise LabError(f"FRR on {router} does not answer: {(result.stderr or result.stdout).strip()[:300]}")
        return result.stdout
