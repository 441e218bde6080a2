"""What each provider needs on this host, checked one item per line with how to fix it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Callable

from .preflight import PACKAGES, find_binary

OK, MISSING, WARN = "OK", "MISSING", "WARN"


@dataclass(frozen=True)
class Item:
    provider: str  # netns | clab | both
    status: str
    name: str
    found: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:7} [{self.provider}] {self.name}: {self.found}" + (f" — {self.fix}" if self.fix else "")


def _version(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0][:80] if proc.returncode == 0 and text else None


def _kernel_feature(name: str, probe: Callable[[], bool]) -> Item:
    try:
        ok = probe()
    except OSError:
        ok = False
    return Item("netns", OK if ok else MISSING, f"kernel: {name}", "available" if ok else "not available",
                "" if ok else "needs a Linux kernel with network namespaces, veth and bridge support (and root)")


def _sysctl(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _host_networks() -> list:
    try:
        routes = json.loads(subprocess.run(["ip", "-j", "route"], capture_output=True, text=True).stdout or "[]")
    except (OSError, ValueError):
        return []
    nets = []
    for r in routes:
        dst = r.get("dst", "")
        if dst and dst != "default":
            try:
                nets.append(ip_network(dst if "/" in dst else f"{dst}/32", strict=False))
            except ValueError:
                pass
    return nets


def run_doctor(topology=None, which: Callable[[str], str | None] = find_binary,
               docker_ping: Callable[[], str | None] | None = None) -> list[Item]:
    items: list[Item] = []
    root = os.geteuid() == 0
    items.append(Item("netns", OK if root else MISSING, "root", "yes" if root else f"uid {os.geteuid()}",
                      "" if root else "run as root (sudo): the netns provider creates namespaces"))
    items.append(_kernel_feature("network namespaces", lambda: Path("/proc/self/ns/net").exists()))
    items.append(_kernel_feature("veth/bridge", lambda: Path("/sys/class/net").is_dir()))
    for binary in ("ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping"):
        path = which(binary)
        items.append(Item("netns", OK if path else MISSING, binary, path or "not found",
                          "" if path else f"apt-get install -y {PACKAGES[binary]}"))
    engine = (docker_ping or _docker_ping)()
    items.append(Item("clab", OK if engine else MISSING, "docker engine", engine or "not reachable at unix:///var/run/docker.sock",
                      "" if engine else "install and start Docker (https://docs.docker.com/engine/install/)"))
    fixes = {"kind": "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
             "containerlab": "install containerlab (https://containerlab.dev/install/)",
             "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
             "calicoctl": "install calicoctl matching the Calico version (https://docs.tigera.io/calico/latest/operations/calicoctl/install)"}
    versions = {"kind": ["kind", "version"], "containerlab": ["containerlab", "version"],
                "kubectl": ["kubectl", "version", "--client"], "calicoctl": ["calicoctl", "version", "--client"]}
    for tool, fix in fixes.items():
        path = which(tool)
        found = (_version(versions[tool]) or path) if path else "not found"
        items.append(Item("clab", OK if path else MISSING, tool, found, "" if path else fix))
    for key, minimum in (("max_user_watches", 524288), ("max_user_instances", 512)):
        value = _sysctl(f"/proc/sys/fs/inotify/{key}")
        good = value is not None and value >= minimum
        items.append(Item("clab", OK if good else WARN, f"fs.inotify.{key}", str(value),
                          "" if good else f"kind needs >= {minimum}: sysctl -w fs.inotify.{key}={minimum}"))
    if topology is not None:
        image = topology.vyos_image
        items.append(Item("clab", WARN if not engine else OK, "VyOS image", image,
                          "build or pull the VyOS image and set fabric.vyos_image" if not engine else ""))
        lab_nets = [r.subnet for r in topology.racks] + [topology.cluster.pod_subnet, topology.cluster.service_subnet]
        clashes = [f"{n} overlaps host route {h}" for n in lab_nets for h in _host_networks() if n.overlaps(h)]
        items.append(Item("both", WARN if clashes else OK, "lab subnets vs host routes",
                          "; ".join(clashes) or "no overlap", "pick other subnets in the topology" if clashes else ""))
    return items


def _docker_ping() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=3)
        return f"Docker {client.version().get('Version', '?')}"
    except Exception:  # any failure to reach the engine means "not reachable"
        return None


def provider_ok(items: list[Item], provider: str) -> bool:
    return not any(i.status == MISSING and i.provider in (provider, "both") for i in items)
