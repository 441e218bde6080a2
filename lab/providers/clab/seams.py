"""Side effects of the clab provider that are not commands, each behind a small seam.

Host bridges (pyroute2), exec into kind nodes (docker SDK) and SSH to VyOS
(paramiko) are injectable so tests use fakes and a dry run prints what would
happen. Docker and paramiko are imported only when used: the package imports
without a Docker engine.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

from ...runner import Runner

NodeExec = Callable[[str, Sequence[str]], str]  # container name, argv -> stdout
SshProbe = Callable[[str, str], bool]  # container name, op-mode command -> answered


class BridgeOps(Protocol):
    def create(self, name: str) -> bool:
        """Create and bring up a host bridge; False when it already existed (then it is not ours)."""

    def delete(self, name: str) -> None: ...


class HostBridges:
    def create(self, name: str) -> bool:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=name):
                return False
            ipr.link("add", ifname=name, kind="bridge")
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        return True

    def delete(self, name: str) -> None:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=name)
            if found:
                ipr.link("del", index=found[0])


class DryRunBridges:
    def __init__(self, runner: Runner):
        self.runner = runner

    def create(self, name: str) -> bool:
        self.runner.note(f"pyroute2: ip link add {name} type bridge; ip link set {name} up (unless it exists)")
        return True

    def delete(self, name: str) -> None:
        self.runner.note(f"pyroute2: ip link del {name} (only if this lab created it)")


def docker_node_exec(runner: Runner) -> NodeExec:
    def run(container: str, argv: Sequence[str]) -> str:
        if runner.dry_run:
            runner.note(f"docker SDK: exec in {container}: {' '.join(argv)}")
            return ""
        import docker

        result = docker.from_env().containers.get(container).exec_run(list(argv))
        return result.output.decode(errors="replace") if result.exit_code == 0 else ""
    return run


def paramiko_probe(user: str = "vyos", password: str = "vyos", dry_run_runner: Runner | None = None) -> SshProbe:
    """SSH to a VyOS container (by its management address) and run an op-mode command."""

    def probe(container: str, command: str) -> bool:
        import docker
        import paramiko

        attrs = docker.from_env().containers.get(container).attrs
        address = next(iter(attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            client.connect(address, username=user, password=password, timeout=5, allow_agent=False, look_for_keys=False)
            # Op-mode commands outside an interactive shell go through VyOS's wrapper.
            _, stdout, _ = client.exec_command(f"/opt/vyatta/bin/vyatta-op-cmd-wrapper {command}", timeout=10)
            return stdout.channel.recv_exit_status() == 0
        except (OSError, paramiko.SSHException):
            return False
        finally:
            client.close()
    return probe


def dry_run_probe(runner: Runner, user: str = "vyos") -> SshProbe:
    def probe(container: str, command: str) -> bool:
        runner.note(f"paramiko: ssh {user}@<{container} management address> "
                    f"'/opt/vyatta/bin/vyatta-op-cmd-wrapper {command}' until it answers")
        return True
    return probe
