"""Fabric BGP intent (lab.fabric) and the FRR configs rendered from it, checked by real FRR."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.fabric import FABRIC, RACK_NODE, router_bgp
from lab.loader import load_topology
from lab.render.frr import render_frr

FRR_DIR = Path("/usr/lib/frr")


def _intent(router: str):
    topo = load_topology("calico-bgp-rr")
    return router_bgp(topo, topo.router(router))


def test_leaf_intent_matches_reference_lab():
    bgp = _intent("leaf0")
    assert bgp.asn == 65005 and bgp.router_id == IPv4Address("10.1.5.1") and bgp.multipath_relax
    fabric = {(str(n.address), n.remote_as, n.local_iface) for n in bgp.neighbors if n.kind == FABRIC}
    assert fabric == {("10.1.10.2", 500, "eth1"), ("10.1.12.2", 800, "eth2")}
    rack = [n for n in bgp.neighbors if n.kind == RACK_NODE]
    assert [(str(n.address), n.remote_as, n.rr_client, n.next_hop_self, n.passive) for n in rack] == [
        ("10.1.5.10", 65005, True, True, True), ("10.1.5.11", 65005, True, True, True)]
    assert set(bgp.networks) == {IPv4Network("10.1.10.0/24"), IPv4Network("10.1.12.0/24"), IPv4Network("10.1.5.0/24")}


def test_spine_intent_has_only_leaves():
    bgp = _intent("spine1")
    assert {(str(n.address), n.remote_as) for n in bgp.neighbors} == {("10.1.12.1", 65005), ("10.1.11.1", 65008)}
    assert all(n.kind == FABRIC and not n.rr_client and not n.next_hop_self for n in bgp.neighbors)


def test_node_with_other_as_is_ebgp_not_rr_client(tmp_path):
    text = (Path(load_topology("calico-bgp-rr").source)).read_text()
    path = tmp_path / "t.yaml"
    path.write_text(text.replace("worker:        {rack: rack0, ip: 10.1.5.11}", "worker:        {rack: rack0, ip: 10.1.5.11, asn: 64999}"))
    topo = load_topology(path)
    worker = next(n for n in router_bgp(topo, topo.router("leaf0")).neighbors if str(n.address) == "10.1.5.11")
    assert worker.remote_as == 64999 and not worker.rr_client


def test_frr_config_text():
    topo = load_topology("calico-bgp-rr")
    cfg = render_frr(topo, topo.router("leaf0"))
    assert "no zebra nexthop kernel enable" in cfg.zebra
    for line in ("router bgp 65005", " bgp router-id 10.1.5.1", " no bgp ebgp-requires-policy",
                 " bgp bestpath as-path multipath-relax", " timers bgp 1 3", " neighbor 10.1.10.2 remote-as 500",
                 " neighbor 10.1.5.10 passive", "  neighbor 10.1.5.10 route-reflector-client",
                 "  neighbor 10.1.5.10 next-hop-self", "  network 10.1.5.0/24", "  maximum-paths 8"):
        assert line in cfg.bgpd.splitlines(), line
    assert "route-reflector-client" not in render_frr(topo, topo.router("spine0")).bgpd
    assert cfg.integrated.count("hostname leaf0") == 1 and "router bgp 65005" in cfg.integrated


@pytest.fixture
def frr_dir():
    """FRR drops to user frr: its files must be readable outside pytest's private tmp."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="fabriclab-frrtest-"))
    path.chmod(0o755)
    shutil.chown(path, "frr", "frr")
    yield path
    shutil.rmtree(path, ignore_errors=True)


BENIGN = ("Disabling MPLS support",)


def _complaints(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip() and not any(b in line for b in BENIGN)]


def _frr_dry_run(daemon: str, conf: Path, tmp: Path) -> str:
    proc = subprocess.run([str(FRR_DIR / daemon), "-C", "-f", str(conf), "-z", str(tmp / "zserv.api"),
                           "--vty_socket", str(tmp), "-i", str(tmp / f"{daemon}.pid")],
                          capture_output=True, text=True, timeout=30, cwd=tmp)
    return proc.stdout + proc.stderr


@pytest.mark.skipif(not (FRR_DIR / "bgpd").exists(), reason="FRR not installed (apt-get install -y frr)")
@pytest.mark.parametrize("router", ["spine0", "spine1", "leaf0", "leaf1"])
def test_frr_accepts_rendered_config(frr_dir, router):
    topo = load_topology("calico-bgp-rr")
    cfg = render_frr(topo, topo.router(router))
    for daemon, text in (("zebra", cfg.zebra), ("bgpd", cfg.bgpd)):
        conf = frr_dir / f"{daemon}.conf"
        conf.write_text(text)
        conf.chmod(0o644)
        # FRR's dry run exits 0 even for unknown commands; what it prints is the verdict.
        assert _complaints(_frr_dry_run(daemon, conf, frr_dir)) == []


@pytest.mark.skipif(not (FRR_DIR / "bgpd").exists(), reason="FRR not installed (apt-get install -y frr)")
def test_frr_dry_run_catches_a_bad_line(frr_dir):
    conf = frr_dir / "bgpd.conf"
    conf.write_text("router bgp 1\n neighbr 10.0.0.1 remote-as 2\n")
    conf.chmod(0o644)
    complaints = _complaints(_frr_dry_run("bgpd", conf, frr_dir))
    assert any("No such command" in line for line in complaints), complaints
