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
            "kubectl": "Client Version: v1.28.2", "calicoctl": "Client Version:    v3.31.3", "curl": "curl 7.88.1"}


def probes(tools=NETNS_TOOLS, uid=0, docker=None, watches=524288, instances=512, networks=(), config=None,
           login=False):
    client = docker
    return HostProbes(
        hub_login=lambda: login,
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
    assert "MISSING  VyOS image vyos/vyos:1.5: cannot check: docker engine not reachable" in text
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
    assert "MISSING  fs.inotify.max_user_watches: 8192 (a multi-node kind cluster next to VyOS needs >= 524288" in text
    assert "sysctl -w fs.inotify.max_user_watches=524288" in text


def test_a_host_with_everything_is_ready_for_both():
    client = FakeDockerClient(images=["vyos/vyos:1.5"])
    code, text = run(None, probes(tools=NETNS_TOOLS | CLAB_TOOLS, docker=client))
    assert code == 0, text
    assert "OK       docker engine: Docker 99.0-fake (API 1.99) at unix:///var/run/docker.sock" in text
    assert "OK       kind: /usr/bin/kind: kind v0.20.0 go1.20.4 linux/amd64" in text
    assert "OK       VyOS image vyos/vyos:1.5: present" in text
    assert "clab provider: ready on this host" in text and "netns provider: ready on this host" in text
    code, text = run("clab", probes(tools=CLAB_TOOLS, docker=FakeDockerClient()))
    assert code == 1 and "MISSING  VyOS image vyos/vyos:1.5: not present — VyOS publishes no container image" in text


def test_calicoctl_of_another_minor_version_is_a_warning():
    VERSIONS["calicoctl"] = "Client Version:    v3.26.1"
    try:
        _, text = run("clab", probes(tools=CLAB_TOOLS, docker=FakeDockerClient(images=["vyos/vyos:1.5"])))
    finally:
        VERSIONS["calicoctl"] = "Client Version:    v3.31.3"
    assert "WARN     calicoctl version: calicoctl 3.26, lab's Calico v3.31.3 — install calicoctl 3.31.x" in text


def test_inotify_limits_below_what_the_lab_needs_are_errors_with_the_fix():
    client = FakeDockerClient(images=["vyos/vyos:1.5"])
    code, text = run("clab", probes(tools=CLAB_TOOLS, docker=client, watches=8192, instances=128))
    assert code == 1
    assert ("MISSING  fs.inotify.max_user_watches: 8192 (a multi-node kind cluster next to VyOS needs >= 524288) — "
            "sysctl -w fs.inotify.max_user_watches=524288") in text
    assert "MISSING  fs.inotify.max_user_instances: 128" in text


def _pull_line(text):
    return next(ln for ln in text.splitlines() if "image pulls (Docker Hub)" in ln)


def test_image_pulls_are_counted_against_docker_hubs_anonymous_limit():
    from lab.render.images import host_images

    images = host_images(TOPO)
    assert len(images) == len(set(images)) == 5  # kind node, 3 Calico, the demo (= server) image: once each
    client = FakeDockerClient(images=["vyos/vyos:1.5"])
    p = probes(tools=CLAB_TOOLS, docker=client)
    lines, verdicts = run_doctor("clab", topology=TOPO, probes=p)
    line = next(ln for ln in lines if "image pulls (Docker Hub)" in ln)
    assert line.startswith("OK") and "5 images to pull from Docker Hub" in line and "within the 10 per hour" in line
    # Everything present: nothing to pull.
    client = FakeDockerClient(images=["vyos/vyos:1.5", *images])
    lines, _ = run_doctor("clab", topology=TOPO, probes=probes(tools=CLAB_TOOLS, docker=client))
    assert any(ln.startswith("OK       image pulls (Docker Hub): nothing to pull") for ln in lines)


def test_more_pulls_than_the_anonymous_limit_stop_the_lab_with_the_fix(monkeypatch):
    from lab import doctor as doctor_module

    monkeypatch.setattr(doctor_module, "HUB_ANONYMOUS_PULLS_PER_HOUR", 3)
    client = FakeDockerClient(images=["vyos/vyos:1.5"])
    lines, verdicts = run_doctor("clab", topology=TOPO, probes=probes(tools=CLAB_TOOLS, docker=client))
    line = next(ln for ln in lines if "image pulls (Docker Hub)" in ln)
    assert line.startswith("MISSING") and "more than the 3 per hour Docker Hub allows without a login" in line
    assert "`docker login`" in line and "docker pull docker.io/calico/node:v3.31.3" in line
    assert verdicts["clab"] is False
    lines, _ = run_doctor("clab", topology=TOPO, probes=probes(tools=CLAB_TOOLS, docker=client, login=True))
    assert next(ln for ln in lines if "image pulls" in ln).startswith("OK")


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


def test_time_namespaces_are_reported_and_their_absence_only_warns():
    code, text = run("netns", probes())  # the fake host has no /proc/self/ns/time
    assert "WARN     kernel: time namespaces: not available (CONFIG_TIME_NS, Linux 5.6+) — without them" in text
    assert code == 0 and "netns provider: ready on this host" in text
    with_timens = probes()
    with_timens = HostProbes(**{**with_timens.__dict__,
                                "path_exists": lambda path: path in ("/proc/self/ns/net", "/sys/module/bridge",
                                                                     "/proc/self/ns/time")})
    code, text = run("netns", with_timens)
    assert "OK       kernel: time namespaces: available" in text and code == 0
