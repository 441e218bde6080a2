"""The reference lab on the netns provider: real namespaces, FRR, BIRD and packets.

One lab for the module (up once, ~3 s); one test takes it down, checks that nothing of it
is left and the host is as it was, then brings it up again for the others (the suite runs
shuffled: no test may rely on running last).
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from ipaddress import IPv4Address, IPv4Network

import pytest

from lab.checks.observe import observe_bird_sessions, observe_frr_sessions, observe_routes, parse_ping, route_to
from lab.commands import lab as cmd
from lab.loader import load_topology
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import unique, host_snapshot, lab_leftovers, quiet, requires_netns

pytestmark = [requires_netns, pytest.mark.netns]
LAB = unique("t-ref")


@pytest.fixture(scope="module")
def host_before():
    return host_snapshot()


@pytest.fixture(scope="module")
def lab(host_before, tmp_path_factory):
    provider = NetnsProvider(load_topology("calico-bgp-rr"), LAB, out_dir=tmp_path_factory.mktemp("ref"))
    if provider.is_up():  # left by an earlier run that was killed
        provider.down(quiet())
    out = io.StringIO()
    provider.up(out)
    provider.up_output = out.getvalue()
    yield provider
    provider.down(quiet())


def _node_block(lab, node: str) -> IPv4Network:
    (block,) = lab.planned_blocks()[node]
    return block


def test_up_reports_steps_and_is_a_noop_when_up(lab):
    assert "wait for every planned BGP session and pod route ... ok" in lab.up_output
    out = io.StringIO()
    lab.up(out)
    assert "already up" in out.getvalue()


def test_every_planned_session_established_from_the_daemons(lab):
    access = lab.access()
    plan = lab.blueprint.sessions
    for node in lab.topo.cluster.nodes:
        observed = {s.peer: s.state for s in observe_bird_sessions(access, node.name)}
        planned = {s.peer_address for s in plan[lab.topo.cluster.k8s_name(node)]}
        gateway = str(lab.topo.rack(node.rack).gateway)
        assert planned == {gateway}
        assert observed == {gateway: "Established"}, node.name
    expected_peers = {"spine0": {"10.1.10.1", "10.1.34.1"}, "spine1": {"10.1.12.1", "10.1.11.1"},
                      "leaf0": {"10.1.10.2", "10.1.12.2", "10.1.5.10", "10.1.5.11"},
                      "leaf1": {"10.1.34.2", "10.1.11.2", "10.1.8.10", "10.1.8.11"}}
    for router, peers in expected_peers.items():
        observed = {s.peer: s.state for s in observe_frr_sessions(access, router)}
        assert observed == {p: "Established" for p in peers}, router


def test_node_routes_like_calico(lab):
    access = lab.access()
    routes = {n.name: observe_routes(access, n.name) for n in lab.topo.cluster.nodes}
    pods = {p.node: p for p in lab.pods()}
    for node in lab.topo.cluster.nodes:
        own = route_to(routes[node.name], _node_block(lab, node.name))
        assert own is not None and own.kind == "blackhole" and own.protocol == "bird", node.name
        pod = route_to(routes[node.name], IPv4Network(f"{pods[node.name].ip}/32"))
        assert pod.dev.startswith("cali") and len(pod.dev) == 15 and pod.scope == "link"
    # Same rack: straight to the owner (the leaf reflects without touching the next hop).
    same = route_to(routes["worker"], _node_block(lab, "control-plane"))
    assert same.gateways == {IPv4Address("10.1.5.10")} and same.protocol == "bird"
    # Other rack: via the node's own leaf.
    other = route_to(routes["worker2"], _node_block(lab, "control-plane"))
    assert other.gateways == {IPv4Address("10.1.8.1")} and other.protocol == "bird"


def test_leaf_has_ecmp_route_to_remote_rack(lab):
    route = route_to(observe_routes(lab.access(), "leaf0"), _node_block(lab, "worker3"))
    assert route.gateways == {IPv4Address("10.1.10.2"), IPv4Address("10.1.12.2")}
    local = route_to(observe_routes(lab.access(), "leaf0"), _node_block(lab, "worker"))
    assert local.gateways == {IPv4Address("10.1.5.11")}


def test_cross_rack_pod_ping(lab):
    pods = {p.node: p for p in lab.pods()}
    result = lab.access().exec("control-plane-pod0", ["ping", "-c", "2", "-i", "0.1", "-W", "1", pods["worker3"].ip])
    assert parse_ping(result.stdout) == (2, 2), result.stdout + result.stderr


def test_lab_test_passes_with_json_and_junit(lab, tmp_path):
    out = io.StringIO()
    code = cmd.test(None, "netns", LAB, json_path=str(tmp_path / "r.json"), junit_path=str(tmp_path / "r.xml"), out=out)
    report = out.getvalue()
    assert code == 0, report
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] and [c["name"] for c in data["checks"]] == [
        "bgp-sessions", "routes", "connectivity", "ecmp", "failover", "service-advertisement"]
    checks = {c["name"]: c for c in data["checks"]}
    split = checks["ecmp"]["figures"]["split"]
    assert set(split) == {"eth1", "eth2"} and all(n >= 13 for n in split.values())
    assert 0 <= checks["failover"]["figures"]["loss_window_ms"] <= 1000
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert suite.get("tests") == "6" and suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert "split" in props and "loss_window_ms" in props
    lab.test_report = report


def test_status_and_exec(lab):
    out = io.StringIO()
    assert cmd.status(None, "netns", LAB, out=out) == 0
    text = out.getvalue()
    assert "| 10.1.5.1     | node specific | up    |" in text.replace("  ", " ") or "node specific" in text
    assert "Established" in text and "router leaf0 (AS 65005)" in text
    out = io.StringIO()
    assert cmd.status(None, "netns", LAB, as_json=True, out=out) == 0
    data = json.loads(out.getvalue())
    assert set(data["nodes"]) == {"control-plane", "worker", "worker2", "worker3"}
    out = io.StringIO()
    assert cmd.exec_in("leaf0", "ip -4 addr show eth3", None, "netns", LAB, out=out) == 0
    assert "10.1.5.1/24" in out.getvalue()


def test_capture_task_writes_a_pcap(lab, tmp_path):
    from lab.pcap import read_packets

    pods = {p.node: p for p in lab.pods()}
    pinger = lab.access().spawn("control-plane-pod0", ["ping", "-i", "0.05", "-c", "60", pods["worker3"].ip],
                                log_path=tmp_path / "ping.log")
    try:
        out = io.StringIO()
        path = tmp_path / "eth3.pcap"
        assert cmd.capture("leaf0", "eth3", 1.0, None, "netns", LAB, out_path=str(path), bpf="icmp", out=out) == 0
    finally:
        pinger.stop()
    packets = list(read_packets(path))
    assert packets and all(p.proto == 1 for p in packets)
    assert {(p.src, p.dst) for p in packets} >= {(pods["control-plane"].ip, pods["worker3"].ip)}
    assert f"wrote {path} ({len(packets)} IPv4 packets)" in out.getvalue()


def test_down_removes_everything_and_leaves_the_host_as_it_was(lab, host_before):
    out = io.StringIO()
    lab.down(out)
    assert "removed" in out.getvalue()
    assert lab_leftovers("fl-t-ref-", lab.run_dir) == []
    assert host_snapshot() == host_before
    out = io.StringIO()
    lab.down(out)
    assert "not up" in out.getvalue()
    lab.up(quiet())  # the module's other tests expect the lab up
