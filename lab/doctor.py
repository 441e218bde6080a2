"""`lab.doctor`: what each provider needs on this host, one line per item with how to fix it.

Every probe only reads (files under /proc and /sys, `--version`-style commands,
`ip -j` listings, the docker engine's version and image list); nothing is
changed. The probes sit in `HostProbes` so tests can describe any host.

Line format:  `OK|MISSING|WARN  <item>: <what was found> — <how to fix>`.
MISSING makes the provider not ready; WARN is advice.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any, Callable, Sequence

from . import model as m
from .exec import run_argv
from .headroom import HostLimits, read_host_limits
from .preflight import PACKAGES, find_binary

OK, MISSING, WARN = "OK", "MISSING", "WARN"
NETNS, CLAB, BOTH = "netns", "clab", "both"
PROVIDERS = (NETNS, CLAB)
TITLES = {BOTH: "both providers", NETNS: "netns provider (namespaces + FRR + BIRD on this host)",
          CLAB: "clab provider (kind + containerlab + VyOS in Docker)"}

NETNS_BINARIES = ("ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping")
# kind's known issues: multi-node clusters exhaust the default inotify limits ("too many open files");
# 4 kind nodes and 4 systemd VyOS containers exceed the usual 8192 watches / 128 instances.
INOTIFY_MINIMUM = {"max_user_watches": 524288, "max_user_instances": 512}
# Docker Hub's pull limit for unauthenticated users: 10 pulls per hour per IPv4 address (or IPv6 /64);
# free accounts get 100 per hour (Docker Hub "usage and limits" docs, since April 2025).
HUB_ANONYMOUS_PULLS_PER_HOUR = 10
VYOS_RECIPE = ("build one from a VyOS 1.5 Stream ISO with contrib/vyos/Dockerfile (see contrib/vyos/README.md: "
               "extract live/filesystem.squashfs to rootfs.tar, then `docker build -t {image} contrib/vyos`); "
               "or set fabric.vyos_image to an image you have")
CLAB_TOOLS = {
    "kind": (["kind", "version"], "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"),
    "containerlab": (["containerlab", "version"], "install containerlab: https://containerlab.dev/install/"),
    "kubectl": (["kubectl", "version", "--client"], "install kubectl: https://kubernetes.io/docs/tasks/tools/"),
    "calicoctl": (["calicoctl", "version"], "install calicoctl (the same minor version as the lab's Calico): "
                  "https://docs.tigera.io/calico/latest/operations/calicoctl/install"),
    "curl": (["curl", "--version"], "apt-get install -y curl (downloads the Calico manifest)"),
}


@dataclass(frozen=True)
class Item:
    provider: str  # netns | clab | both
    status: str  # OK | MISSING | WARN
    name: str
    found: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<7}  {self.name}: {self.found}"
        return text + (f" — {self.fix}" if self.fix and self.status != OK else "")


# -- probes (read-only) --------------------------------------------------------------------------

def _version(argv: Sequence[str]) -> str | None:
    """The line of a version command's output that names the version (or its first line)."""
    result = run_argv(argv, timeout=10)
    lines = [ln.strip() for ln in (result.stdout + "\n" + result.stderr).splitlines() if ln.strip()]
    if not lines or result.rc == 127:
        return None
    for line in lines:
        if "version" in line.lower() and re.search(r"\d+\.\d+", line):
            return line[:100].rstrip()
    return lines[0][:100].rstrip()


