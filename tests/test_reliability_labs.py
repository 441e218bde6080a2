"""Reliability on real labs: labs never harm each other, interrupted commands never leave a
broken lab (issue 11: lab names that collide, concurrent `up`s, `down` racing `up`, kill -9 of
`lab.test` and `lab.capture` while they hold a temporary change).

Every command runs as a user runs it (`invoke lab.* --name N` in a child process); every wait
polls a condition with a generous deadline (the machine is shared)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.checks import run_checks
from lab.checks.base import Context
from lab.providers.netns.blueprint import lab_prefix
from lab.providers.netns.provider import RUN_ROOT, NetnsProvider
from lab.providers.netns.state import LabState
from netns_helpers import host_snapshot, lab_leftovers, requires_netns, unique
from reliability_helpers import REPO, invoke

pytestmark = [requires_netns, pytest.mark.netns]

UP_DEADLINE = 240.0  # seconds for one `up` of the reference lab on a busy shared machine


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=REPO, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)


def _poll(condition, deadline: float, what: str, interval: float = 0.01):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not reached within {deadline:g}s: {what}")


def _state(name: str) -> dict:
    try:
        return json.loads((RUN_ROOT / name / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def _lab(name: str) -> NetnsProvider:
    return NetnsProvider.attach(name)


def _down(name: str) -> None:
    run = invoke(["lab.down", "--name", name], timeout=120)
    assert run.rc == 0, run.stdout + run.stderr


def _passes(name: str, checks: list[str], deadline: float = 20) -> None:
    results = run_checks(Context(_lab(name), deadline=deadline), checks)
    assert [(r.name, r.status) for r in results] == [(c, "PASS") for c in checks], \
        [(r.name, r.observed, r.details[:5]) for r in results]


# -- names that used to collide --------------------------------------------------------------

def test_down_of_lab_x_leaves_lab_x_br_running():
    """`fl-<lab>-<object>` made lab x own x-br's `fl-x-br-leaf0`; the '.' separator cannot."""
    x = unique("co")
    x_br = f"{x}-br"
    before = host_snapshot()
    try:
        for name in (x_br, x):  # x-br first, as in the report
            run = invoke(["lab.up", "--topology", "calico-bgp-rr", "--name", name], timeout=UP_DEADLINE)
            assert run.rc == 0, run.stdout + run.stderr
        other = _lab(x_br)
        namespaces = {ns.netns for ns in other.blueprint.namespaces}
        pids = [p["pid"] for p in LabState(other.state_path).processes()]
        assert not namespaces & {ns.netns for ns in _lab(x).blueprint.namespaces}
        _down(x)
        assert lab_leftovers(lab_prefix(x), RUN_ROOT / x) == []
        listed = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
        assert namespaces <= listed, namespaces - listed
        assert all(_alive(pid) for pid in pids)
        _passes(x_br, ["bgp-sessions", "routes", "connectivity"])
    finally:
        for name in (x, x_br):
            invoke(["lab.down", "--name", name], timeout=120)
    assert lab_leftovers(lab_prefix(x_br), RUN_ROOT / x_br) == []
    assert host_snapshot() == before


# -- two `up`s of one name -------------------------------------------------------------------

def test_two_concurrent_ups_of_one_name_one_builds_the_other_never_points_at_down(tmp_path):
    name = unique("twin-up")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    try:
        procs = [_spawn(["lab.up", "--topology", "calico-fullmesh", "--name", name], log) for log in logs]
        codes = [p.wait(timeout=UP_DEADLINE) for p in procs]
        outputs = [log.read_text() for log in logs]
        assert "Traceback" not in "".join(outputs), outputs
        assert sorted(codes) in ([0, 0], [0, 1]), (codes, outputs)
        winner = outputs[codes.index(0)]
        assert f"lab {name} is up" in winner or "already up" in winner, outputs
        if 1 in codes:
            loser = outputs[codes.index(1)]
            assert f"lab {name} is busy" in loser and "`lab.up` (PID" in loser, loser
            assert "lab.down" not in loser, "the loser's advice would remove the winner's lab"
        _passes(name, ["bgp-sessions", "routes", "connectivity"])
    finally:
        invoke(["lab.down", "--name", name], timeout=120)
    assert lab_leftovers(lab_prefix(name), RUN_ROOT / name) == []


# -- `down` racing `up` ----------------------------------------------------------------------

def _reached(name: str, when: str) -> bool:
    state = _state(name)
    objects = state.get("objects", [])
    if when == "started":
        return True
    if when == "state":
        return bool(state)
    if when == "namespaces":
        return sum(o["kind"] == "netns" for o in objects) >= 4
    if when == "daemons":
        return sum(o["kind"] == "process" for o in objects) >= 2
    return state.get("meta", {}).get("phase") == "up"


