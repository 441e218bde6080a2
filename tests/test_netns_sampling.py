"""The connectivity check samples a real lab too big for all pairs, and its traffic leaves
(next to) no dynamic neighbour entries: two racks behind a leaf each, 16 nodes per rack."""

from __future__ import annotations

import pytest

from lab.checks import run_checks
from lab.checks.base import Context
from lab.commands.gen import family_text
from lab.loader import load_topology
from lab.providers.netns import netlink
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import quiet, requires_netns, unique

pytestmark = [requires_netns, pytest.mark.netns]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample")
    path = tmp / "rackleaf-32.yaml"
    path.write_text(family_text("rackleaf", 32, name="rackleaf-32", per_rack=16))
    provider = NetnsProvider(load_topology(path), unique("t-sample"), out_dir=tmp / "out")
    if provider.is_up():
        provider.down(quiet())
    try:
        provider.up(quiet())
    except BaseException:
        provider.down(quiet())
        raise
    yield provider
    provider.down(quiet())


def _dynamic(lab) -> list[tuple[str, str]]:
    try:
        return [(ns.target, n["ip"]) for ns in lab.blueprint.namespaces for n in netlink.neighbours(ns.netns)
                if n["state"] not in ("permanent", "noarp")]
    finally:
        netlink.close_all()


def test_connectivity_samples_every_pod_node_and_rack_pair_and_passes(lab):
    (result,) = run_checks(Context(lab, deadline=60), ["connectivity"])
    assert result.status == "PASS", result.details[:5]
    assert result.figures["sampled"] is True
    assert result.figures["all_pairs"] == 32 * 31 + 32 * 32
    assert result.figures["pairs"] <= 32 + 32 + 3 and result.figures["rack_pairs"] == 3
    assert "every pod (32) and node (32)" in result.expected
    # Only the hubs' own-rack pair resolves its neighbour dynamically (two entries per rack).
    assert len(_dynamic(lab)) <= 4, _dynamic(lab)
