"""The lab state file and teardown, without namespaces (no root needed).

Namespace and daemon records are covered on real objects in test_netns_primitives.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.exec import proc_starttime
from lab.providers.netns import state as state_mod
from lab.providers.netns.state import LabState, teardown

REPO = Path(__file__).resolve().parent.parent


def test_records_are_durable_and_in_creation_order(tmp_path):
    path = tmp_path / "lab" / "state.json"
    state = LabState(path)
    state.set_meta(lab="x", provider="netns", phase="building")
    state.record_dir(tmp_path / "lab" / "run")
    state.record_netns("flprim-x-r1")
    state.record_process(123, 456, "flprim-x-r1", ["/usr/sbin/bird", "-f"], "bird:n1", log="/tmp/l")
    state.record_file(tmp_path / "f")
    again = LabState(path)
    assert again.meta == {"lab": "x", "provider": "netns", "phase": "building"}
    assert [o["kind"] for o in again.objects] == ["dir", "netns", "process", "file"]
    assert again.processes() == [{"kind": "process", "pid": 123, "starttime": 456, "netns": "flprim-x-r1",
                                  "argv": ["/usr/sbin/bird", "-f"], "role": "bird:n1", "log": "/tmp/l"}]
    assert again.namespaces() == ["flprim-x-r1"]
    assert sorted(os.listdir(path.parent)) == ["state.json"]  # no temporary file left
    with pytest.raises(ValueError):
        state.record(name="no kind")


def test_a_kill_minus_nine_right_after_a_record_leaves_a_complete_file(tmp_path):
    path = tmp_path / "state.json"
    code = (f"import os, signal, sys; sys.path.insert(0, {str(REPO)!r})\n"
            "from lab.providers.netns.state import LabState\n"
            f"s = LabState({str(path)!r})\n"
            "for i in range(50):\n"
            "    s.record(kind='file', path=f'/tmp/flprim-none/{i}')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(json.loads(path.read_text())["objects"]) == 50


def test_teardown_of_a_missing_state_is_a_noop(tmp_path):
    assert teardown(tmp_path / "absent" / "state.json") == "nothing to remove (no state file)"
    assert not (tmp_path / "absent").exists()
    empty = LabState(tmp_path / "absent" / "state.json")
    assert empty.meta == {} and empty.objects == [] and not empty.exists()


def test_teardown_removes_files_and_dirs_then_the_state_and_is_idempotent(tmp_path):
    run = tmp_path / "run"
    state = LabState(run / "state.json")
    state.record_dir(run)
    (run / "daemon").mkdir()
    (run / "daemon" / "log").write_text("x")
    outside = tmp_path / "outside.conf"
    state.record_file(outside)
    outside.write_text("y")
    state.record_file(tmp_path / "never-created")
    state.record_netns("flprim-test-never-created")  # recorded intent, never created: tolerated
    (run / "state.json.tmp").write_text("{partial")  # as if killed between write and rename
    summary = teardown(state)
    assert summary == "0 processes stopped, 0 namespaces deleted, 2 paths removed"
    assert not run.exists() and not outside.exists()
    assert teardown(LabState(run / "state.json")) == "nothing to remove (no state file)"


def test_teardown_signals_a_recorded_pid_only_if_its_starttime_matches(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        started = proc_starttime(sleeper.pid)
        state = LabState(tmp_path / "state.json")
        state.record_process(sleeper.pid, started + 7, "flprim-x", ["sleep", "30"], "sleep")
        state.record_process(sleeper.pid, None, "flprim-x", ["sleep", "30"], "sleep")
        assert teardown(state).startswith("0 processes stopped")
        assert sleeper.poll() is None, "a PID whose start time differs must not be signalled"
        state = LabState(tmp_path / "state.json")
        state.record_process(sleeper.pid, started, "flprim-x", ["sleep", "30"], "sleep")
        t0 = time.monotonic()
        assert teardown(state).startswith("1 processes stopped")
        assert time.monotonic() - t0 < 1  # woken by the exit, no SIGKILL needed
        assert proc_starttime(sleeper.pid) is None  # gone and reaped (teardown reaps its children)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_teardown_refuses_top_level_paths_and_keeps_the_state(tmp_path):
    state = LabState(tmp_path / "state.json")
    state.record_dir("/")
    state.record_dir("/tmp")
    with pytest.raises(LabError, match=r"refused to remove /tmp .*refused to remove / .*state kept"):
        teardown(state)
    assert (tmp_path / "state.json").exists() and Path("/tmp").is_dir()


def test_a_damaged_state_file_is_a_clear_error(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(LabError, match="is not valid JSON"):
        LabState(tmp_path / "state.json")


def test_frr_tmpdir_removed_only_if_not_older_than_its_process(tmp_path):
    ticks = os.sysconf("SC_CLK_TCK")
    boot = state_mod._boot_time()
    now_ticks = int((time.time() - boot) * ticks)
    young, stale, crashed = (tmp_path / d for d in ("zebra.1", "zebra.2", "bgpd.3"))
    for d in (young, stale, crashed):
        d.mkdir()
        (d / "logbuf.1").write_text("")
    (crashed / "crashlog").write_text("boom")
    state_mod._remove_tmpdir(young, now_ticks - 10 * ticks)  # process older than the dir: its own
    state_mod._remove_tmpdir(stale, now_ticks + 10 * ticks)  # dir older than the process: not its
    state_mod._remove_tmpdir(crashed, now_ticks - 10 * ticks)
    assert not young.exists() and stale.exists() and crashed.exists()


def test_a_batch_is_one_durable_write_in_order_and_refuses_a_record_without_kind(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    state = LabState(path)
    writes = []
    real = state._write
    monkeypatch.setattr(state, "_write", lambda: (writes.append(1), real()))
    state.record_netns_many(f"flprim-x-n{i}" for i in range(300))
    assert len(writes) == 1
    assert LabState(path).namespaces() == [f"flprim-x-n{i}" for i in range(300)]
    with pytest.raises(ValueError):
        state.record_many([{"kind": "file", "path": "/tmp/a/b"}, {"path": "no kind"}])
    assert len(LabState(path).objects) == 300  # nothing of the refused batch was written
    state.record_many([])
    assert len(writes) == 1  # an empty batch writes nothing


def test_a_process_batch_is_written_on_leaving_its_block_even_after_an_error(tmp_path):
    path = tmp_path / "state.json"
    state = LabState(path)
    with pytest.raises(RuntimeError):
        with state_mod.ProcessBatch(state) as batch:
            batch.record_process(11, 22, "flprim-x-a", ["/bin/a"], "bird:a", log="/tmp/a")
            batch.record_process(12, 23, "flprim-x-b", ["/bin/b"], "bird:b", log="/tmp/b")
            assert LabState(path).processes() == []  # not yet durable: teardown finds them by netns
            raise RuntimeError("the builder failed half-way")
    assert [(p["pid"], p["role"]) for p in LabState(path).processes()] == [(11, "bird:a"), (12, "bird:b")]
    assert LabState(path).processes()[0] == {"kind": "process", "pid": 11, "starttime": 22, "netns": "flprim-x-a",
                                             "argv": ["/bin/a"], "role": "bird:a", "log": "/tmp/a"}


def test_a_crash_log_our_own_sigterm_caused_is_removed(tmp_path):
    # zebra signalled while it starts aborts on an assertion (FRR 8.4); a crash before we
    # signalled it stays as evidence (test above).
    ticks = os.sysconf("SC_CLK_TCK")
    started = int((time.time() - state_mod._boot_time()) * ticks) - 10 * ticks
    ours, theirs = tmp_path / "zebra.4", tmp_path / "zebra.5"
    for d in (ours, theirs):
        d.mkdir()
        (d / "crashlog").write_text("assertion failed")
    state_mod._remove_tmpdir(ours, started, we_stopped_it=True)
    state_mod._remove_tmpdir(theirs, started, we_stopped_it=False)
    assert not ours.exists() and theirs.exists()


def _stubborn_process(tmp_path, monkeypatch, dies_on_second_look: bool):
    """A recorded process that outlives SIGTERM and SIGKILL in the first pass (as a daemon
    killed while it waits in the kernel does), in a run directory that holds the state."""
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    run_dir = tmp_path / "run" / "lab"
    run_dir.mkdir(parents=True)
    state = LabState(run_dir / "state.json")
    state.record_dir(run_dir)
    state.record_process(sleeper.pid, proc_starttime(sleeper.pid), "flprim-x", ["sleep", "30"], "bird:w1")
    looks = []

    def alive(pid, started):
        looks.append(pid)
        if pid != sleeper.pid:
            return False
        return len(looks) < 2 or not dies_on_second_look

    monkeypatch.setattr(state_mod.procs, "stop", lambda *a, **k: False)
    monkeypatch.setattr(state_mod.procs, "pid_alive", alive)
    return sleeper, state, run_dir


def test_a_process_that_will_not_stop_keeps_the_state_and_its_directory(tmp_path, monkeypatch):
    sleeper, state, run_dir = _stubborn_process(tmp_path, monkeypatch, dies_on_second_look=False)
    try:
        with pytest.raises(LabError, match=r"process \d+ \(bird:w1\) did not stop; state kept in"):
            teardown(state)
        assert (run_dir / "state.json").exists(), "the next teardown needs the state it says it kept"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_gone_by_the_end_of_teardown_is_no_problem(tmp_path, monkeypatch):
    sleeper, state, run_dir = _stubborn_process(tmp_path, monkeypatch, dies_on_second_look=True)
    try:
        assert "1 paths removed" in teardown(state)
        assert not run_dir.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
