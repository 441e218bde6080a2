"""FRR and BIRD instances inside lab namespaces (ipmininet style: one small class per daemon).

Each class owns its files in its work directory, checks its configuration with
the daemon's own dry run before anything starts (the daemon's message goes into
the DaemonError), starts the daemon in the foreground inside the namespace (so
the PID recorded in the lab state is the daemon's), and has a readiness probe
(its control socket answers) polled every 20 ms until a deadline. Nothing sleeps
for a fixed time; a daemon that dies while we wait fails at once with the tail
of its log.

Deadlines (`deadline=`) are absolute `time.monotonic()` values.

FRR 8.4 facts this relies on (verified on Debian 12, FRR 8.4.4):
- zebra and bgpd refuse to run as root (`privs_init ... frrvty`): they start as
  root and drop to user frr, which must own the work directory (config files,
  pid files and sockets live there).
- Per instance: `-f CONF -i PIDFILE -z WORKDIR/zserv.api --vty_socket WORKDIR
  -P 0` (no TCP vty); no `-d` (foreground). No `-N` pathspace and no `-M`
  module are needed once every path is given; nothing is written under
  /var/run/frr or /etc/frr. `--log stdout --log-level informational` sends the
  log to our log file (without it a foreground daemon prints warnings only).
- Every FRR process creates /var/tmp/frr/<daemon>.<pid>/ (log buffers, crash
  log; path fixed at compile time). A clean exit (SIGTERM) removes it; a dry
  run or SIGKILL leaves it: dry runs remove theirs here, daemons record theirs
  (`tmpdir`) in the lab state and teardown removes it.
- `zebra -C` / `bgpd -C` (dry run) exit 0 even on unknown commands: what they
  print is the verdict (e.g. "No such command on config line 4: neighbr ...").
  `vtysh -C -f FILE` exits 2 on errors but accepts any daemon's commands in any
  file, so the per-daemon dry run is the authority.
- zebra 8.4 spells the nexthop-group switch `no zebra nexthop kernel enable`
  (accepted by `zebra -C`, shown in `show running-config`; `zebra nexthop
  kernel disable` is "No such command"). With it, routes go to the kernel with
  inline next hops (`ip nexthop show` stays empty), so a link flap cannot leave a
  kernel nexthop group without its ECMP member.
- eBGP in 8.4 exchanges nothing without `no bgp ebgp-requires-policy` (or a
  policy).
- vtysh reaches one instance with `vtysh --vty_socket WORKDIR -c ...` from the
  host namespace (unix sockets); ~50 ms per call. Speaking vtysh's protocol on a
  daemon's own socket (`vty_command`) takes ~0.5 ms: readiness polls that way.
BIRD 1.6.8 facts:
- `bird -p -c CONF` parses only and exits non-zero with "CONF:LINE:COL message".
- `bird -f -c CONF -s SOCK -P PIDFILE` runs in the foreground; `birdc -s SOCK`
  works from the host namespace (the socket is a file on the host's file system).
  `-u bird -g bird` drops root (keeping CAP_NET_ADMIN, NET_RAW, NET_BIND_SERVICE,
  NET_BROADCAST); it then needs to own its directory for the pid file.
- `birdc configure` answers "Reconfigured" (or "Reconfiguration in progress");
  a config it cannot parse leaves the old one running and says so.
"""

from __future__ import annotations

import grp
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

from ... import birdctl
from ...errors import DaemonError
from ...exec import Result, run_argv
from ...preflight import binary
from . import procs
from .state import LabState, ProcessBatch

POLL = 0.02
FRR_TMP = Path("/var/tmp/frr")
# Lines a dry run prints that are not about the config: no MPLS in a namespace; bgpd trying to
# register a `network` (import-check) with a zebra that a dry run never has; a stale
# /var/tmp/frr/<daemon>.<pid> (left by an earlier FRR process that had the same PID).
FRR_BENIGN = ("Disabling MPLS support", "zclient_send_message() failed", 'failed to mkdir "/var/tmp/frr/',
              "crashlog and per-thread log buffering unavailable")
FRR_LOG_LEVEL = "informational"


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(log empty)"


