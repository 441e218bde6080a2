"""Calico releases the clab provider can install: the loader refuses those whose tag has no
`manifests/calico.yaml` (before v3.24.0), with one error line naming file, line and field."""

from __future__ import annotations

import pytest

from lab import versions
from lab.errors import TopologyError
from lab.loader import TOPOLOGY_DIR, load_topology

BASE = (TOPOLOGY_DIR / "calico-bgp-rr.yaml").read_text()
ANCHOR = "  peering: rack-leaf\n"


def variant(tmp_path, extra: str):
    assert ANCHOR in BASE
    path = tmp_path / "lab.yaml"
    path.write_text(BASE.replace(ANCHOR, ANCHOR + extra, 1))
    return path


@pytest.mark.parametrize("version", ["v3.23.5", "v3.23.0", "v3.22.0"])
def test_a_calico_without_the_manifest_path_is_refused(tmp_path, version):
    path = variant(tmp_path, f"  version: {version}\n")
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    err, message = info.value, str(info.value)
    assert err.field == "calico.version" and str(path) in message and "\n" not in message
    assert err.line == BASE.splitlines().index(ANCHOR.rstrip("\n")) + 2  # the version: line itself
    assert "no manifests/calico.yaml" in err.problem and "v3.24.0" in err.problem
    assert versions.CALICO_VERSION in err.problem and "calico.manifest_url" in err.problem  # the way out


@pytest.mark.parametrize("version", ["v3.24.0", "v3.26.4", versions.CALICO_VERSION, "v3.32.1"])
def test_a_calico_from_v3_24_gets_its_tags_manifest(tmp_path, version):
    topo = load_topology(variant(tmp_path, f"  version: {version}\n"))
    assert topo.calico.version == version and topo.calico.manifest_url == versions.calico_manifest_url(version)
    assert topo.calico.manifest_url.endswith(f"/{version}/manifests/calico.yaml")


def test_an_older_calico_with_its_own_manifest_is_the_users_choice(tmp_path):
    url = "https://example.invalid/calico-v3.23.5.yaml"
    topo = load_topology(variant(tmp_path, f"  version: v3.23.5\n  manifest_url: {url}\n"))
    assert topo.calico.version == "v3.23.5" and topo.calico.manifest_url == url


def test_the_default_is_the_pinned_release():
    topo = load_topology("calico-bgp-rr")
    assert topo.calico.version == versions.CALICO_VERSION
    assert versions.calico_minor(versions.CALICO_VERSION) >= versions.CALICO_MANIFEST_SINCE == (3, 24)


@pytest.mark.parametrize("version", ["latest", "3", "v3.x.1", "v2.6.12"])
def test_not_a_release(tmp_path, version):
    with pytest.raises(TopologyError) as info:
        load_topology(variant(tmp_path, f"  version: '{version}'\n"))
    assert info.value.field == "calico.version"
