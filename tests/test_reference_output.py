"""`startup-conf/` and `calico/` at the repo root hold the rendered reference lab, for readers and
for users who run containerlab by hand. They must be exactly what the renderer writes now.

Regenerate after an intended change:
    FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_reference_output.py
"""

from __future__ import annotations

import pytest

from render_helpers import REFERENCE, REPO, assert_file_matches, rendered, stale_files

REGENERATE = "FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_reference_output.py"
COMMITTED = ("startup-conf", "calico")


@pytest.mark.parametrize("folder", COMMITTED)
def test_committed_reference_output_is_what_the_renderer_writes(folder):
    files = {rel: text for rel, text in rendered(REFERENCE).items() if rel.startswith(folder + "/")}
    assert files, f"the reference lab renders nothing under {folder}/"
    for rel, text in files.items():
        assert_file_matches(REPO / rel, text, REGENERATE)
    # Listed, never deleted: someone may keep a file of their own there.
    stale = stale_files(REPO / folder, {rel.split("/", 1)[1] for rel in files}, remove=False)
    assert not stale, f"{folder}/ holds files the renderer no longer writes: {sorted(stale)} ({REGENERATE})"


def test_reference_output_covers_every_router():
    names = sorted(p.name for p in (REPO / "startup-conf").glob("*-boot.cfg"))
    assert names == ["leaf0-boot.cfg", "leaf1-boot.cfg", "spine0-boot.cfg", "spine1-boot.cfg"]
    assert (REPO / "calico" / "resources.yaml").is_file()
