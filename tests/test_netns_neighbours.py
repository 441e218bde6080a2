"""Permanent neighbour entries on a real lab: its sessions use no dynamic ARP entry.

The host's dynamic neighbour table is shared by every namespace (gc_thresh3): a lab that
needs no dynamic entries for its sessions cannot fill it for the other labs on the host.
"""

from __future__ import annotations

import io
from ipaddress import IPv4Address

import pytest

from lab.checks.base import poll
from lab.checks.observe import observe_bird_sessions
from lab.loader import load_topology
from lab.providers.netns import netlink
from lab.providers.netns.neighbours import config_peers
from lab.providers.netns.provider import NetnsProvider
from netns_helpers import quiet, requires_netns, unique

pytestmark = [requires_netns, pytest.mark.netns]
DYNAMIC = ("reachable", "stale", "delay", "probe", "incomplete", "failed")


@pytest.fixture(scope="module", params=["calico-bgp-rr", "calico-rr-incluster"])
def lab(request, tmp_path_factory):
    provider = NetnsProvider(load_topology(request.param), unique(f"t-nb{request.param[-2:]}"),
                             out_dir=tmp_path_factory.mktemp("nb"))
    if provider.is_up():
        provider.down(quiet())
    try:
        provider.up(io.StringIO())
    except BaseException:
        provider.down(quiet())  # a failed up must not leave the lab behind
        raise
    yield provider
    provider.down(quiet())


def _speaker_peers(bp) -> dict[str, set[str]]:
    peers: dict[str, set[str]] = {}
    for d in bp.frr:
        peers.setdefault(d.ns, set()).update(config_peers(d.bgpd_conf))
    for d in bp.bird:
        peers.setdefault(d.ns, set()).update(config_peers(d.config))
    return peers


def test_interfaces_carry_the_planned_macs(lab):
    bp = lab.blueprint
    for veth in bp.veths:
        if veth.mac_a:
            assert netlink.link_info(veth.ns_a, veth.if_a)["mac"] == veth.mac_a
        if veth.mac_b:
            assert netlink.link_info(veth.ns_b, veth.if_b)["mac"] == veth.mac_b
    netlink.close_all()


def test_after_up_every_session_peer_is_a_permanent_entry_and_none_is_dynamic(lab):
    bp = lab.blueprint
    assert bp.neighbours and not bp.dynamic_neighbours
    peers = _speaker_peers(bp)
    assert sum(len(p) for p in peers.values()) > 0
    try:
        for ns, addresses in peers.items():
            table = netlink.neighbours(ns)
            by_ip = {n["ip"]: n for n in table}
            for peer in addresses:
                assert by_ip[peer]["state"] == "permanent", (ns, by_ip[peer])
            dynamic = [n for n in table if n["state"] in DYNAMIC and n["ip"] in addresses]
            assert dynamic == [], (ns, dynamic)
        # Pod side: the node's entry for its pod (as Felix), the pod's for 169.254.1.1.
        for pod in bp.pods:
            node_table = {n["ip"]: n for n in netlink.neighbours(bp.netns_of(pod.node))}
            assert node_table[pod.ip]["state"] == "permanent" and node_table[pod.ip]["dev"] == pod.cali
            pod_table = {n["ip"]: n for n in netlink.neighbours(bp.netns_of(pod.name))}
            assert pod_table["169.254.1.1"] == {"ip": "169.254.1.1", "dev": "eth0", "mac": "ee:ee:ee:ee:ee:ee",
                                                "state": "permanent"}
    finally:
        netlink.close_all()


def test_sessions_are_established_over_the_permanent_entries(lab):
    access = lab.access()
    node = lab.topo.cluster.nodes[0].name
    ok, sessions = poll(lambda: observe_bird_sessions(access, node), lambda s: s and all(o.established for o in s
                        if IPv4Address(o.peer) != IPv4Address("0.0.0.0")), 60, 0.2)
    assert ok, sessions


def test_link_down_and_up_puts_the_entries_back(lab):
    bp = lab.blueprint
    node = lab.topo.cluster.nodes[0].name
    ns = bp.netns_of(node)
    planned = {n.ip for n in bp.neighbours if n.ns == ns and n.ifname == "eth0"}
    try:
        lab.link(node, "eth0", False)
        lab.link(node, "eth0", True)
        table = {n["ip"]: n["state"] for n in netlink.neighbours(ns) if n["dev"] == "eth0"}
        assert all(table.get(ip) == "permanent" for ip in planned), table
    finally:
        lab.link(node, "eth0", True)
        netlink.close_all()