# calico-fullmesh comes up within down's 3 s wait for the lock (down then removes it);
# calico-bgp-rr takes longer (FRR), so down says which `up` holds the lab and changes nothing.
@pytest.mark.parametrize("topology,when", [("calico-fullmesh", w) for w in ("started", "state", "namespaces", "daemons", "up")]
                         + [("calico-bgp-rr", w) for w in ("namespaces", "daemons")])
def test_down_racing_up_leaks_nothing(topology, when, tmp_path):
    name = unique(f"race-{topology[6:9]}-{when[:4]}")
    before = host_snapshot()
    log = tmp_path / "up.log"
    up = _spawn(["lab.up", "--topology", topology, "--name", name], log)
    try:
        _poll(lambda: _reached(name, when) or up.poll() is not None, UP_DEADLINE, f"up reached {when}", 0.002)
        down = invoke(["lab.down", "--name", name], timeout=120)
        assert "Traceback" not in down.stdout + down.stderr
        # down either removed the lab, or found nothing yet, or said which `up` holds the lab.
        assert down.rc == 0 or "`lab.up` (PID" in down.stderr, down.stdout + down.stderr
        up.wait(timeout=UP_DEADLINE)
        assert "Traceback" not in log.read_text(), log.read_text()
        if down.rc != 0:  # a busy lab is left alone: the `up` finishes and its lab works
            assert up.returncode == 0, log.read_text()
            _passes(name, ["bgp-sessions"])
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        # Whatever happened above, one more `down` removes everything `up` made.
        final = invoke(["lab.down", "--name", name], timeout=120)
        assert final.rc == 0, final.stdout + final.stderr
    assert lab_leftovers(lab_prefix(name), RUN_ROOT / name) == []
    assert host_snapshot() == before


# -- kill -9 in the middle of a check that changes the lab -----------------------------------

@pytest.fixture(scope="module")
def reference_lab():
    name = unique("rel-kill")
    run = invoke(["lab.up", "--topology", "calico-bgp-rr", "--name", name], timeout=UP_DEADLINE)
    assert run.rc == 0, run.stdout + run.stderr
    yield name
    invoke(["lab.down", "--name", name], timeout=120)
    assert lab_leftovers(lab_prefix(name), RUN_ROOT / name) == []


def _entries(name: str, kind: str) -> list[dict]:
    return [e for e in _state(name).get("journal", []) if e.get("kind") == kind]


def _link_down(name: str, target: str, iface: str) -> bool:
    result = _lab(name).access().exec(target, ["ip", "-j", "link", "show", iface])
    return result.rc == 0 and "UP" not in json.loads(result.stdout)[0].get("flags", [])


def _service_set(name: str) -> bool:
    return bool(_lab(name).resources().default_bgp_configuration().service_cluster_ips)


def _change_made(name: str, kind: str, when: str = "in force") -> list[dict] | bool:
    """`journaled`: the entry is there (the change may not be made yet); `in force`: and what
    it undoes is visible."""
    entries = _entries(name, kind)
    if not entries or when == "journaled":
        return entries
    entry = entries[-1]
    if kind == "link-down":
        return _link_down(name, entry["target"], entry["iface"]) and entries
    if kind == "service-cluster-ips":
        return _service_set(name) and entries
    return all(_alive(int(e["pid"])) for e in entries) and entries


KILL_CASES = {
    # what runs: (invoke arguments after --name, the journal kind whose change is in force when killed)
    "service-advertisement": (["lab.test", "--only", "service-advertisement"], "service-cluster-ips"),
    "failover": (["lab.test", "--only", "failover"], "link-down"),
    "ecmp": (["lab.test", "--only", "ecmp"], "process"),
    "capture": (["lab.capture", "leaf0", "eth1", "--seconds", "60"], "process"),
}


@pytest.mark.parametrize("when", ["journaled", "in force"])
@pytest.mark.parametrize("case", KILL_CASES)
def test_kill_minus_nine_mid_change_then_the_next_command_heals(case, when, reference_lab, tmp_path):
    name = reference_lab
    args, kind = KILL_CASES[case]
    args = [args[0], "--name", name, *args[1:]]
    log = tmp_path / "killed.log"
    proc = _spawn(args, log)
    try:
        entries = _poll(lambda: _change_made(name, kind, when) or proc.poll() is not None, 120,
                        f"{case}: a {kind} change {when}", 0.002)
        assert proc.poll() is None, f"{case} ended before it could be killed:\n{log.read_text()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = [int(e["pid"]) for e in entries if e.get("kind") == "process"]
    # The next command on the lab undoes the change first and says so; then every check passes.
    run = invoke(["lab.test", "--name", name], timeout=600)
    assert "restored what an interrupted" in run.stdout, run.stdout[-3000:]
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert _state(name).get("journal", []) == []
    assert not [pid for pid in left if _alive(pid)], "a journaled process outlived the restore"
    assert not _service_set(name)


