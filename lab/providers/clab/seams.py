"""Side effects of the clab provider that are not commands, each behind a small seam.

- `BridgeOps`: the rack bridges on the host (pyroute2).
- `Docker`: exec into containers, their management address, image presence,
  engine reachability (docker SDK, client from an injectable factory).
- `VyosSsh`: SSH to the VyOS routers (paramiko, client from an injectable
  factory; credentials configurable, default the VyOS image's vyos/vyos).

Each has a dry-run form that prints, as one line of the plan, what it would do.
Docker and paramiko are imported only when a real client is made: this module
imports on a host without a Docker engine (or without the SDKs).
"""

from __future__ import annotations

import shlex
from typing import Any, Callable, Protocol, Sequence

from ...errors import LabError
from ...exec import Result
# The docker seam lives one layer down (lab.doctor uses it too); re-exported for the provider's users.
from ...hostseams import CLAB_MGMT_NETWORK, Docker, as_text, docker_endpoint, docker_from_env  # noqa: F401
from ...runner import Runner

# -- what the provider's context holds (real seam or dry-run stand-in) ---------------------------

class DockerOps(Protocol):  # hostseams.Docker, DryRunDocker
    def exec(self, container: str, argv: Sequence[str], *, timeout: float = 10.0) -> Result: ...

    def address(self, container: str, network: str = CLAB_MGMT_NETWORK) -> str: ...

    def image_present(self, image: str) -> bool: ...

    def ping(self) -> str | None: ...


class SshOps(Protocol):  # VyosSsh, DryRunSsh
    def run(self, container: str, command: str, *, timeout: float = 20.0) -> Result: ...

    def probe(self, container: str, command: str, marker: str) -> bool: ...

    def close(self, container: str | None = None) -> None: ...


# -- host bridges -------------------------------------------------------------------------------

class BridgeOps(Protocol):
    def exists(self, name: str) -> bool: ...

    def create(self, name: str) -> None:
        """Create the bridge and bring it up."""

    def delete(self, name: str) -> None:
        """Delete the bridge if it exists (a no-op when it does not)."""


class HostBridges:
    """Linux bridges in the host's network namespace, through pyroute2 (no `ip` command)."""

    def exists(self, name: str) -> bool:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            return bool(ipr.link_lookup(ifname=name))

    def create(self, name: str) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            with IPRoute() as ipr:
                ipr.link("add", ifname=name, kind="bridge")
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        except NetlinkError as exc:
            raise LabError(f"cannot create bridge {name}: {exc} (creating host bridges needs root)") from exc

    def delete(self, name: str) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            with IPRoute() as ipr:
                found = ipr.link_lookup(ifname=name)
                if found:
                    ipr.link("del", index=found[0])
        except NetlinkError as exc:
            raise LabError(f"cannot delete bridge {name}: {exc}") from exc


class DryRunBridges:
    """Prints what it would do; reports every bridge as absent, so the plan shows each creation."""

    def __init__(self, runner: Runner):
        self.runner = runner

    def exists(self, name: str) -> bool:
        return False

    def create(self, name: str) -> None:
        self.runner.note(f"pyroute2: ip link add {name} type bridge; ip link set {name} up "
                         "(skipped if it already exists: a bridge this lab did not create is never deleted)")

    def delete(self, name: str) -> None:
        self.runner.note(f"pyroute2: ip link del {name} (only if this lab created it)")


class DryRunDocker:
    dry_run = True

    def __init__(self, runner: Runner):
        self.runner = runner

    def exec(self, container: str, argv: Sequence[str], *, timeout: float = 10.0) -> Result:
        self.runner.note(f"docker SDK: exec in {container}: {shlex.join(argv)}")
        return Result(tuple(argv), 0, "", "")

    def address(self, container: str, network: str = CLAB_MGMT_NETWORK) -> str:
        return f"<{container} address on docker network {network}>"

    def image_present(self, image: str) -> bool:
        # Reported absent, so the plan shows every pull a fresh host would make.
        self.runner.note(f"docker SDK: image {image} present? (the pull below runs only if it is not)")
        return False

    def ping(self) -> str | None:
        return "dry run"


# -- SSH to VyOS --------------------------------------------------------------------------------

VYOS_OP = "/opt/vyatta/bin/vyatta-op-cmd-wrapper"


def paramiko_client() -> Any:
    import paramiko

    client = paramiko.SSHClient()
    # Lab routers are throwaway containers whose host keys change on every deploy.
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    return client


class VyosSsh:
    """SSH sessions to VyOS containers (by management address), one kept open per router."""

    dry_run = False

    def __init__(self, docker: Docker, user: str = "vyos", password: str = "vyos",
                 factory: Callable[[], Any] = paramiko_client, port: int = 22, connect_timeout: float = 5.0):
        self.docker, self.user, self.password = docker, user, password
        self.factory, self.port, self.connect_timeout = factory, port, connect_timeout
        self._sessions: dict[str, Any] = {}

    def _session(self, container: str) -> Any:
        if container not in self._sessions:
            address = self.docker.address(container)
            client = self.factory()
            try:
                client.connect(address, port=self.port, username=self.user, password=self.password,
                               timeout=self.connect_timeout, allow_agent=False, look_for_keys=False)
            except Exception as exc:  # paramiko's SSHException, socket errors, auth failures
                client.close()
                raise LabError(f"ssh {self.user}@{address} ({container}): {exc}") from exc
            self._sessions[container] = client
        return self._sessions[container]

    def run(self, container: str, command: str, *, timeout: float = 20.0) -> Result:
        """Run one remote command line (the remote login shell parses it: quote with shlex)."""
        try:
            client = self._session(container)
            _, stdout, stderr = client.exec_command(command, timeout=timeout)
            out, err = as_text(stdout.read()), as_text(stderr.read())
            return Result(("ssh", container, command), stdout.channel.recv_exit_status(), out, err)
        except LabError:
            raise
        except Exception as exc:
            self.close(container)
            raise LabError(f"ssh to {container}: {command!r} failed: {exc}") from exc

    def probe(self, container: str, command: str, marker: str) -> bool:
        """Whether the op-mode command answers with `marker` in its output (any error means not yet)."""
        try:
            result = self.run(container, f"{VYOS_OP} {command}")
        except LabError:
            return False
        return result.rc == 0 and marker in result.stdout

    def close(self, container: str | None = None) -> None:
        for name in [container] if container else list(self._sessions):
            client = self._sessions.pop(name, None)
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass


class DryRunSsh:
    dry_run = True

    def __init__(self, runner: Runner, user: str = "vyos"):
        self.runner, self.user = runner, user

    def run(self, container: str, command: str, *, timeout: float = 20.0) -> Result:
        self.runner.note(f"paramiko: ssh {self.user}@<{container} management address> {command}")
        return Result(("ssh", container, command), 0, "", "")

    def probe(self, container: str, command: str, marker: str) -> bool:
        self.runner.note(f"paramiko: ssh {self.user}@<{container} management address> "
                         f"'{VYOS_OP} {command}' until the output shows '{marker}'")
        return True

    def close(self, container: str | None = None) -> None:
        pass