def _sysctl(name: str) -> int | None:
    try:
        return int(Path("/proc/sys", *name.split(".")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kernel_config() -> tuple[dict[str, str], str]:
    """CONFIG_* values of the running kernel and where they were read (empty when unknown)."""
    candidates = [("/proc/config.gz", True), (f"/boot/config-{platform.release()}", False)]
    for path, gz in candidates:
        try:
            raw = gzip.open(path, "rt").read() if gz else Path(path).read_text()
        except OSError:
            continue
        values = {}
        for line in raw.splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                values[line[2:].split()[0]] = "n"
        return values, path
    return {}, ""


def _host_networks() -> list[tuple[str, IPv4Network]]:
    """The host's IPv4 routes (main table) and interface networks, read with `ip -j`."""
    found: list[tuple[str, IPv4Network]] = []
    routes = run_argv(["ip", "-j", "-4", "route", "show"], timeout=10)
    try:
        for route in json.loads(routes.stdout or "[]"):
            dst = route.get("dst", "")
            if dst and dst != "default":
                found.append((f"route {dst} dev {route.get('dev', '?')}",
                              IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)))
    except ValueError:
        pass
    addrs = run_argv(["ip", "-j", "-4", "addr", "show"], timeout=10)
    try:
        for link in json.loads(addrs.stdout or "[]"):
            for info in link.get("addr_info", []):
                if info.get("family") == "inet" and info.get("scope") != "host":
                    net = IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                    found.append((f"address {info['local']}/{info['prefixlen']} on {link.get('ifname', '?')}", net))
    except (ValueError, KeyError):
        pass
    return found


def _docker_hub_login() -> bool | None:
    """Whether the Docker CLI has Docker Hub credentials (None: a credential helper that we cannot read)."""
    path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if any("docker.io" in key for key in (config.get("auths") or {})):
        return True
    return None if config.get("credsStore") or config.get("credHelpers") else False


def _default_docker():
    from .hostseams import Docker

    return Docker()


@dataclass
class HostProbes:
    which: Callable[[str], str | None] = find_binary
    euid: Callable[[], int] = os.geteuid
    version: Callable[[Sequence[str]], str | None] = _version
    sysctl: Callable[[str], int | None] = _sysctl
    path_exists: Callable[[str], bool] = os.path.exists
    kernel_config: Callable[[], tuple[dict[str, str], str]] = _kernel_config
    host_networks: Callable[[], list[tuple[str, IPv4Network]]] = _host_networks
    docker_factory: Callable[[], Any] = _default_docker
    hub_login: Callable[[], bool | None] = _docker_hub_login
    limits: Callable[[], HostLimits] = read_host_limits
    _docker: Any = field(default=None, repr=False)

    def docker(self):
        if self._docker is None:
            self._docker = self.docker_factory()
        return self._docker


# -- the checks ----------------------------------------------------------------------------------

def _root(p: HostProbes) -> Item:
    uid = p.euid()
    return Item(BOTH, OK if uid == 0 else MISSING, "root", "running as root" if uid == 0 else f"running as uid {uid}",
                "run with sudo: netns creates namespaces; clab creates host bridges and containerlab needs root")


def _kernel(p: HostProbes) -> list[Item]:
    config, source = p.kernel_config()
    items = []
    for label, option, module, marker in (("network namespaces", "CONFIG_NET_NS", None, "/proc/self/ns/net"),
                                          ("veth", "CONFIG_VETH", "veth", None),
                                          ("bridge", "CONFIG_BRIDGE", "bridge", None)):
        value = config.get(option)
        if marker and p.path_exists(marker):
            status, found = OK, f"available ({marker})"
        elif module and p.path_exists(f"/sys/module/{module}"):
            status, found = OK, f"module {module} loaded"
        elif value in ("y", "m"):
            status, found = OK, f"{option}={value} ({source})"
        elif value == "n":
            status, found = MISSING, f"{option} is not set ({source})"
        else:
            status, found = WARN, "cannot tell (no /proc/config.gz or /boot/config-*, module not loaded)"
        items.append(Item(BOTH, status, f"kernel: {label}", found,
                          "a kernel with network namespaces, veth and bridge support (any distribution kernel has them)"))
    return items


def _time_namespaces(p: HostProbes) -> Item:
    # Not required: without them the lab runs, but its BIRDs share one clock phase (timens.py).
    if p.path_exists("/proc/self/ns/time"):
        return Item(NETNS, OK, "kernel: time namespaces", "available (/proc/self/ns/time): each BIRD gets its own clock phase")
    return Item(NETNS, WARN, "kernel: time namespaces", "not available (CONFIG_TIME_NS, Linux 5.6+)",
                "without them every BIRD ticks on the host's one clock: sessions that collide after a reload "
                "can retry in step for a minute or more")


def _netns_binaries(p: HostProbes) -> list[Item]:
    items = []
    for binary in NETNS_BINARIES:
        path = p.which(binary)
        items.append(Item(NETNS, OK if path else MISSING, binary, path or "not found",
                          f"apt-get install -y {PACKAGES.get(binary, binary)}"))
    return items


def _minor(text: str | None) -> tuple[int, int] | None:
    found = re.search(r"v?(\d+)\.(\d+)", text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def _clab_tools(p: HostProbes, topo: m.Topology | None) -> list[Item]:
    items = []
    docker_cli = p.which("docker")
    items.append(Item(CLAB, OK if docker_cli else MISSING, "docker CLI", docker_cli or "not found",
                      "install Docker Engine: https://docs.docker.com/engine/install/"))
    for tool, (argv, fix) in CLAB_TOOLS.items():
        path = p.which(tool)
        if not path:
            items.append(Item(CLAB, MISSING, tool, "not found", fix))
            continue
        version = p.version(argv)
        items.append(Item(CLAB, OK, tool, f"{path}: {version}" if version else f"{path} (version unknown)"))
        if tool == "calicoctl" and topo is not None:
            have, want = _minor(version), _minor(topo.calico.version)
            if have and want and have != want:
                items.append(Item(CLAB, WARN, "calicoctl version", f"calicoctl {have[0]}.{have[1]}, lab's Calico "
                                  f"{topo.calico.version}", f"install calicoctl {want[0]}.{want[1]}.x (the lab passes "
                                  "--allow-version-mismatch, but resources may not round-trip)"))
    return items


def _engine(p: HostProbes, topo: m.Topology | None) -> list[Item]:
    from .hostseams import docker_endpoint

    try:
        answer = p.docker().ping()
    except Exception:  # a missing SDK or any engine error: the engine is not usable
        answer = None
    endpoint = docker_endpoint()
    items = [Item(CLAB, OK if answer else MISSING, "docker engine",
                  f"{answer} at {endpoint}" if answer else f"not reachable at {endpoint}",
                  "install Docker Engine and start it (systemctl start docker); https://docs.docker.com/engine/install/")]
    if topo is not None:
        image_fix = (f"VyOS publishes no container image for {topo.vyos_version}: " +
                     VYOS_RECIPE.format(image=topo.vyos_image))
        if not answer:
            items.append(Item(CLAB, MISSING, f"VyOS image {topo.vyos_image}", "cannot check: docker engine not reachable",
                              image_fix))
        else:
            try:
                present = p.docker().image_present(topo.vyos_image)
            except Exception as exc:
                items.append(Item(CLAB, WARN, f"VyOS image {topo.vyos_image}", f"cannot check: {exc}", image_fix))
            else:
                items.append(Item(CLAB, OK if present else MISSING, f"VyOS image {topo.vyos_image}",
                                  "present" if present else "not present", image_fix))
                items.append(_pulls(p, topo))
    return items


def _from_docker_hub(image: str) -> bool:
    first = image.split("/", 1)[0]
    return "/" not in image or first in ("docker.io", "index.docker.io") or ("." not in first and ":" not in first)


def _pulls(p: HostProbes, topo: m.Topology) -> Item:
    """The images the lab pulls on the host (once each), against Docker Hub's anonymous pull limit."""
    from .render.images import host_images

    try:
        absent = [i for i in host_images(topo) if not p.docker().image_present(i)]
    except Exception as exc:
        return Item(CLAB, WARN, "image pulls", f"cannot check: {exc}")
    hub = [i for i in absent if _from_docker_hub(i)]
    name = "image pulls (Docker Hub)"
    if not hub:
        return Item(CLAB, OK, name, f"nothing to pull from Docker Hub ({len(absent)} from other registries)")
    login = p.hub_login()
    found = f"{len(hub)} images to pull from Docker Hub: {', '.join(hub)}"
    if login:
        return Item(CLAB, OK, name, found + " (logged in)")
    fix = ("`docker login` (a free account may pull 100 per hour), or pull them beforehand on a connection with "
           "quota left: " + "; ".join(f"docker pull {i}" for i in hub))
    if len(hub) > HUB_ANONYMOUS_PULLS_PER_HOUR and login is False:
        return Item(CLAB, MISSING, name, found + f"; more than the {HUB_ANONYMOUS_PULLS_PER_HOUR} per hour Docker Hub "
                    "allows without a login", fix)
    return Item(CLAB, OK if login is False else WARN, name,
                found + (f" (anonymous: within the {HUB_ANONYMOUS_PULLS_PER_HOUR} per hour, if this address has "
                         "not pulled much in the last hour)" if login is False else " (credential helper: not checked)"),
                fix)


def _inotify(p: HostProbes) -> list[Item]:
    items = []
    for key, minimum in INOTIFY_MINIMUM.items():
        value = p.sysctl(f"fs.inotify.{key}")
        good = value is not None and value >= minimum
        # An error, not advice: below these, kind nodes and VyOS's systemd fail with "too many open files".
        items.append(Item(CLAB, OK if good else MISSING, f"fs.inotify.{key}",
                          f"{value}" + ("" if good else f" (a multi-node kind cluster next to VyOS needs >= {minimum})"),
                          f"sysctl -w fs.inotify.{key}={minimum} (persist it in /etc/sysctl.d/99-fabriclab.conf)"))
    return items


def _headroom(p: HostProbes, topo: m.Topology | None, needs) -> list[Item]:
    from .headroom import doctor_lines

    return [Item(NETNS, status, name, found, fix) for status, name, found, fix in
            doctor_lines(p.limits(), topo, needs if topo is not None else None)]


def lab_networks(topo: m.Topology) -> list[tuple[str, IPv4Network]]:
    nets: dict[IPv4Network, str] = {}
    for rack in topo.racks:
        nets.setdefault(rack.subnet, f"rack {rack.name}")
    for router in topo.routers:
        for iface in router.interfaces:
            nets.setdefault(iface.address.network, f"{router.name} {iface.name}")
    for host in topo.hosts:
        nets.setdefault(host.ip.network, f"host {host.name}")
    nets.setdefault(topo.cluster.pod_subnet, "pod subnet")
    nets.setdefault(topo.cluster.service_subnet, "Service subnet")
    return [(what, net) for net, what in nets.items()]


def _subnets(p: HostProbes, topo: m.Topology) -> Item:
    host = p.host_networks()
    clashes = [f"{net} ({what}) overlaps {where}" for what, net in lab_networks(topo)
               for where, other in host if net.overlaps(other)]
    return Item(BOTH, WARN if clashes else OK, "lab subnets vs this host",
                "; ".join(clashes) if clashes else f"none of the lab's {len(lab_networks(topo))} subnets overlaps "
                f"the host's {len(host)} routes/addresses",
                "give the lab other subnets in the topology (addresses inside the lab would shadow, or be shadowed by, "
                "the host's networks)")


def collect(provider: str | None = None, *, topology: m.Topology | None = None,
            probes: HostProbes | None = None, needs=None) -> list[Item]:
    """The items for one provider (and the shared ones), or for all when provider is None.
    `needs`: the topology's head-room needs on the netns provider (`headroom.LabNeeds`)."""
    p = probes or HostProbes()
    items = [_root(p), *_kernel(p)]
    if topology is not None:
        items.append(_subnets(p, topology))
    if provider in (None, NETNS):
        items += [_time_namespaces(p), *_netns_binaries(p), *_headroom(p, topology, needs)]
    if provider in (None, CLAB):
        items += _clab_tools(p, topology) + _engine(p, topology) + _inotify(p)
    return items


def provider_ok(items: Sequence[Item], provider: str) -> bool:
    return not any(i.status == MISSING and i.provider in (provider, BOTH) for i in items)


def report(items: Sequence[Item], providers: Sequence[str]) -> tuple[list[str], dict[str, bool]]:
    lines: list[str] = []
    for group in (BOTH, *providers):
        chosen = [i for i in items if i.provider == group]
        if chosen:
            lines.append(f"{TITLES[group]}:")
            lines += [i.line() for i in chosen]
    verdicts = {p: provider_ok(items, p) for p in providers}
    for p, ok in verdicts.items():
        missing = sum(1 for i in items if i.status == MISSING and i.provider in (p, BOTH))
        lines.append(f"{p} provider: " + ("ready on this host" if ok else f"NOT ready on this host ({missing} missing)"))
    return lines, verdicts


def run_doctor(provider: str | None = None, *, topology: m.Topology | None = None,
               probes: HostProbes | None = None, needs=None) -> tuple[list[str], dict[str, bool]]:
    """(lines to print, {provider: ready}) for one provider or, with None, for both."""
    if provider is not None and provider not in PROVIDERS:
        from .errors import LabError

        raise LabError(f"unknown provider '{provider}' (use one of: {', '.join(PROVIDERS)})")
    providers = [provider] if provider else list(PROVIDERS)
    return report(collect(provider, topology=topology, probes=probes, needs=needs), providers)
