"""Every check can fail: break the reference lab on purpose, the right check says FAIL and why.

One lab for the module; each test breaks one thing, checks, and repairs it so the
next test starts from a healthy lab, whatever the order (the suite runs shuffled).
"""

from __future__ import annotations

import contextlib

import pytest

from lab.checks import run_checks
from lab.checks.base import Context, poll
from lab.checks.observe import observe_routes, route_to
from lab.exec import stop_pid
from lab.loader import load_topology
from lab.providers.netns.provider import NetnsProvider
from lab.providers.netns.state import LabState
from netns_helpers import unique, quiet, requires_netns

pytestmark = [requires_netns, pytest.mark.netns]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    provider = NetnsProvider(load_topology("calico-bgp-rr"), unique("t-sab"), out_dir=tmp_path_factory.mktemp("sab"))
    if provider.is_up():
        provider.down(quiet())
    provider.up(quiet())
    yield provider
    provider.down(quiet())


def _check(lab, name, deadline=2.0):
    (result,) = run_checks(Context(lab, deadline=deadline), [name])
    return result


def _ecmp_back(lab, block):
    ok, _ = poll(lambda: route_to(observe_routes(lab.access(), "leaf0"), block),
                 lambda r: r is not None and len(r.gateways) == 2, 15, 0.1)
    assert ok, "test repair: leaf0 did not get ECMP back"


@contextlib.contextmanager
def _uplink_down(lab, iface):
    """leaf0's uplink down for the duration; afterwards up again and ECMP back before the next test."""
    access = lab.access()
    access.exec("leaf0", ["ip", "link", "set", iface, "down"], check=True)
    try:
        yield access
    finally:
        for name in ("eth1", "eth2"):
            access.exec("leaf0", ["ip", "link", "set", name, "up"], check=True)
        _ecmp_back(lab, _block(lab, "worker2"))


def _links_down(lab, router):
    import json

    links = json.loads(lab.access().exec(router, ["ip", "-j", "link", "show"], check=True).stdout)
    return {link["ifname"] for link in links if "UP" not in link.get("flags", [])}


def _block(lab, node):
    (block,) = lab.planned_blocks()[node]
    return block


def test_healthy_lab_passes_everything_first(lab):
    results = run_checks(Context(lab), ["bgp-sessions", "routes", "connectivity", "ecmp", "failover", "service-advertisement"])
    assert [r.status for r in results] == ["PASS"] * 6, [(r.name, r.observed) for r in results]


def _vtysh_config(lab, router, *lines):
    from lab.exec import run_argv

    (daemon,) = [d for d in lab.blueprint.frr if d.target == router]
    argv = lab._frr(daemon).vtysh_argv("configure terminal", *lines, "end", "clear bgp * soft in")
    run_argv(argv, check=True)


def test_routes_fails_when_a_leaf_loses_a_route(lab):
    # zebra puts back a route deleted from the kernel; a bad inbound policy on the leaf does not.
    block = _block(lab, "worker3")
    policy = ["router bgp 65005", "address-family ipv4 unicast",
              "neighbor 10.1.10.2 prefix-list sabotage in", "neighbor 10.1.12.2 prefix-list sabotage in"]
    _vtysh_config(lab, "leaf0", f"ip prefix-list sabotage seq 5 deny {block}",
                  "ip prefix-list sabotage seq 10 permit 0.0.0.0/0 le 32", *policy)
    try:
        gone, _ = poll(lambda: route_to(observe_routes(lab.access(), "leaf0"), block), lambda r: r is None, 10, 0.05)
        assert gone, "test setup: the policy did not take effect"
        result = _check(lab, "routes")
        assert result.status == "FAIL"
        assert any(d.startswith(f"leaf0: no route to {block} of worker3") for d in result.details), result.details
    finally:
        _vtysh_config(lab, "leaf0", "router bgp 65005", "address-family ipv4 unicast",
                      "no neighbor 10.1.10.2 prefix-list sabotage in", "no neighbor 10.1.12.2 prefix-list sabotage in")
    assert _check(lab, "routes", deadline=10).status == "PASS"


def test_connectivity_fails_for_a_blocked_pod(lab):
    access = lab.access()
    pods = {p.node: p for p in lab.pods()}
    target = pods["worker3"]
    access.exec("control-plane-pod0", ["ip", "route", "add", "prohibit", f"{target.ip}/32"], check=True)
    try:
        result = _check(lab, "connectivity")
        assert result.status == "FAIL"
        assert any(d.startswith(f"control-plane-pod0 -> {target.name} ({target.ip}) [across racks]: 3/3 lost") for d in result.details), result.details
        # The replies to worker3's pod are prohibited too: both directions fail, nothing else.
        assert any(d.startswith(f"{target.name} -> control-plane-pod0") for d in result.details), result.details
        assert result.figures["failed_pairs"] == 2
    finally:
        access.exec("control-plane-pod0", ["ip", "route", "del", "prohibit", f"{target.ip}/32"], check=True)


def test_ecmp_fails_with_one_uplink_down(lab):
    with _uplink_down(lab, "eth2"):
        result = _check(lab, "ecmp")
        assert result.status == "FAIL"
        assert "leaf0 eth2 carried 0 of 64 flows (< 20%)" in result.details
        assert "leaf0 eth2 is down: no capture there" in result.details
        assert result.figures["split"] == {"eth1": 64, "eth2": 0}


def test_failover_fails_when_the_other_uplink_is_already_down(lab):
    with _uplink_down(lab, "eth2"):
        result = _check(lab, "failover")
        assert result.status == "FAIL"
        assert any("did not continue via the other spine" in d or "loss window" in d for d in result.details), result.details
        # The check took eth1 down itself: it must have put it back, before this test's own cleanup does.
        assert "eth1" not in _links_down(lab, "leaf0"), "the failover check left leaf0 eth1 down"


def test_service_advertisement_fails_when_a_leaf_already_routes_the_range(lab):
    access = lab.access()
    access.exec("leaf1", ["ip", "route", "add", "10.96.0.0/16", "via", "10.1.8.10"], check=True)
    try:
        result = _check(lab, "service-advertisement")
        assert result.status == "FAIL"
        assert any("before serviceClusterIPs: leaf1 already route(s) 10.96.0.0/16" in d for d in result.details), result.details
    finally:
        access.exec("leaf1", ["ip", "route", "del", "10.96.0.0/16", "via", "10.1.8.10"])
    # The check restored the BGPConfiguration: nobody advertises the range any more.
    assert list(lab.resources().default_bgp_configuration().service_cluster_ips) == []


def test_sessions_fail_when_a_node_bird_stops(lab):
    state = LabState(lab.state_path)
    (bird,) = [p for p in state.processes() if p["role"] == "bird:worker2"]
    assert stop_pid(bird["pid"], bird["starttime"])
    try:
        result = _check(lab, "bgp-sessions", deadline=5)
        # The check says why at once (the daemon is gone) instead of waiting out its deadline.
        assert result.status == "FAIL"
        assert result.observed.startswith("bird of worker2 is not running"), result.observed
        assert any("worker2/bird.log" in d for d in result.details), result.details
    finally:
        lab.start("worker2")  # the recorded command line again, as `invoke lab.start` does
    # Repaired for the next test: BIRD may wait out its error wait (up to 30 s) before reconnecting.
    repaired = _check(lab, "bgp-sessions", deadline=60)
    assert repaired.status == "PASS", repaired.details
