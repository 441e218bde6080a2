"""Golden files: every file `render_all` writes, for every shipped topology.

After an intended change to a renderer, regenerate and review the diff:
    FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py tests/test_reference_output.py
"""

from __future__ import annotations

import pytest

from render_helpers import GOLDEN, TOPOLOGIES, assert_file_matches, rendered, stale_files

REGENERATE = "FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py"


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_every_rendered_file_matches_its_golden_file(topology):
    files = rendered(topology)
    for rel, text in files.items():
        assert_file_matches(GOLDEN / topology / rel, text, REGENERATE)
    stale = stale_files(GOLDEN / topology, set(files))
    assert not stale, f"golden files the renderer no longer writes (remove them, or run {REGENERATE}): {sorted(stale)}"


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_every_renderer_has_output_for_every_topology(topology):
    files = rendered(topology)
    assert {"kind.yaml", "clab.yaml", "calico/resources.yaml"} <= set(files)
    vyos = sorted(rel.removeprefix("startup-conf/").removesuffix("-boot.cfg") for rel in files if rel.startswith("startup-conf/"))
    frr = sorted(rel.removeprefix("frr/").removesuffix(".conf") for rel in files if rel.startswith("frr/"))
    assert vyos == frr, "every router gets a VyOS config (clab) and an FRR config (netns)"
    assert all(text.endswith("\n") for text in files.values())


def test_golden_dirs_are_only_for_shipped_topologies():
    dirs = {p.name for p in GOLDEN.iterdir() if p.is_dir()}
    assert dirs == set(TOPOLOGIES), f"golden directories without a topology: {sorted(dirs - set(TOPOLOGIES))}"
