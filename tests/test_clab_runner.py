"""The command-runner seam: argv lists only, one printable line per command, a recording fake."""

from __future__ import annotations

import io
import subprocess

import pytest

from lab.errors import LabError
from lab.exec import Result
from lab.runner import DryRunRunner, RecordingRunner, SubprocessRunner, command_line


def test_subprocess_runner_runs_argv_without_a_shell(monkeypatch, tmp_path):
    calls = []
    real = subprocess.run

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    marker = tmp_path / "x"
    result = SubprocessRunner().run(["echo", f"a; touch {marker}"])
    assert result.stdout == f"a; touch {marker}\n" and not marker.exists()  # the ';' was an argument, not a shell
    assert all(not kw.get("shell") for kw in calls)


def test_subprocess_runner_env_input_and_errors():
    runner = SubprocessRunner()
    assert runner.run(["sh", "-c", "echo $FABRICLAB_T"], env={"FABRICLAB_T": "x y"}).stdout.strip() == "x y"
    assert runner.run(["cat"], input="from stdin").stdout == "from stdin"
    with pytest.raises(LabError, match=r"`FABRICLAB_T=1 sh -c 'echo boom >&2; exit 3'` failed \(rc 3\): boom"):
        runner.run(["sh", "-c", "echo boom >&2; exit 3"], env={"FABRICLAB_T": "1"})
    assert runner.run(["no-such-command-here"], check=False).rc == 127
    assert runner.run(["sleep", "5"], timeout=0.2, check=False).rc == 124


def test_subprocess_runner_verbose_echoes_each_command():
    out = io.StringIO()
    runner = SubprocessRunner(out, verbose=True)
    runner.run(["true"])
    runner.note("pyroute2: ip link add br0 type bridge")
    assert out.getvalue() == "  $ true\n  # pyroute2: ip link add br0 type bridge\n"


def test_dry_run_prints_one_copy_and_paste_line_per_command():
    out = io.StringIO()
    dry = DryRunRunner(out)
    result = dry.run(["calicoctl", "patch", "node", "n", "-p", '{"a": 1}'], env={"K": "v w"})
    assert result == Result(("calicoctl", "patch", "node", "n", "-p", '{"a": 1}'), 0, "", "")
    dry.note("pyroute2: ip link add br0 type bridge")
    dry.run(["kubectl", "apply", "-f", "-"], input="apiVersion: v1\n")
    assert out.getvalue().splitlines() == [
        "K='v w' calicoctl patch node n -p '{\"a\": 1}'",
        "# pyroute2: ip link add br0 type bridge",
        "kubectl apply -f -  # stdin: 15 characters",
    ]
    assert command_line(["a b", "c"]) == "'a b' c"


def test_recording_runner_answers_by_longest_prefix_and_fails_on_demand():
    runner = RecordingRunner({("kind",): Result((), 0, "short", ""),
                              ("kind", "get", "clusters"): Result((), 0, "lab\n", ""),
                              ("kubectl",): lambda argv: Result(argv, 0, " ".join(argv[1:]), "")})
    assert runner.run(["kind", "get", "clusters"]).stdout == "lab\n"
    assert runner.run(["kind", "version"]).stdout == "short"
    assert runner.run(["kubectl", "get", "nodes"]).stdout == "get nodes"
    assert runner.run(["other"]) == Result(("other",), 0, "", "")
    assert runner.commands[0] == ("kind", "get", "clusters") and len(runner.commands) == 4

    runner = RecordingRunner(fail_at=2)
    runner.run(["one"])
    with pytest.raises(LabError, match="`two` failed \\(rc 1\\): injected failure"):
        runner.run(["two"])
    assert runner.run(["three"]).rc == 0

    runner = RecordingRunner(fail_when=lambda argv: argv[0] == "curl")
    assert runner.run(["curl", "-o", "x", "u"], check=False).rc == 1
    with pytest.raises(LabError):
        runner.run(["curl"], env={"A": "b"})
    assert runner.lines() == ["curl -o x u", "A=b curl"]
    runner.note("docker SDK: exec")
    assert runner.notes == ["docker SDK: exec"]
