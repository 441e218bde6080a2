"""Bad input from the command line and hostile files: one `error:` line naming the file and line
(or the option), a non-zero exit, no traceback, nothing written, within a time and memory bound.

The hostile files go through the real command line (`invoke lab.plan --topology F`) in a child
whose address space is capped (RLIMIT_AS): a loader that expands an alias bomb dies there with
MemoryError (a traceback, so the test fails) instead of taking the machine down.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from invoke import Context, Exit

from lab.loader import TOPOLOGY_DIR
from lab.names import LAB_NAME_MAX, check_lab_name
from lab.errors import LabError
from lab.providers.netns.lock import RUN_ROOT
from reliability_helpers import REPO, invoke, tasks_module, tree

tasks = tasks_module()

REFERENCE = (TOPOLOGY_DIR / "calico-bgp-rr.yaml").read_text()

# -- --name ----------------------------------------------------------------------------------

BAD_NAMES = {
    "space": "ra x",
    "leading space": " ra",
    "dot-dot": "..",
    "path up": "../../tmp/rel-escape",
    "slash": "a/b",
    "absolute": "/tmp/rel-abs",
    "upper case": "Lab",
    "too long": "x" * (LAB_NAME_MAX + 1),
    "leading dash": "-ra",
    "trailing dash": "ra-",
    "dot (the namespace separator)": "ra.x",
    "underscore": "ra_x",
    "non-ASCII": "rä",
    "newline": "ra\nx",
    "empty": "",
    "dot-lock dir": ".locks",
}

# Every task that takes --name, with the other arguments it needs to get that far.
NAMED_TASKS = {
    "up": dict(), "down": dict(), "test": dict(), "status": dict(),
    "exec_": dict(target="leaf0"), "capture": dict(target="leaf0", iface="eth1"),
    "calicoctl": dict(), "pods": dict(), "link_": dict(endpoint="leaf0:eth1", state="down"),
    "stop_": dict(target="leaf0"), "start_": dict(target="leaf0"), "traffic": dict(action="status"),
    "bundle": dict(),
}


def _host_state() -> set[str]:
    return tree(RUN_ROOT) | tree(REPO / "build") | {p for p in ("/tmp/rel-escape", "/tmp/rel-abs") if Path(p).exists()}


@pytest.mark.parametrize("label", BAD_NAMES)
def test_a_bad_lab_name_is_one_error_line_and_changes_nothing(label, capsys, monkeypatch):
    name = BAD_NAMES[label]
    before = _host_state()
    for task_name, args in NAMED_TASKS.items():
        # lab.exec takes its command from after `--` on the process's own command line.
        monkeypatch.setattr("sys.argv", ["invoke", "lab.exec", "leaf0", "--", "true"] if task_name == "exec_" else ["invoke"])
        with pytest.raises(Exit) as ended:  # anything else would be a traceback for the user
            getattr(tasks, task_name)(Context(), name=name, **args)
        assert ended.value.code == 1, task_name
        err = capsys.readouterr().err
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: --name"), (task_name, err)
        assert "lab name" in lines[0], (task_name, err)
    assert _host_state() == before


@pytest.mark.parametrize("name", ["a", "ra8", "ra8-br", "x" * LAB_NAME_MAX, "0-9"])
def test_good_lab_names_pass(name):
    assert check_lab_name(name) == name


def test_the_real_command_line_refuses_a_path_as_name():
    run = invoke(["lab.up", "--name", "../../tmp/rel-escape"])
    assert run.rc == 1 and "Traceback" not in run.stderr
    assert run.error_lines() == [run.error_lines()[0]] and run.error_lines()[0].startswith("error: --name")
    assert not Path("/tmp/rel-escape").exists()


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "1e9", ""])
def test_bad_capture_seconds_are_one_line(value, capsys):
    with pytest.raises(Exit):
        tasks.capture(Context(), target="leaf0", iface="eth1", seconds=value, name="rel-none")
    lines = capsys.readouterr().err.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: --seconds"), lines


def test_check_lab_name_raises_lab_error_only():
    for name in [*BAD_NAMES.values(), None, 5, b"ab"]:
        with pytest.raises(LabError):
            check_lab_name(name)


# -- hostile files ---------------------------------------------------------------------------

def _bomb(levels: int = 9) -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def _with_name(extra: str) -> bytes:
    """The reference topology with something hostile added at the end (after valid content)."""
    return (REFERENCE + extra).encode()


HOSTILE: dict[str, tuple[bytes, int | None]] = {
    # name: (content, the line the error must name; None: any line)
    "alias bomb (9 anchors of 9 aliases each)": (_bomb(9), None),
    "self-referencing alias after valid content": (_with_name("description2: &b [*b]\n"), None),
    "5000 nested brackets": (b"name: " + b"[" * 5000 + b"]" * 5000 + b"\n", 1),
    "5000 nested flow mappings": (b"name: " + b"{a: " * 5000 + b"1" + b"}" * 5000 + b"\n", 1),
    "3000 nested block mappings": ("".join(" " * i + "a:\n" for i in range(3000)).encode(), None),
    "huge scalar (15 MB)": (b"name: " + b"a" * (15 * 1024 * 1024) + b"\n", 1),
    "too large a file (17 MB)": (b"# " + b"x" * (17 * 1024 * 1024) + b"\n", 1),
    "tag !Ref": (b"name: !Ref 500\n", 1),
    "python tag": (b"name: !!python/name:os.system\n", 1),
    "python apply tag": (b"name: !!python/object/apply:os.system ['true']\n", 1),
    "binary tag": (b"name: !!binary aGVsbG8=\n", 1),
    "tag on a mapping": (b"racks: !!map {a: 1}\n", 1),
    "merge key on a scalar": (b"a: &x 5\nb:\n  <<: *x\n", 3),
    "merge key with an undefined alias": (b"b:\n  <<: *nothing\n", 2),
    "self-referencing alias": (b"a: &a [*a]\n", 1),
    "duplicate key": (b"name: a\nname: b\n", 2),
    "non-UTF-8 (Latin-1)": (b"name: caf\xe9\n", 1),
    "UTF-16": ("name: x\n".encode("utf-16"), 1),
    "binary garbage": (bytes(range(256)) * 4, 2),  # byte 0x80 follows the first newline
    "NUL bytes": (b"name: a\x00b\n", 1),
    "control character": (b"name: a\x07b\n", 1),
    "not a mapping": (b"- a\n- b\n", 1),
    "two documents": (b"name: a\n---\nname: b\n", 3),
    "empty": (b"", 1),
    "only a comment": (b"# nothing\n", 1),
    "unclosed quote": (b"name: 'abc\nracks: {}\n", None),
    "tab indentation": (b"name: a\nracks:\n\track0: {}\n", 3),
}

TIME_BOUND = 30.0  # seconds: generous on a shared machine; the bomb took 35 s before the fix
MEMORY_BOUND_MB = 1024  # address space of the child; the bomb took 3 GB before the fix


def _assert_one_error(run, file: Path, line: int | None) -> None:
    assert "Traceback" not in run.stderr and "MemoryError" not in run.stderr, run.stderr[-3000:]
    assert run.rc == 1, (run.rc, run.stderr[-2000:])
    lines = run.error_lines()
    assert len(lines) == 1, lines
    match = re.match(rf"error: {re.escape(str(file))}:(\d+)(:| )", lines[0])
    assert match, lines[0][:300]
    if line is not None:
        assert int(match.group(1)) == line, lines[0][:300]
    assert len(lines[0]) < 600, "the error line quotes too much of the input"
    assert run.seconds < TIME_BOUND, run.seconds


@pytest.mark.parametrize("label", HOSTILE)
def test_a_hostile_topology_file_is_one_located_error_in_bounded_time_and_memory(label, tmp_path):
    content, line = HOSTILE[label]
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    run = invoke(["lab.plan", "--topology", str(path)], timeout=TIME_BOUND * 2, memory_mb=MEMORY_BOUND_MB)
    _assert_one_error(run, path, line)


# The same for a Calico resources file named by a valid topology (calicoctl's strict decoding).
RESOURCE_CASES = {k: v for k, v in HOSTILE.items() if k not in ("not a mapping", "two documents", "empty",
                                                                "only a comment", "self-referencing alias after valid content")}
RESOURCE_CASES["typo in a field"] = (b"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\n"
                                     b"spec:\n  nodeSelectr: rack == 'rack0'\n  peerIP: 10.1.5.1\n  asNumber: 65005\n", 6)
RESOURCE_CASES["duplicate key in a resource"] = (b"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n"
                                                 b"  name: p\n  name: q\n", 5)


@pytest.mark.parametrize("label", RESOURCE_CASES)
def test_a_hostile_calico_resource_file_is_one_located_error(label, tmp_path):
    content, line = RESOURCE_CASES[label]
    resources = tmp_path / "hostile-resources.yaml"
    resources.write_bytes(content)
    topology = tmp_path / "lab.yaml"
    topology.write_text(REFERENCE.replace("calico:\n", "calico:\n  resources: [hostile-resources.yaml]\n", 1))
    run = invoke(["lab.plan", "--topology", str(topology)], timeout=TIME_BOUND * 2, memory_mb=MEMORY_BOUND_MB)
    _assert_one_error(run, resources, line)


def test_merge_keys_are_supported():
    """A valid file with a merge key is not refused: keys written in the mapping win."""
    from lab.yamlsrc import load_located_all

    (doc,) = load_located_all("base: &b {asn: 1, role: leaf}\nr:\n  <<: *b\n  asn: 2\n", "m.yaml")
    assert dict(doc["r"]) == {"asn": 2, "role": "leaf"} and doc["r"].key_line("asn") == 4


@pytest.mark.parametrize("option", ["json", "junit", "report"])
def test_an_unwritable_report_path_is_refused_before_any_check_runs(option, capsys):
    with pytest.raises(Exit):
        tasks.test(Context(), name="rel-none", **{option: "/nonexistent-dir/x.out"})
    lines = capsys.readouterr().err.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith(f"error: --{option} /nonexistent-dir/x.out"), lines


def test_a_float_where_a_whole_number_belongs_says_so(tmp_path):
    path = tmp_path / "float.yaml"
    path.write_text(REFERENCE.replace("asn: 500", "asn: 500.5", 1))
    run = invoke(["lab.plan", "--topology", str(path)], timeout=60)
    _assert_one_error(run, path, 12)
    assert "a whole number" in run.stderr and "the number 500.5" in run.stderr, run.stderr
