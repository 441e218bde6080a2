"""Every BIRD of a lab on a clock phase of its own (lab/providers/netns/timens.py).

Why it matters: BIRD 1.x timers fire on whole seconds of CLOCK_MONOTONIC; on one host every
BIRD shares that clock, so two ends whose sessions collided retried in the same instant for a
minute and more. The scenario tests show the effect (they must finish in their budget); these
tests pin the mechanism: distinct offsets, applied to BIRD only, kept across lab.stop/start.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from lab.commands import lab as cmd
from lab.paths import run_root
from lab.providers.netns import procs, timens
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import lab_leftovers, quiet, requires_netns, unique


# -- pure: the offsets -------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=3000))
def test_the_first_n_offsets_are_spread_over_the_second(n):
    points = sorted(timens.offset_ns(i) for i in range(n))
    assert len(set(points)) == n and all(0 <= p < 1_000_000_000 for p in points)
    gaps = [b - a for a, b in zip(points, points[1:])] + [1_000_000_000 - points[-1] + points[0]]
    # Golden-ratio steps (three-gap theorem): the closest two are >= 1/(phi^2 n) of a second
    # apart; with random phases two of five nodes are within 10 ms one time in five.
    assert min(gaps) >= 0.38e9 / n


def test_offsets_are_deterministic_and_refuse_bad_input():
    assert [timens.offset_ns(i) for i in range(4)] == [timens.offset_ns(i) for i in range(4)]
    with pytest.raises(ValueError):
        timens.offset_ns(-1)
    with pytest.raises(ValueError):
        timens.run_with_clock_offset(1_000_000_000, lambda: None)


def test_blueprint_gives_each_speaker_its_own_offset():
    from lab.loader import load_topology
    from lab.providers.netns.blueprint import build_blueprint

    bp = build_blueprint(load_topology("calico-rr-external"), lab="clk")
    offsets = [b.clock_offset_ns for b in bp.bird]
    assert len(bp.bird) >= 4 and len(set(offsets)) == len(offsets)
    assert offsets == [timens.offset_ns(i) for i in range(len(offsets))]


# -- real: the processes -----------------------------------------------------------------

def _offset_of(pid: int) -> int:
    line = open(f"/proc/{pid}/timens_offsets").read().splitlines()[0].split()
    assert line[0] == "monotonic" and line[1] == "0"
    return int(line[2])


def _time_ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/time")


@requires_netns
@pytest.mark.netns
def test_each_bird_runs_on_its_own_clock_and_keeps_it_across_stop_and_start():
    assert timens.supported(), "this kernel has no time namespaces (CONFIG_TIME_NS)"
    mine = (_time_ns(os.getpid()), os.readlink("/proc/self/ns/time_for_children"))
    name = unique("t-clocks")
    cmd.down(None, "netns", name, out=quiet())
    cmd.up("calico-bgp-rr", "netns", name, out=quiet())  # BIRDs and FRR
    try:
        lab = NetnsProvider.attach(name)
        records = json.loads(lab.state_path.read_text())["objects"]
        birds = {r["role"]: r for r in records if r.get("role", "").startswith("bird:")}
        others = [r for r in records if r.get("kind") == "process" and not r["role"].startswith("bird:")]
        assert len(birds) == len(lab.blueprint.bird) and others
        expected = {f"bird:{b.target}": b.clock_offset_ns for b in lab.blueprint.bird}
        for role, record in birds.items():
            assert int(record["clock_offset_ns"]) == expected[role] == _offset_of(record["pid"])
        assert len({_time_ns(r["pid"]) for r in birds.values()}) == len(birds)
        for record in others:  # FRR keeps the host's clock
            if procs.pid_alive(record["pid"], record["starttime"]):
                assert _time_ns(record["pid"]) == mine[0] and "clock_offset_ns" not in record
        # The clock inside really is shifted (uptime reads CLOCK_BOOTTIME, shifted alike).
        some = next(iter(birds.values()))
        inside = subprocess.run(["nsenter", f"--time=/proc/{some['pid']}/ns/time", "cat", "/proc/uptime"],
                                capture_output=True, text=True, check=True).stdout.split()[0]
        outside = open("/proc/uptime").read().split()[0]
        shift = float(inside) - float(outside)
        assert abs(shift - int(some["clock_offset_ns"]) / 1e9) < 0.05, (inside, outside)

        target = lab.blueprint.bird[1].target
        assert "stopped" in lab.stop(target)
        assert "started" in lab.start(target)
        record = next(r for r in json.loads(lab.state_path.read_text())["objects"]
                      if r.get("role") == f"bird:{target}")
        assert record["pid"] != birds[f"bird:{target}"]["pid"]
        assert _offset_of(record["pid"]) == expected[f"bird:{target}"] == int(record["clock_offset_ns"])
    finally:
        cmd.down(None, "netns", name, out=quiet())
    assert lab_leftovers(f"fl-{name}-", run_root() / name) == []
    # Starting them changed neither this process's clock nor the one its later children get.
    assert (_time_ns(os.getpid()), os.readlink("/proc/self/ns/time_for_children")) == mine


@requires_netns
@pytest.mark.netns
def test_a_start_that_fails_raises_on_the_callers_thread():
    with pytest.raises(FileNotFoundError):
        timens.run_with_clock_offset(5, lambda: subprocess.Popen(["/nonexistent/binary"]))
    proc = timens.run_with_clock_offset(123_000_000, lambda: subprocess.Popen(["sleep", "5"]))
    try:
        assert _offset_of(proc.pid) == 123_000_000
    finally:
        proc.kill()
        proc.wait()
