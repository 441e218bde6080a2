"""netns lifecycle on real namespaces: every topology converges, two labs coexist, a kill -9
in the middle of `up` leaves a state `down` cleans, bad configs stop before the host changes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.checks import run_checks
from lab.checks.base import Context
from lab.commands import lab as cmd
from lab.errors import DaemonError, LabError
from lab.loader import load_topology
from lab.paths import run_root
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import unique, host_snapshot, lab_leftovers, quiet, requires_netns

pytestmark = [requires_netns, pytest.mark.netns]
REPO = Path(__file__).resolve().parent.parent


def _fresh(topology: str, name: str, tmp_path) -> NetnsProvider:
    provider = NetnsProvider(load_topology(topology), name, out_dir=tmp_path)
    if provider.is_up():
        provider.down(quiet())
    return provider


@pytest.mark.parametrize("topology,checks", [
    ("calico-fullmesh", ["bgp-sessions", "routes", "connectivity", "service-advertisement"]),
    ("calico-rr-incluster", ["bgp-sessions", "routes", "connectivity", "service-advertisement"]),
    ("calico-rr-external", ["bgp-sessions", "routes", "connectivity", "service-advertisement"]),
])
def test_topology_comes_up_converges_and_goes(topology, checks, tmp_path):
    before = host_snapshot()
    lab = _fresh(topology, unique(f"t-{topology[7:]}"), tmp_path)
    try:
        lab.up(quiet())
        results = run_checks(Context(lab, deadline=10), checks)
        assert [(r.name, r.status) for r in results] == [(c, "PASS") for c in checks], \
            [(r.name, r.observed, r.details[:3]) for r in results]
    finally:
        lab.down(quiet())
    assert lab_leftovers(lab.blueprint.prefix, lab.run_dir) == []
    assert host_snapshot() == before


def test_mesh_sessions_are_the_plan(tmp_path):
    lab = _fresh("calico-fullmesh", unique("t-mesh-plan"), tmp_path)
    try:
        lab.up(quiet())
        from lab.checks.observe import observe_bird_sessions

        for node in lab.topo.cluster.nodes:
            seen = {s.name for s in observe_bird_sessions(lab.access(), node.name) if s.established}
            planned = {s.protocol for s in lab.blueprint.sessions[lab.topo.cluster.k8s_name(node)]}
            assert seen == planned and len(planned) == 3
    finally:
        lab.down(quiet())


def test_rr_incluster_survives_one_reflector_stopping(tmp_path):
    """Three reflectors: stopping one must not cost any client a route."""
    lab = _fresh("calico-rr-incluster", unique("t-rr-stop"), tmp_path)
    try:
        lab.up(quiet())
        from lab.providers.netns.state import LabState
        from lab.exec import stop_pid

        state = LabState(lab.state_path)
        (bird,) = [p for p in state.processes() if p["role"] == "bird:control-plane"]
        assert stop_pid(bird["pid"], bird["starttime"])
        ctx = Context(lab, deadline=10)
        from lab.checks import connectivity, routes

        # Routes of the stopped reflector's own pods vanish; every other block must stay reachable.
        pods = [p for p in lab.pods() if p.node != "control-plane"]
        lab.pods = lambda: pods  # check only what must survive
        assert connectivity.run(ctx).status == "PASS"
    finally:
        lab.down(quiet())


def test_two_labs_side_by_side(tmp_path):
    a = _fresh("calico-fullmesh", unique("t-twin-a"), tmp_path / "a")
    b = _fresh("calico-fullmesh", unique("t-twin-b"), tmp_path / "b")
    try:
        a.up(quiet())
        b.up(quiet())
        assert not set(ns.netns for ns in a.blueprint.namespaces) & set(ns.netns for ns in b.blueprint.namespaces)
        a.down(quiet())
        # b is untouched by a's removal.
        (result,) = run_checks(Context(b, deadline=5), ["bgp-sessions"])
        assert result.status == "PASS", result.details
        assert lab_leftovers(a.blueprint.prefix, a.run_dir) == []
    finally:
        a.down(quiet())
        b.down(quiet())
    assert lab_leftovers(b.blueprint.prefix, b.run_dir) == []


@pytest.mark.parametrize("kill_when", ["namespaces", "daemons"])
def test_kill_minus_nine_during_up_then_down_cleans_everything(kill_when, tmp_path):
    name = unique(f"t-crash-{kill_when[:2]}")
    lab = _fresh("calico-bgp-rr", name, tmp_path)
    before = host_snapshot()
    code = f"import sys; from lab.commands import lab; lab.up('calico-bgp-rr', 'netns', {name!r}, out=sys.stdout)"
    log = tmp_path / "up.log"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    state_path = run_root() / name / "state.json"

    def reached() -> bool:
        try:
            objects = json.loads(state_path.read_text())["objects"]
        except (OSError, ValueError, KeyError):
            return False
        if kill_when == "namespaces":
            return sum(o["kind"] == "netns" for o in objects) >= 3
        return sum(o["kind"] == "process" for o in objects) >= 1

    deadline = time.monotonic() + 30
    while not reached() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"`up` ended before it could be killed:\n{log.read_text()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert state_path.exists()
    out = io.StringIO()
    cmd.down(None, "netns", name, out=out)
    assert "removed" in out.getvalue()
    assert lab_leftovers(f"fl-{name}-", run_root() / name) == []
    assert host_snapshot() == before


def test_up_on_partly_built_lab_says_run_down(tmp_path):
    lab = _fresh("calico-fullmesh", unique("t-partial"), tmp_path)
    from lab.providers.netns.state import LabState

    LabState(lab.state_path).set_meta(phase="building")
    try:
        with pytest.raises(LabError, match=f"partly built.*lab.down --name {lab.lab_name}"):
            lab.up(quiet())
    finally:
        lab.down(quiet())
    assert not lab.state_path.exists()


def test_refused_daemon_config_changes_nothing(tmp_path, monkeypatch):
    before = host_snapshot()
    lab = _fresh("calico-bgp-rr", unique("t-badconf"), tmp_path)
    from lab.render import frr

    original = frr._bgpd
    monkeypatch.setattr(frr, "_bgpd", lambda bgp: original(bgp) + "router bgp 1\n neighbr 1.2.3.4 remote-as 5\n")
    with pytest.raises(DaemonError, match="bgpd of spine0 refuses its configuration: .*No such command"):
        lab.up(quiet())
    assert not lab.is_up() and lab_leftovers("fl-t-badconf-", lab.run_dir) == []
    assert host_snapshot() == before


def test_missing_binary_and_not_root_messages(monkeypatch):
    from lab import preflight
    from lab.errors import EnvironmentProblem

    monkeypatch.setattr(preflight, "find_binary", lambda name: None if name in ("bgpd", "bird") else "/bin/true")
    with pytest.raises(EnvironmentProblem) as info:
        preflight.require_binaries(["zebra", "bgpd", "bird"])
    assert str(info.value).startswith("bgpd, bird not found")
    assert "apt-get install -y bird frr" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="must run as root"):
        preflight.require_root()
