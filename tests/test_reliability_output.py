"""Issue 11, finding 9, the two items the other reliability tests left: `lab.exec` shows a
command's output while it runs (not when it exits), and `lab.capture` as a non-root user is
one error line, not a traceback."""

from __future__ import annotations

import io
import os
import selectors
import subprocess
import sys
import time

import pytest

from lab.commands import lab as cmd
from lab.errors import LabError
from netns_helpers import quiet, requires_netns, unique
from reliability_helpers import REPO

pytestmark = [requires_netns, pytest.mark.netns]


@pytest.fixture(scope="module")
def lab_name():
    name = unique("rel-out")
    cmd.up("calico-fullmesh", "netns", name, out=quiet())
    yield name
    cmd.down(None, "netns", name, out=quiet())


def test_lab_exec_shows_output_while_the_command_runs(lab_name):
    argv = [sys.executable, "-m", "invoke", "lab.exec", "--name", lab_name, "worker", "--",
            "sh", "-c", "echo first; sleep 4; echo second"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=30), "nothing printed within 30 s"
        first = proc.stdout.readline()
        at_first = time.monotonic() - started
        rest, err = proc.communicate(timeout=60)
        ended = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first == "first\n" and rest == "second\n" and proc.returncode == 0, err
    # The first line arrived while `sleep 4` still ran: at least 3 s before the command ended.
    assert ended - at_first >= 3.0, (at_first, ended)


def test_lab_capture_as_a_non_root_user_is_one_error_line(lab_name, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError) as err:
        cmd.capture("worker", "eth0", "1", None, "netns", lab_name, out=io.StringIO())
    message = str(err.value)
    assert "root" in message and "\n" not in message, message
