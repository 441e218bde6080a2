"""Injectable run and output roots (lab/paths.py): a lab can live under a temporary root."""

from __future__ import annotations

import io
import os

import pytest

from lab import paths
from lab.commands.lab import down, open_provider
from lab.commands.render import render
from lab.providers.netns.lock import holder, is_locked, lab_lock, lock_path
from lab.providers.netns.provider import NetnsProvider

LAB = "t-roots"


@pytest.fixture
def roots(tmp_path, monkeypatch):
    run, out = tmp_path / "run", tmp_path / "out"
    monkeypatch.setenv(paths.RUN_ROOT_ENV, str(run))
    monkeypatch.setenv(paths.OUT_ROOT_ENV, str(out))
    return run, out


def test_defaults_without_the_environment(monkeypatch):
    monkeypatch.delenv(paths.RUN_ROOT_ENV, raising=False)
    monkeypatch.delenv(paths.OUT_ROOT_ENV, raising=False)
    assert paths.run_root() == paths.Path("/run/fabriclab")
    assert paths.out_dir("x") == paths.CHECKOUT / "build" / "x"
    assert paths.run_root("/elsewhere") == paths.Path("/elsewhere")  # an explicit root wins


def test_a_lab_opened_under_a_temporary_root_lives_there(roots):
    run, out = roots
    lab = open_provider("netns", None, LAB)
    assert isinstance(lab, NetnsProvider)
    assert lab.run_dir == run / LAB and lab.state_path == run / LAB / "state.json"
    assert lab.out_dir == out / LAB
    assert not lab.is_up() and not NetnsProvider.exists(LAB)


def test_the_lock_is_under_the_root_and_needs_no_root_user(roots):
    run, _ = roots
    assert lock_path(LAB) == run / ".locks" / f"{LAB}.lock"
    with lab_lock(LAB, "lab.test"):
        assert is_locked(LAB)
        assert holder(LAB)["pid"] == os.getpid()
    assert not is_locked(LAB)


def test_down_of_a_lab_that_is_not_there_says_so_and_touches_nothing(roots):
    run, _ = roots
    text = io.StringIO()
    assert down(None, "netns", LAB, out=text) == 0
    assert "nothing to remove" in text.getvalue()
    assert not (run / LAB).exists()


def test_render_writes_under_the_output_root(roots):
    _, out = roots
    written = render(None, None, stream=io.StringIO())
    assert written and all(out in p.parents for p in written)


def test_the_old_lock_constant_follows_the_root(roots):
    import importlib

    lock = importlib.import_module("lab.providers.netns.lock")
    assert lock.RUN_ROOT == roots[0]  # resolved when asked for, not when the module loaded