def _wait(probe: Callable[[], bool], deadline: float, what: str, log: Path,
          running: Callable[[], list[procs.Proc]] = lambda: []) -> None:
    """Poll `probe` every POLL seconds until it is true; fail at `deadline` or as soon as a
    process in `running()` has died."""
    while True:
        if probe():
            return
        dead = [p for p in running() if not p.alive()]
        if dead:
            raise DaemonError(f"{what}: {', '.join(p.role for p in dead)} exited while starting; "
                              f"log {dead[0].log}: {_tail(dead[0].log)}")
        if time.monotonic() >= deadline:
            raise DaemonError(f"{what} did not become ready in time; log {log}: {_tail(log)}")
        time.sleep(POLL)


def _default_deadline(deadline: float | None, seconds: float = 10.0) -> float:
    return time.monotonic() + seconds if deadline is None else deadline


class FrrRouter:
    """zebra + bgpd of one router, isolated by their own config, pid files and sockets."""

    DAEMONS = ("zebra", "bgpd")

    def __init__(self, name: str, netns: str, workdir: str | Path, zebra_conf: str, bgpd_conf: str, nice: int = 0):
        self.name, self.netns, self.workdir, self.nice = name, netns, Path(workdir), nice
        self.confs = {"zebra": zebra_conf, "bgpd": bgpd_conf}
        self.procs: dict[str, procs.Proc] = {}

    # -- paths ---------------------------------------------------------------------------

    @property
    def vty_dir(self) -> Path:
        """Directory of the vty sockets (zebra.vty, bgpd.vty): `vtysh --vty_socket` takes it."""
        return self.workdir

    @property
    def zserv(self) -> Path:
        return self.workdir / "zserv.api"

    def conf_path(self, daemon: str) -> Path:
        return self.workdir / f"{daemon}.conf"

    def log_path(self, daemon: str) -> Path:
        return self.workdir / f"{daemon}.log"

    # -- files and commands --------------------------------------------------------------

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for daemon, text in self.confs.items():
            self.conf_path(daemon).write_text(text)
            self.conf_path(daemon).chmod(0o644)
        # FRR refuses to run as root and drops to user frr: it must own its directory.
        shutil.chown(self.workdir, "frr", "frr")
        self.workdir.chmod(0o755)

    def argv(self, daemon: str, dry_run: bool = False) -> list[str]:
        argv = [binary(daemon), "-f", str(self.conf_path(daemon)), "-i", str(self.workdir / f"{daemon}.pid"),
                "-z", str(self.zserv), "--vty_socket", str(self.vty_dir), "-P", "0"]
        if dry_run:
            argv.append("-C")
        else:
            argv += ["--log", "stdout", "--log-level", FRR_LOG_LEVEL]
        return argv

    # -- lifecycle -----------------------------------------------------------------------

    def check(self) -> None:
        """Each daemon's own dry run of its config; DaemonError quotes what the daemon said."""
        self._prepare()
        for daemon in self.DAEMONS:
            argv = self.argv(daemon, dry_run=True)
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            finally:
                _remove_dry_run_tmpdir(daemon, proc.pid)
            text = out.decode(errors="replace")
            # FRR's dry run exits 0 on unknown commands: what it prints is the verdict.
            complaints = [line.strip() for line in text.splitlines()
                          if line.strip() and not any(b in line for b in FRR_BENIGN)]
            if proc.returncode != 0 or complaints:
                raise DaemonError(f"{daemon} of {self.name} refuses its configuration: "
                                  f"{'; '.join(complaints[:3]) or f'exit code {proc.returncode}'}")

    def start(self, state: "LabState | ProcessBatch", deadline: float | None = None) -> None:
        """Start zebra, wait for its zserv socket, start bgpd (bgpd would otherwise retry its
        zebra connection seconds later). Both are recorded in `state` as they start.

        For many routers, `start_zebra` on all of them, then `start_bgpd` on all, overlaps
        the zebras' start-ups (~45 ms each) instead of waiting for each in turn.
        """
        self.start_zebra(state)
        self.start_bgpd(state, deadline)

    def start_zebra(self, state: "LabState | ProcessBatch") -> None:
        self._prepare()
        self._start("zebra", state)

    def start_bgpd(self, state: "LabState | ProcessBatch", deadline: float | None = None) -> None:
        """Wait until zebra listens on zserv (fails at once if zebra died), then start bgpd."""
        deadline = _default_deadline(deadline)
        _wait(self.zserv.exists, deadline, f"zebra of {self.name}", self.log_path("zebra"),
              lambda: list(self.procs.values()))
        self._start("bgpd", state)

    def _start(self, daemon: str, state: "LabState | ProcessBatch") -> None:
        argv = self.argv(daemon)
        proc = procs.start(state, self.netns, argv, log_path=self.log_path(daemon), role=f"{daemon}:{self.name}",
                           extra={"tmpdir": f"{FRR_TMP}/{daemon}.{{pid}}"}, nice=self.nice)
        self.procs[daemon] = proc

    def wait_ready(self, deadline: float | None = None) -> None:
        """Until zebra and bgpd each answer `show version` on their vty socket."""
        deadline = _default_deadline(deadline)

        def answers() -> bool:
            for daemon in self.DAEMONS:
                try:
                    status, _ = vty_command(self.vty_dir / f"{daemon}.vty", "show version", timeout=2)
                except OSError:
                    return False
                if status != 0:
                    return False
            return True

        _wait(answers, deadline, f"FRR of {self.name}", self.log_path("bgpd"), lambda: list(self.procs.values()))

    def stop(self, deadline: float = 5.0) -> None:
        for daemon in reversed(self.DAEMONS):
            proc = self.procs.pop(daemon, None)
            if proc is not None:
                proc.stop(deadline)

    # -- CLI -----------------------------------------------------------------------------

    def vtysh_argv(self, *commands: str) -> list[str]:
        """The vtysh command line for this instance (runs in the host namespace or inside)."""
        argv = [binary("vtysh"), "--vty_socket", str(self.vty_dir)]
        for command in commands:
            argv += ["-c", command]
        return argv

    def vty(self, daemon: str, command: str, timeout: float = 5.0) -> str:
        """One command straight to one daemon's vty socket (~0.5 ms; vtysh takes ~50 ms).

        Only what that daemon knows (`show bgp ...` to bgpd, `show ip route` to zebra).
        """
        if daemon not in self.DAEMONS:
            raise ValueError(f"{daemon} is not one of {self.DAEMONS}")
        try:
            status, out = vty_command(self.vty_dir / f"{daemon}.vty", command, timeout)
        except OSError as exc:
            raise DaemonError(f"{daemon} of {self.name} does not answer on its vty socket: {exc}") from None
        if status != 0:
            raise DaemonError(f"{daemon} of {self.name} refused {command!r} (status {status}): {out.strip()[:300]}")
        return out

    def vtysh(self, *commands: str, timeout: float = 10.0) -> str:
        result = run_argv(self.vtysh_argv(*commands), timeout=timeout)
        if not result.ok:
            raise DaemonError(f"vtysh of {self.name} failed (rc {result.rc}) on {commands!r}: "
                              f"{(result.stderr or result.stdout).strip()[:300]}")
        return result.stdout


