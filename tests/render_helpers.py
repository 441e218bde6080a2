"""Shared by the renderer tests: rendered files per topology, golden comparison, a VyOS config parser."""

from __future__ import annotations

import difflib
import functools
import os
import re
from pathlib import Path

import pytest
import yaml

from lab.loader import TOPOLOGY_DIR, load_topology
from lab.render import render_all

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "render"
# The generated scale examples (scale-*.yaml, up to 1,000 nodes) are checked by tests/test_compact.py:
# golden files of that size would say nothing a reader could review.
TOPOLOGIES = sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml") if not p.stem.startswith("scale-"))
REFERENCE = "calico-bgp-rr"
UPDATE = os.environ.get("FABRICLAB_UPDATE_GOLDEN") == "1"


@functools.lru_cache(maxsize=None)
def rendered(topology: str) -> dict[str, str]:
    """Every file of a shipped topology, keyed by its path in the output directory (rendered once per run)."""
    return render_all(load_topology(topology))


def assert_file_matches(path: Path, text: str, regenerate: str) -> None:
    """`path` must hold exactly `text`; with FABRICLAB_UPDATE_GOLDEN=1 it is (re)written first."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if not path.exists():
        pytest.fail(f"missing {path}: regenerate with {regenerate}")
    expected = path.read_text()
    if expected != text:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"{path} (committed)", "rendered now"))
        pytest.fail(f"{path} differs from what the renderer writes now; if the change is intended, "
                    f"regenerate with {regenerate} and commit it:\n{diff}")


def stale_files(directory: Path, expected: set[str], remove: bool = True) -> set[str]:
    """Files under `directory` (relative paths) the renderer no longer writes; removed when updating if `remove`."""
    on_disk = {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()} if directory.is_dir() else set()
    stale = on_disk - expected
    if UPDATE and remove:
        for rel in stale:
            (directory / rel).unlink()
        return set()
    return stale


def topology_variant(tmp_path: Path, change, base: str = REFERENCE):
    """Load a shipped topology after `change(doc)` edits its YAML document (written to tmp_path)."""
    doc = yaml.safe_load((TOPOLOGY_DIR / f"{base}.yaml").read_text())
    change(doc)
    path = tmp_path / f"{base}-variant.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_topology(path)


# -- VyOS config.boot ----------------------------------------------------------------------------

def parse_vyos(text: str) -> dict:
    """Parse VyOS's curly-brace config into nested dicts; a leaf maps to its value (None if valueless).

    Strict on purpose: unbalanced braces, a child named twice, or text after the footer fail the test.
    """
    root: dict = {}
    stack = [root]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("//", "/*")):
            continue
        if line == "}":
            assert len(stack) > 1, f"line {number}: '}}' without an open node"
            stack.pop()
            continue
        if line.endswith("{"):
            key, value = line[:-1].strip(), {}
        else:
            name, _, rest = line.partition(" ")
            key, value = name, (rest or None)
        assert key not in stack[-1], f"line {number}: '{key}' appears twice in one node"
        stack[-1][key] = value
        if isinstance(value, dict):
            stack.append(value)
    assert len(stack) == 1, f"{len(stack) - 1} node(s) left open at the end"
    return root


def vyos_paths(tree: dict, prefix: tuple[str, ...] = ()) -> list[str]:
    """The config as `set` paths: one per leaf (with its value) and one per empty node."""
    paths = []
    for key, value in tree.items():
        path = prefix + tuple(key.split(" "))
        if isinstance(value, dict):
            paths += vyos_paths(value, path) if value else [" ".join(path)]
        else:
            paths.append(" ".join(path + ((value,) if value is not None else ())))
    return paths


def path_matches(path: str, pattern: str) -> bool:
    """`*` in a pattern stands for one word (a tag or a value)."""
    regex = " ".join(r"\S+" if word == "*" else re.escape(word) for word in pattern.split(" "))
    return re.fullmatch(regex, path) is not None
