"""CPU for each routing daemon by its share of sessions (lab/providers/netns/cpushare.py).

Pure: the nice values (busiest at 0, one step per factor 1.25, never outside 0..19), the
session counts read from rendered configs. Real: the daemons of a running lab run at those
values, a reconcile that makes a node a reflector gives it the CPU, and lab.start keeps it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import given, settings, strategies as st

from lab.loader import load_topology
from lab.providers.netns import cpushare
from lab.providers.netns.blueprint import build_blueprint
from live_helpers import ctl, fresh_lab, k8s
from netns_helpers import quiet, requires_netns


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(min_value=0, max_value=5000), min_size=1,
                       max_size=30))
def test_nice_values_favour_the_busiest_and_stay_in_range(counts):
    nice = cpushare.nice_values(counts)
    assert set(nice) == set(counts) and all(0 <= v <= cpushare.MAX_NICE for v in nice.values())
    busiest = max(counts.values())
    assert all(nice[t] == 0 for t, c in counts.items() if c == busiest)
    ordered = sorted(counts, key=counts.__getitem__)
    assert all(nice[a] >= nice[b] for a, b in zip(ordered, ordered[1:]))  # fewer sessions, never more CPU


def test_nice_values_follow_the_kernels_weight_step():
    assert cpushare.nice_values({"rr": 500, "client": 2, "idle": 0}) == {"rr": 0, "client": 19, "idle": 19}
    assert cpushare.nice_values({"a": 100, "b": 80, "c": 64, "d": 10}) == {"a": 0, "b": 1, "c": 2, "d": 10}
    assert cpushare.nice_values({"m1": 199, "m2": 199}) == {"m1": 0, "m2": 0}  # a full mesh: all equal
    assert cpushare.nice_values({}) == {}
    with pytest.raises(ValueError):
        cpushare.renice(os.getpid(), -1)  # never above normal priority


def test_session_counts_come_from_the_rendered_configs():
    bp = build_blueprint(load_topology("calico-bgp-rr"), lab="cpu")
    counts = {d.target: cpushare.frr_sessions(d.bgpd_conf) for d in bp.frr}
    assert counts == {"spine0": 2, "spine1": 2, "leaf0": 4, "leaf1": 4}
    assert {d.target: cpushare.bird_sessions(d.config) for d in bp.bird} == dict.fromkeys(
        ("control-plane", "worker", "worker2", "worker3"), 1)
    assert {d.target: d.nice for d in bp.frr} == {"spine0": 3, "spine1": 3, "leaf0": 0, "leaf1": 0}
    assert {d.nice for d in bp.bird} == {6}
    rr = build_blueprint(load_topology("calico-rr-pair"), lab="cpu")
    by = {d.target: d.nice for d in rr.bird}
    assert by["control-plane"] == by["worker"] == 0 < by["worker2"] == by["worker3"]


def _nice_of(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16])


def _records(lab) -> dict[str, dict]:
    return {o["role"]: o for o in json.loads(lab.state_path.read_text())["objects"] if o.get("kind") == "process"}


RR_PEER = textwrap.dedent("""\
    apiVersion: projectcalico.org/v3
    kind: BGPPeer
    metadata: {name: peer-with-route-reflectors}
    spec:
      nodeSelector: "!has(route-reflector)"
      peerSelector: has(route-reflector)
    """)


@requires_netns
@pytest.mark.netns
def test_daemons_run_at_their_share_and_a_new_reflector_gets_the_cpu(tmp_path):
    lab = fresh_lab("calico-fullmesh", "t-cpushare", tmp_path)
    try:
        records = _records(lab)
        assert {_nice_of(r["pid"]) for role, r in records.items() if role.startswith("bird:")} == {0}  # a mesh
        ctl(lab, "label", "nodes", k8s(lab, "worker"), "route-reflector=true")
        ctl(lab, "patch", "node", k8s(lab, "worker"), "-p", '{"spec": {"bgp": {"routeReflectorClusterID": "224.0.0.1"}}}')
        ctl(lab, "apply", "-f", "-", stdin=RR_PEER)
        ctl(lab, "patch", "bgpconfiguration", "default", "-p", '{"spec": {"nodeToNodeMeshEnabled": false}}')
        records = _records(lab)
        # worker: 3 clients; each client: 1 session -> log_1.25(3) = 4.9 -> nice 5.
        assert _nice_of(records["bird:worker"]["pid"]) == 0
        for node in ("control-plane", "worker2", "worker3"):
            record = records[f"bird:{node}"]
            assert _nice_of(record["pid"]) == int(record["nice"]) == 5, node
        assert "stopped" in lab.stop("worker2")
        assert "started" in lab.start("worker2")
        record = _records(lab)["bird:worker2"]
        assert _nice_of(record["pid"]) == 5 and record["pid"] != records["bird:worker2"]["pid"]
    finally:
        lab.down(quiet())


@requires_netns
def test_renice_reaches_every_thread_of_a_process():
    code = "import threading, time; [threading.Thread(target=time.sleep, args=(30,), daemon=True).start() for _ in range(3)]; time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(os.listdir(f"/proc/{proc.pid}/task")) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cpushare.renice(proc.pid, 7)
        assert {os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir(f"/proc/{proc.pid}/task")} == {7}
    finally:
        proc.kill()
        proc.wait()
    assert cpushare.renice(proc.pid, 7) is False  # gone
