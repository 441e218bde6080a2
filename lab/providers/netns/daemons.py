"""FRR and BIRD instances inside lab namespaces.

Each daemon class owns its files in its work directory, checks its config
before starting (the daemon's own dry run, message shown as the daemon says it),
starts in the foreground inside the namespace (so the PID we record is the
daemon's), and has a readiness probe (its control socket answers) polled until
a deadline. Nothing sleeps for a fixed time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from ...errors import DaemonError
from ...exec import proc_starttime, run_argv
from ...preflight import binary
from .state import LabState

POLL = 0.02
# Lines FRR prints on every start in a namespace without MPLS; not about the config.
FRR_BENIGN = ("Disabling MPLS support",)


def _start(state: LabState, netns: str, argv: list[str], log: Path, role: str) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    # `ip netns exec` execs the daemon: this PID is the daemon's.
    state.record_process(proc.pid, proc_starttime(proc.pid), netns, argv, role)
    return proc.pid


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(probe, deadline: float, what: str, log: Path) -> None:
    while True:
        if probe():
            return
        if time.monotonic() >= deadline:
            raise DaemonError(f"{what} did not become ready in time; log {log}: {_tail(log)}")
        time.sleep(POLL)


class FrrRouter:
    """zebra + bgpd of one router, isolated by their own config, pid files and sockets."""

    def __init__(self, name: str, netns: str, workdir: Path, zebra_conf: str, bgpd_conf: str):
        self.name, self.netns, self.workdir = name, netns, Path(workdir)
        self.confs = {"zebra": zebra_conf, "bgpd": bgpd_conf}

    @property
    def vty_dir(self) -> Path:
        return self.workdir

    @property
    def zserv(self) -> Path:
        return self.workdir / "zserv.api"

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for daemon, text in self.confs.items():
            (self.workdir / f"{daemon}.conf").write_text(text)
            (self.workdir / f"{daemon}.conf").chmod(0o644)
        # FRR refuses to run as root and drops to user frr: it must own its directory.
        shutil.chown(self.workdir, "frr", "frr")
        self.workdir.chmod(0o755)

    def _argv(self, daemon: str, dry_run: bool = False) -> list[str]:
        argv = [binary(daemon), "-f", str(self.workdir / f"{daemon}.conf"), "-i", str(self.workdir / f"{daemon}.pid"),
                "-z", str(self.zserv), "--vty_socket", str(self.workdir), "-P", "0"]
        if dry_run:
            argv.append("-C")
        elif daemon == "bgpd":
            argv += ["--log", "stdout"]
        return argv

    def check(self) -> None:
        self._prepare()
        for daemon in self.confs:
            result = run_argv(self._argv(daemon, dry_run=True), timeout=30)
            # FRR's dry run exits 0 on unknown commands: what it prints is the verdict.
            complaints = [line for line in (result.stdout + result.stderr).splitlines()
                          if line.strip() and not any(b in line for b in FRR_BENIGN)]
            if result.rc != 0 or complaints:
                raise DaemonError(f"{daemon} of {self.name} refuses its configuration: "
                                  f"{'; '.join(complaints[:3]) or f'exit code {result.rc}'}")

    def start(self, state: LabState, deadline: float) -> None:
        self._prepare()
        log = self.workdir / "zebra.log"
        _start(state, self.netns, self._argv("zebra"), log, f"zebra:{self.name}")
        # bgpd would retry its zebra connection later; starting it once zebra listens avoids the wait.
        _wait(lambda: self.zserv.exists(), deadline, f"zebra of {self.name}", log)
        _start(state, self.netns, self._argv("bgpd"), self.workdir / "bgpd.log", f"bgpd:{self.name}")

    def wait_ready(self, deadline: float) -> None:
        def answers() -> bool:
            if not ((self.workdir / "zebra.vty").exists() and (self.workdir / "bgpd.vty").exists()):
                return False
            return run_argv(self.vtysh_argv("show bgp summary json"), timeout=5).ok
        _wait(answers, deadline, f"FRR of {self.name}", self.workdir / "bgpd.log")

    def vtysh_argv(self, *commands: str) -> list[str]:
        argv = ["vtysh", "--vty_socket", str(self.workdir)]
        for command in commands:
            argv += ["-c", command]
        return argv


class BirdNode:
    """BIRD 1.x of one Calico node or route-reflector host."""

    def __init__(self, name: str, netns: str, workdir: Path, config: str):
        self.name, self.netns, self.workdir, self.config = name, netns, Path(workdir), config

    @property
    def socket(self) -> Path:
        return self.workdir / "bird.ctl"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "bird.conf"

    def _write(self, config: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)

    def _check(self, path: Path) -> None:
        result = run_argv([binary("bird"), "-p", "-c", str(path)], timeout=30)
        if result.rc != 0:
            raise DaemonError(f"BIRD of {self.name} refuses its configuration: "
                              f"{(result.stderr or result.stdout).strip()[:400]}")

    def check(self) -> None:
        self._write(self.config, self.conf_path)
        self._check(self.conf_path)

    def start(self, state: LabState) -> None:
        self._write(self.config, self.conf_path)
        argv = [binary("bird"), "-f", "-c", str(self.conf_path), "-s", str(self.socket), "-P", str(self.workdir / "bird.pid")]
        _start(state, self.netns, argv, self.workdir / "bird.log", f"bird:{self.name}")

    def wait_ready(self, deadline: float) -> None:
        _wait(lambda: self.socket.exists() and self.birdc_result("show status").ok, deadline,
              f"BIRD of {self.name}", self.workdir / "bird.log")

    def birdc_result(self, command: str):
        return run_argv(["birdc", "-s", str(self.socket), *command.split()], timeout=10)

    def reload(self, config: str) -> None:
        """Check the new config, then make the running BIRD load it (`birdc configure`)."""
        candidate = self.workdir / "bird.conf.new"
        self._write(config, candidate)
        self._check(candidate)
        candidate.replace(self.conf_path)
        self.config = config
        result = self.birdc_result("configure")
        if not result.ok or "configur" not in result.stdout.lower() or "failed" in result.stdout.lower():
            raise DaemonError(f"BIRD of {self.name} did not reload: {result.stdout.strip()[:300]}")