def vty_command(path: str | Path, command: str, timeout: float = 5.0) -> tuple[int, str]:
    """Run one command over an FRR daemon's vty socket, speaking vtysh's protocol: the command
    goes NUL-terminated; the answer is the output, three NUL bytes and a status byte
    (0 success, 1 warning, 2 unknown command, ...). Returns (status, output)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\0")
        buf = bytearray()
        while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError(f"{path} closed the connection before the end of the answer")
            buf += chunk
    return buf[-1], buf[:-4].decode(errors="replace")


def _remove_dry_run_tmpdir(daemon: str, pid: int) -> None:
    path = FRR_TMP / f"{daemon}.{pid}"
    try:
        for child in path.iterdir():
            if child.name.startswith("logbuf."):
                child.unlink()
        path.rmdir()  # only if empty: never removes anything else
    except OSError:
        pass


BIRD_USER = "bird"  # created by Debian's bird package


def _bird_user() -> bool:
    try:
        pwd.getpwnam(BIRD_USER)
        grp.getgrnam(BIRD_USER)
    except KeyError:
        return False
    return True


class BirdNode:
    """BIRD 1.x of one Calico node or route-reflector host."""

    def __init__(self, name: str, netns: str, workdir: str | Path, config: str, clock_offset_ns: int | None = None,
                 nice: int = 0):
        self.name, self.netns, self.workdir, self.config = name, netns, Path(workdir), config
        self.clock_offset_ns, self.nice = clock_offset_ns, nice
        self.proc: procs.Proc | None = None

    @property
    def socket(self) -> Path:
        return self.workdir / "bird.ctl"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "bird.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "bird.log"

    def _write(self, config: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)

    def _check(self, path: Path) -> None:
        result = run_argv([binary("bird"), "-p", "-c", str(path)], timeout=30)
        if result.rc != 0:
            raise DaemonError(f"BIRD of {self.name} refuses its configuration: "
                              f"{(result.stderr or result.stdout).strip()[:400]}")

    def check(self) -> None:
        """`bird -p -c CONF` (parse only); DaemonError quotes BIRD's message."""
        self._write(self.config, self.conf_path)
        self._check(self.conf_path)

    def argv(self) -> list[str]:
        # -d, as calico-node runs BIRD (`bird -R -s bird.ctl -d -c bird.cfg`): foreground, and every
        # log class to stderr, i.e. bird.log. With -f alone BIRD logs to syslog and bird.log stays empty.
        argv = [binary("bird"), "-d", "-c", str(self.conf_path), "-s", str(self.socket),
                "-P", str(self.workdir / "bird.pid")]
        if _bird_user():
            argv += ["-u", BIRD_USER, "-g", BIRD_USER]
        return argv

    def start(self, state: "LabState | ProcessBatch") -> None:
        self._write(self.config, self.conf_path)
        self.conf_path.chmod(0o644)
        if _bird_user():
            # BIRD drops to user bird (keeping only CAP_NET_ADMIN/RAW/BIND_SERVICE/BROADCAST)
            # and then writes its pid file and control socket here.
            shutil.chown(self.workdir, BIRD_USER, BIRD_USER)
            self.workdir.chmod(0o755)
        self.proc = procs.start(state, self.netns, self.argv(), log_path=self.log_path, role=f"bird:{self.name}",
                                clock_offset_ns=self.clock_offset_ns, nice=self.nice)

    def wait_ready(self, deadline: float | None = None) -> None:
        """Until `birdc show status` answers through the control socket."""
        deadline = _default_deadline(deadline)
        _wait(self._answers, deadline,
              f"BIRD of {self.name}", self.log_path, lambda: [self.proc] if self.proc else [])

    def _answers(self) -> bool:
        # Over the socket itself (lab/birdctl.py): a birdc process per poll costs ~6 ms.
        try:
            return self.socket.exists() and "ready." in birdctl.command(self.socket, "show status", timeout=2)
        except birdctl.BirdCtlError:
            return False

    def stop(self, deadline: float = 5.0) -> None:
        if self.proc is not None:
            self.proc.stop(deadline)
            self.proc = None

    def birdc_argv(self, command: str) -> list[str]:
        return [binary("birdc"), "-s", str(self.socket), *command.split()]

    def birdc_result(self, command: str, timeout: float = 10.0) -> Result:
        return run_argv(self.birdc_argv(command), timeout=timeout)

    def birdc(self, command: str, timeout: float = 10.0) -> str:
        """One birdc command through the control socket (from the host namespace)."""
        result = self.birdc_result(command, timeout)
        if not result.ok:
            raise DaemonError(f"birdc of {self.name} failed (rc {result.rc}) on {command!r}: "
                              f"{(result.stderr or result.stdout).strip()[:300]}")
        return result.stdout

    def reload(self, config: str | None = None) -> None:
        """Check the new config (if given) with `bird -p`, then `birdc configure` and require
        BIRD to say it reconfigured."""
        if config is not None:
            candidate = self.workdir / "bird.conf.new"
            self._write(config, candidate)
            self._check(candidate)
            candidate.replace(self.conf_path)
            self.config = config
        try:  # over the socket (lab/birdctl.py): a birdc process per node made a 1,000-node reload slow
            out = birdctl.command(self.socket, "configure", timeout=120)  # blocked in the kernel at 1,000 nodes: 30 s was too short
        except birdctl.BirdCtlError as exc:
            raise DaemonError(f"BIRD of {self.name} did not answer `configure`: {exc}") from None
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise DaemonError(f"BIRD of {self.name} did not reconfigure: {out.strip()[:300]}")
