"""Test doubles for the clab provider's seams: a docker SDK client, a paramiko client, host bridges.

They record what they were asked and answer from a script, so the contract
tests run the whole provider without Docker, SSH or root. (The recording
command runner is `lab.runner.RecordingRunner`.)
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, NamedTuple

from ...errors import LabError

ExecAnswer = Callable[[str, tuple], tuple[int, str, str]]  # (container, argv) -> (rc, stdout, stderr)
SshAnswer = Callable[[str, str], tuple[int, str, str]]  # (address, command) -> (rc, stdout, stderr)


class NotFound(Exception):
    """Named like docker.errors.NotFound, which the seams recognise by name."""

    status_code = 404


class ExecResult(NamedTuple):
    exit_code: int
    output: object


class FakeContainer:
    def __init__(self, client: "FakeDockerClient", name: str):
        self.client, self.name = client, name
        self.attrs = {"NetworkSettings": {"Networks": {"clab": {"IPAddress": client.address_of(name)}}}}

    def exec_run(self, cmd, demux=False):
        argv = tuple(cmd)
        self.client.execs.append((self.name, argv))
        if self.client.exec_delay:
            time.sleep(self.client.exec_delay)
        rc, out, err = self.client.exec_answer(self.name, argv)
        if demux:
            return ExecResult(rc, (out.encode() or None, err.encode() or None))
        return ExecResult(rc, (out + err).encode())


class _Containers:
    def __init__(self, client: "FakeDockerClient"):
        self.client = client

    def get(self, name: str) -> FakeContainer:
        if self.client.known is not None and name not in self.client.known:
            raise NotFound(f"No such container: {name}")
        return FakeContainer(self.client, name)


class _Images:
    def __init__(self, client: "FakeDockerClient"):
        self.client = client

    def get(self, name: str):
        if name not in self.client.images_present:
            raise NotFound(f"No such image: {name}")
        return {"Id": f"sha256:{name}"}


class FakeDockerClient:
    """What `docker.from_env()` returns, as far as the provider uses it."""

    def __init__(self, exec_answer: ExecAnswer | None = None, known: Iterable[str] | None = None,
                 images: Iterable[str] = (), exec_delay: float = 0.0, reachable: bool = True):
        self.exec_answer = exec_answer or (lambda container, argv: (0, "", ""))
        self.known = set(known) if known is not None else None
        self.images_present = set(images)
        self.exec_delay = exec_delay
        self.reachable = reachable
        self.execs: list[tuple[str, tuple]] = []
        self.containers = _Containers(self)
        self.images = _Images(self)

    def address_of(self, name: str) -> str:
        return f"172.20.20.{sum(name.encode()) % 250 + 2}"

    def version(self) -> dict:
        if not self.reachable:
            raise ConnectionError("connection refused")
        return {"Version": "99.0-fake", "ApiVersion": "1.99"}


class _Channel:
    def __init__(self, rc: int):
        self.rc = rc

    def recv_exit_status(self) -> int:
        return self.rc


class _Stream:
    def __init__(self, data: str, rc: int):
        self.data, self.channel = data.encode(), _Channel(rc)

    def read(self) -> bytes:
        return self.data


class FakeSshClient:
    """What the SSH factory returns (paramiko.SSHClient's connect / exec_command / close)."""

    def __init__(self, log: "SshLog"):
        self.log, self.address = log, ""  # the address connect() was given

    def connect(self, hostname, port=22, username=None, password=None, timeout=None, allow_agent=True,
                look_for_keys=True):
        if self.log.refuse:
            raise ConnectionRefusedError(f"{hostname}:{port} refused")
        self.address = hostname
        self.log.connects.append((hostname, port, username, password))

    def exec_command(self, command, timeout=None):
        self.log.commands.append((self.address, command))
        rc, out, err = self.log.answer(self.address, command)
        return None, _Stream(out, rc), _Stream(err, rc)

    def close(self):
        self.log.closed += 1


class SshLog:
    """The factory for FakeSshClient, and what all its clients were asked."""

    def __init__(self, answer: SshAnswer | None = None, refuse: bool = False):
        self.answer = answer or (lambda address, command: (0, "", ""))
        self.refuse = refuse
        self.connects: list[tuple] = []
        self.commands: list[tuple[str, str]] = []
        self.closed = 0

    def __call__(self) -> FakeSshClient:
        return FakeSshClient(self)


class FakeBridges:
    """Host bridges in a set; `existing` ones were there before the lab."""

    def __init__(self, existing: Iterable[str] = (), fail_create: bool = False):
        self.present = set(existing)
        self.fail_create = fail_create
        self.ops: list[tuple[str, str]] = []

    @property
    def created(self) -> list[str]:
        return [name for op, name in self.ops if op == "create"]

    @property
    def deleted(self) -> list[str]:
        return [name for op, name in self.ops if op == "delete"]

    def exists(self, name: str) -> bool:
        return name in self.present

    def create(self, name: str) -> None:
        if self.fail_create:
            raise LabError(f"cannot create bridge {name}: Operation not permitted (injected)")
        self.ops.append(("create", name))
        self.present.add(name)

    def delete(self, name: str) -> None:
        self.ops.append(("delete", name))
        self.present.discard(name)


# -- what VyOS's op-mode commands print, for a router of a topology ---------------------------------

def vyos_show_interfaces(router, up: bool = True, missing: tuple[str, ...] = ()) -> str:
    """`show interfaces` as VyOS 1.4/1.5 prints it: every fabric interface with its address and S/L."""
    lines = ["Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down",
             "Interface    IP Address         MAC                VRF        MTU  S/L    Description",
             "-----------  -----------------  -----------------  -------  -----  -----  -------------",
             "eth0         172.20.20.3/24     aa:c1:ab:00:00:01  default   1500  u/u"]
    for index, iface in enumerate(router.interfaces, 2):
        address = "-" if iface.name in missing else str(iface.address)
        lines.append(f"{iface.name:<12} {address:<18} aa:c1:ab:00:00:{index:02x}  default   1500  "
                     f"{'u/u' if up else 'u/D'}")
    lines += ["lo           127.0.0.1/8        00:00:00:00:00:00  default  65536  u/u", "             ::1/128"]
    return "\n".join(lines) + "\n"


def frr_bgp_summary(router_id: str, asn: int, neighbors, established: bool = True) -> str:
    """FRR's `show ip bgp summary` table; `neighbors` are fabric.Neighbor values."""
    lines = ["", "IPv4 Unicast Summary (VRF default):",
             f"BGP router identifier {router_id}, local AS number {asn} vrf-id 0", "BGP table version 6", "",
             "Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc"]
    for n in neighbors:
        up = established and n.kind == "fabric"  # rack nodes connect only once Calico runs
        lines.append(f"{str(n.address):<15} 4 {n.remote_as:>10} {12 if up else 0:>9} {14 if up else 0:>9} "
                     f"{6 if up else 0:>8} {0:>4} {0:>4} {'00:00:08' if up else 'never':>8} "
                     f"{'3' if up else 'Active':>12} {6 if up else 0:>8} {n.description}")
    lines += ["", f"Total number of neighbors {len(lines) - 6}"]
    return "\n".join(lines) + "\n"
