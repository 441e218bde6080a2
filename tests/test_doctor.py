"""`lab.doctor`: one line per item with how to fix it; the verdict per provider; honest on this host."""

from __future__ import annotations

import io
import re
from ipaddress import ip_network

import pytest

from lab.commands.doctor import doctor
from lab.doctor import HostProbes, run_doctor
from lab.errors import LabError
from lab.loader import load_topology
from lab.providers.clab.fakes import FakeDockerClient
from lab.providers.clab.seams import Docker

TOPO = load_topology("calico-bgp-rr")
NETNS_TOOLS = {"ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping"}
CLAB_TOOLS = {"docker", "kind", "containerlab", "kubectl", "calicoctl", "curl"}
LINE = re.compile(r"^(OK|MISSING|WARN) +\S.*?: .+")
VERSIONS = {"kind": "kind v0.20.0 go1.20.4 linux/amd64", "containerlab": "version: 0.48.6",
            "kubectl": "Client Version: v1.28.2", "calicoctl": "Client Version:    v3.23.5", "curl": "curl 7.88.1"}


def probes(tools=NETNS_TOOLS, uid=0, docker=None, watches=524288, instances=512, networks=(), config=None):
    client = docker
    return HostProbes(
        which=lambda name: f"/usr/bin/{name}" if name in tools else None,
        euid=lambda: uid,
        version=lambda argv: VERSIONS.get(argv[0]),
        sysctl=lambda name: {"fs.inotify.max_user_watches": watches, "fs.inotify.max_user_instances": instances}[name],
        path_exists=lambda path: path in ("/proc/self/ns/net", "/sys/module/bridge"),
        kernel_config=lambda: (config if config is not None else {"CONFIG_VETH": "y", "CONFIG_BRIDGE": "y"},
                               "/proc/config.gz"),
        host_networks=lambda: list(networks),
        docker_factory=lambda: Docker(factory=(lambda: client) if client else _unreachable))


def _unreachable():
    raise ConnectionError("connect: no such file or directory")


def run(provider, p):
    out = io.StringIO()
    code = doctor(provider, None, out=out, probes=p)
    return code, out.getvalue()


def test_a_host_without_docker_or_kind_is_told_so_and_only_clab_fails():
    p = probes()
    code, text = run("clab", p)
    assert code == 1
    assert "MISSING  docker engine: not reachable at unix:///var/run/docker.sock — install Docker Engine" in text
    assert "MISSING  kind: not found — install kind: https://kind.sigs.k8s.io/" in text
    assert "MISSING  containerlab: not found — install containerlab" in text
    assert "MISSING  VyOS image vyos/vyos:1.4: cannot check: docker engine not reachable" in text
    assert text.rstrip().splitlines()[-1].startswith("clab provider: NOT ready on this host (")
    assert "netns provider" not in text  # only what was asked for

    code, text = run("netns", p)
    assert code == 0 and "netns provider: ready on this host" in text and "docker" not in text
    code, text = run(None, p)
    assert code == 0  # one provider can run here
    assert "netns provider: ready on this host" in text and "clab provider: NOT ready" in text


def test_every_line_is_status_item_found_and_fix():
    code, text = run(None, probes(tools=set(), uid=1000, watches=8192))
    body = [ln for ln in text.splitlines() if not ln.endswith(":") and "provider:" not in ln]
    assert body and all(LINE.match(ln) for ln in body), body
    assert all(" — " in ln for ln in body if not ln.startswith("OK"))  # everything not OK says how to fix it
    assert code == 1
    assert "MISSING  root: running as uid 1000 — run with sudo" in text
    assert "MISSING  bird: not found — apt-get install -y bird" in text
    assert "MISSING  zebra: not found — apt-get install -y frr" in text
    assert "WARN     fs.inotify.max_user_watches: 8192 (kind needs >= 524288" in text
    assert "sysctl -w fs.inotify.max_user_watches=524288" in text


def test_a_host_with_everything_is_ready_for_both():
    client = FakeDockerClient(images=["vyos/vyos:1.4"])
    code, text = run(None, probes(tools=NETNS_TOOLS | CLAB_TOOLS, docker=client))
    assert code == 0, text
    assert "OK       docker engine: Docker 99.0-fake (API 1.99) at unix:///var/run/docker.sock" in text
    assert "OK       kind: /usr/bin/kind: kind v0.20.0 go1.20.4 linux/amd64" in text
    assert "OK       VyOS image vyos/vyos:1.4: present" in text
    assert "clab provider: ready on this host" in text and "netns provider: ready on this host" in text
    code, text = run("clab", probes(tools=CLAB_TOOLS, docker=FakeDockerClient()))
    assert code == 1 and "MISSING  VyOS image vyos/vyos:1.4: not present — VyOS publishes no container image" in text


def test_calicoctl_of_another_minor_version_is_a_warning():
    VERSIONS["calicoctl"] = "Client Version:    v3.26.1"
    try:
        _, text = run("clab", probes(tools=CLAB_TOOLS, docker=FakeDockerClient(images=["vyos/vyos:1.4"])))
    finally:
        VERSIONS["calicoctl"] = "Client Version:    v3.23.5"
    assert "WARN     calicoctl version: calicoctl 3.26, lab's Calico v3.23.5 — install calicoctl 3.23.x" in text


def test_subnets_that_collide_with_the_host_are_named():
    nets = [("route 10.1.0.0/16 dev eth0", ip_network("10.1.0.0/16")),
            ("address 192.0.2.2/24 on eth0", ip_network("192.0.2.0/24"))]
    _, text = run("netns", probes(networks=nets))
    line = next(ln for ln in text.splitlines() if "lab subnets vs this host" in ln)
    assert line.startswith("WARN") and "10.1.5.0/24 (rack rack0) overlaps route 10.1.0.0/16 dev eth0" in line
    assert "10.1.10.0/24 (spine0 eth1)" in line and "give the lab other subnets" in line
    _, text = run("netns", probes(networks=nets[1:]))
    assert "OK       lab subnets vs this host: none of the lab's" in text


def test_kernel_features_come_from_modules_or_the_kernel_config():
    _, text = run("netns", probes(config={"CONFIG_VETH": "n", "CONFIG_BRIDGE": "y"}))
    assert "OK       kernel: network namespaces: available (/proc/self/ns/net)" in text
    assert "MISSING  kernel: veth: CONFIG_VETH is not set (/proc/config.gz)" in text
    assert "OK       kernel: bridge: module bridge loaded" in text
    code, text = run("netns", probes(config={}))
    assert "WARN     kernel: veth: cannot tell" in text and code == 0


def test_unknown_provider():
    with pytest.raises(LabError, match="unknown provider 'vagrant'"):
        run_doctor("vagrant")


def test_this_host_is_reported_honestly():
    """No fakes: whatever this host has, every line is well-formed and the verdicts match the lines."""
    lines, verdicts = run_doctor(None, topology=TOPO)
    items = [ln for ln in lines if LINE.match(ln)]
    assert len(items) >= 20
    for provider, ready in verdicts.items():
        assert (f"{provider} provider: ready on this host" in lines) == ready
    import shutil

    if shutil.which("kind") is None:
        assert verdicts["clab"] is False and any(ln.startswith("MISSING  kind: not found") for ln in lines)
