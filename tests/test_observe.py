"""Parsers of daemon and kernel output, on output captured from real BIRD 1.6.8, FRR 8.4 and iproute2."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.calico.status import calico_peer, parse_bird_protocols, parse_birdc_protocols
from lab.errors import LabError
from lab.checks.observe import parse_bird_protocols_all, parse_frr_summary_json, parse_ip_routes, parse_ping, route_to

DATA = Path(__file__).parent / "data" / "observe"


def test_bird_protocols_all():
    sessions = parse_bird_protocols_all((DATA / "bird-show-protocols-all.txt").read_text())
    assert [(s.peer, s.state, s.name, s.peer_as) for s in sessions] == [
        ("10.9.0.2", "Established", "Node_10_9_0_2", 65001),
        ("10.9.0.7", "Active", "Node_10_9_0_7", 65001),
    ]
    assert sessions[0].established and not sessions[1].established


def test_bird_protocols_all_empty_and_garbage():
    assert parse_bird_protocols_all("BIRD 1.6.8 ready.\nname proto table state since info\n") == []
    for text in ("", "Unable to connect to server control socket (/run/x.ctl): No such file or directory\n",
                 "BIRD 1.6.8 ready.\nsyntax error\n"):
        with pytest.raises(LabError, match="cannot read BIRD's protocol list") as info:
            parse_bird_protocols_all(text)
        assert (text.strip().splitlines()[-1][:20] if text.strip() else "(nothing)") in str(info.value)


def test_one_bird_parser_for_status_and_checks():
    text = (DATA / "bird-show-protocols-all.txt").read_text()
    rows = parse_birdc_protocols(text)
    assert [(r.peer_address, r.peer_type, r.state, r.info) for r in rows] == [
        ("10.9.0.2", "node specific", "up", "Established"), ("10.9.0.7", "node specific", "start", "Active")]
    short = "\n".join(line for line in text.splitlines() if not line.startswith(" "))
    assert [(p.name, p.established) for p in parse_bird_protocols(short) if p.proto == "BGP"] == [
        ("Node_10_9_0_2", True), ("Node_10_9_0_7", False)]
    assert calico_peer("Global_10_0_0_1_port_1790") == ("10.0.0.1", "global") and calico_peer("Client_1_2_3_4") is None


def test_frr_summary_json():
    sessions = parse_frr_summary_json((DATA / "frr-show-bgp-summary.json").read_text())
    assert sorted((s.peer, s.state, s.peer_as, s.name) for s in sessions) == [
        ("10.9.0.1", "Established", 65002, "nodeA"), ("10.9.0.9", "Connect", 65009, "")]
    assert parse_frr_summary_json("{}") == []
    with pytest.raises(LabError, match="cannot read FRR's BGP summary: not json"):
        parse_frr_summary_json("not json")


def test_ip_routes_with_blackhole_and_multipath():
    routes = parse_ip_routes((DATA / "ip-route.json").read_text())
    black = route_to(routes, IPv4Network("10.244.1.0/26"))
    assert black.kind == "blackhole" and black.protocol == "bird" and not black.gateways
    connected = route_to(routes, IPv4Network("10.9.0.0/24"))
    assert connected.dev == "flfa" and connected.scope == "link"
    multi = parse_ip_routes('[{"dst":"10.244.2.0/26","protocol":"bgp","metric":20,"flags":[],'
                            '"nexthops":[{"gateway":"10.1.10.2","dev":"eth1","weight":1,"flags":[]},'
                            '{"gateway":"10.1.12.2","dev":"eth2","weight":1,"flags":[]}]},'
                            '{"dst":"10.244.3.7","dev":"cali0123456789a","scope":"link","flags":[]},'
                            '{"dst":"default","gateway":"10.1.5.1","dev":"eth0","flags":[]}]')
    assert multi[0].gateways == {IPv4Address("10.1.10.2"), IPv4Address("10.1.12.2")}
    assert multi[1].dst == IPv4Network("10.244.3.7/32") and multi[1].dev.startswith("cali")
    assert multi[2].dst == IPv4Network("0.0.0.0/0")


def test_ping_summary():
    text = "--- 10.244.1.1 ping statistics ---\n3 packets transmitted, 2 received, 33.3333% packet loss, time 101ms\n"
    assert parse_ping(text) == (3, 2)
    assert parse_ping("ping: connect: Network is unreachable") == (0, 0)


def test_a_failed_ip_route_says_why_instead_of_an_empty_parse():
    from lab.checks.observe import observe_routes
    from lab.exec import Result

    class TimedOut:
        def exec(self, target, argv, **kw):
            return Result(("ip", "netns", "exec", "ns", *argv), 124, "", "\ntimed out after 10.0s")

    with pytest.raises(LabError, match=r"`ip route` in leaf0 failed \(rc 124\): timed out after 10.0s"):
        observe_routes(TimedOut(), "leaf0")
