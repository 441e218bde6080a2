"""`lab.render` (lab.commands.render.render): every generated file written, each path printed, errors as LabError."""

from __future__ import annotations

import io

import pytest

from lab.commands.render import render
from lab.errors import LabError
from lab.providers.base import default_out_dir
from render_helpers import REFERENCE, rendered


def test_writes_every_file_of_the_reference_lab(tmp_path):
    out = io.StringIO()
    written = render(REFERENCE, str(tmp_path / "ref"), stream=out)
    rels = sorted(str(p.relative_to(tmp_path / "ref")) for p in written)
    routers = ["leaf0", "leaf1", "spine0", "spine1"]
    assert rels == sorted(["kind.yaml", "clab.yaml", "calico/resources.yaml",
                           *(f"startup-conf/{r}-boot.cfg" for r in routers), *(f"frr/{r}.conf" for r in routers)])
    for path in written:
        assert path.read_text() == rendered(REFERENCE)[str(path.relative_to(tmp_path / "ref"))]
    assert out.getvalue().splitlines() == [f"wrote {p}" for p in written]


def test_writes_route_reflector_configs(tmp_path):
    written = render("calico-rr-external", str(tmp_path), stream=io.StringIO())
    rels = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert rels == ["bird/rr1.conf", "calico/resources.yaml", "clab.yaml", "kind.yaml"]


def test_default_output_directory_is_build_lab_name():
    assert default_out_dir(REFERENCE).parts[-2:] == ("build", REFERENCE)


def test_unknown_topology_is_a_user_error(tmp_path):
    with pytest.raises(LabError):
        render("no-such-topology", str(tmp_path), stream=io.StringIO())


def test_an_unwritable_output_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LabError, match="cannot write the rendered files"):
        render(REFERENCE, str(blocker), stream=io.StringIO())