# -- lab.capture on every interface (Linux cooked capture) ------------------------------------

def test_capture_on_any_writes_a_cooked_pcap_the_reader_counts(reference_lab, tmp_path):
    from lab.pcap import read_packets

    out = tmp_path / "any.pcap"
    # BGP keepalives (every second with the lab's timers) cross worker's uplink during the capture.
    run = invoke(["lab.capture", "worker", "any", "--seconds", "4", "--name", reference_lab, "--out", str(out)],
                 timeout=120)
    assert run.rc == 0 and "Traceback" not in run.stderr, run.stdout + run.stderr
    linktype = int.from_bytes(out.read_bytes()[20:24], "little")
    assert linktype in (113, 276), linktype  # SLL or SLL2, whichever this libpcap writes
    packets = list(read_packets(out))
    assert any(p.proto == 6 and 179 in (p.sport, p.dport) for p in packets), packets[:5]
    assert f"({len(packets)} IPv4 packets)" in run.stdout


# -- BIRD's log ------------------------------------------------------------------------------

def test_every_bird_log_says_what_bird_did(reference_lab):
    """BIRD runs with -d as calico-node runs it: its messages go to bird.log (they went to syslog)."""
    lab = _lab(reference_lab)
    for speaker in lab.blueprint.bird:
        log = lab.run_dir / speaker.target / "bird.log"
        text = log.read_text()
        assert "Started" in text, f"{log}:\n{text[-2000:]}"
        # Its BGP sessions came up, and the log says so (BIRD logs every protocol state change).
        planned = {s.protocol for s in lab.blueprint.sessions.get(speaker.k8s_name, ())} if speaker.k8s_name else set()
        came_up = set(re.findall(r"(?m)^bird: (\S+): State changed to up$", text))
        assert planned and planned & came_up or not planned, (planned, came_up, text[-2000:])


def test_up_of_another_topology_under_an_existing_name_says_so_and_changes_nothing(reference_lab):
    before = _state(reference_lab)
    run = invoke(["lab.up", "--topology", "calico-fullmesh", "--name", reference_lab], timeout=120)
    assert run.rc == 1 and "Traceback" not in run.stderr, run.stdout + run.stderr
    assert run.error_lines() == [run.error_lines()[0]]
    assert f"lab {reference_lab} exists with a different topology" in run.stderr and "already up" not in run.stdout
    assert _state(reference_lab)["objects"] == before["objects"]
    _passes(reference_lab, ["bgp-sessions"])


# -- output and interruptions ----------------------------------------------------------------

@pytest.mark.parametrize("task", [["lab.status"], ["lab.test", "--only", "bgp-sessions"]])
def test_a_closed_output_pipe_ends_quietly(task, reference_lab):
    """`invoke lab.status | head -1`: the reader goes away; no BrokenPipe traceback."""
    shell = f"{sys.executable} -m invoke {' '.join(task)} --name {reference_lab} | head -1"
    run = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert len(run.stdout.splitlines()) == 1, run.stdout
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr, run.stderr
    assert run.returncode in (0, 141), (run.returncode, run.stderr)  # 141: ended by SIGPIPE, as any Unix tool


def test_hints_name_the_lab():
    name = unique("rel-nolab")
    run = invoke(["lab.status", "--name", name], timeout=60)
    assert run.rc == 1 and f"`invoke lab.up --name {name}`" in run.stderr, run.stderr


def test_ctrl_c_during_up_removes_what_it_created(tmp_path):
    name = unique("rel-ctrlc")
    before = host_snapshot()
    log = tmp_path / "up.log"
    up = _spawn(["lab.up", "--topology", "calico-fullmesh", "--name", name], log)
    try:
        _poll(lambda: _reached(name, "daemons") or up.poll() is not None, UP_DEADLINE, "up started daemons", 0.002)
        assert up.poll() is None, log.read_text()
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=120) == 1
        left = lab_leftovers(lab_prefix(name), RUN_ROOT / name)  # before any `down`: up's own cleanup
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        invoke(["lab.down", "--name", name], timeout=120)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert f"interrupted: removing what this `up` created of lab {name}" in text, text
    assert f"error: interrupted: lab {name} was not built (what `up` had created is removed)" in text, text
    assert left == []
    assert host_snapshot() == before
