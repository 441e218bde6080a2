"""The fabric side derives from the Calico plan, never from the topology's peering mode:
leaf neighbours, reflector-host clients, expected sessions, routed racks, Service viewers."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv4Network

from lab.calico.resources import ResourceSet, parse_resources
from lab.checks.service import _viewers
from lab.expect import Expectations, expected_sessions, routed_racks
from lab.fabric import RACK_NODE, PlanIndex, fabric_bgp, router_bgp, topology_plan, topology_resources
from lab.loader import load_topology
from lab.render.calico import render_calico
from lab.render.frr import render_frr
from lab.render.rr_host import render_rr_hosts, rr_host_clients


def _apply(rs: ResourceSet, text: str) -> ResourceSet:
    return rs.merged(parse_resources(text, "test.yaml"))


def _rack_nodes(topo, plan, leaf: str) -> list[tuple[str, int, str]]:
    bgp = router_bgp(topo, topo.router(leaf), plan)
    return [(str(n.address), n.remote_as, n.description) for n in bgp.neighbors if n.kind == RACK_NODE]


def _without_peer(rs: ResourceSet, name: str) -> ResourceSet:
    return dataclasses.replace(rs, bgp_peers=tuple(p for p in rs.bgp_peers if p.name != name))


def test_leaf_neighbours_are_the_planned_sessions_towards_its_rack_address():
    topo = load_topology("calico-bgp-rr")
    rs = topology_resources(topo)
    plan = PlanIndex.build(rs)
    assert _rack_nodes(topo, plan, "leaf0") == [("10.1.5.10", 65005, "control-plane"), ("10.1.5.11", 65005, "worker")]
    # A user removes rack1's BGPPeer: leaf1 has no rack nodes any more, whatever the peering mode says.
    plan2 = PlanIndex.build(_without_peer(rs, "rack1-to-leaf1"))
    assert _rack_nodes(topo, plan2, "leaf1") == []
    assert routed_racks(topo, plan2) == {"rack0"}
    # A node-specific BGPPeer from worker (rack0) to leaf1's rack address: leaf1 gets it as a neighbour.
    plan3 = PlanIndex.build(_apply(rs, """
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: worker-to-leaf1}
spec: {node: calico-bgp-rr-worker, peerIP: 10.1.8.1, asNumber: 65008}
"""))
    assert ("10.1.5.11", 65005, "worker") in _rack_nodes(topo, plan3, "leaf1")
    assert "neighbor 10.1.5.11 remote-as 65005" in render_frr(topo, topo.router("leaf1"), plan3).bgpd


def test_mesh_topology_with_a_bgppeer_to_a_leaf_routes_that_rack():
    # The peering mode is mesh (no leaf at all in that file): a fabric topology whose mode is
    # mesh but whose resources add a peer towards a leaf must still give the leaf its neighbours.
    topo = load_topology("calico-bgp-rr")
    topo = dataclasses.replace(topo, calico=dataclasses.replace(topo.calico, peering="mesh"))
    rs = topology_resources(topo)
    assert routed_racks(topo, rs) == frozenset()
    assert all(not b.rack_nodes() for b in fabric_bgp(topo, PlanIndex.build(rs)))
    rs2 = _apply(rs, """
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: rack0-to-leaf0}
spec: {nodeSelector: "rack == 'rack0'", peerIP: 10.1.5.1, asNumber: 65005}
""")
    assert routed_racks(topo, rs2) == {"rack0"}
    assert [d for _, _, d in _rack_nodes(topo, PlanIndex.build(rs2), "leaf0")] == ["control-plane", "worker"]


def test_rack_reflectors_only_the_reflectors_peer_with_the_leaf():
    topo = load_topology("calico-rr-rack")
    plan = topology_plan(topo)
    assert _rack_nodes(topo, plan, "leaf0") == [("10.1.5.10", 65005, "control-plane")]
    assert _rack_nodes(topo, plan, "leaf1") == [("10.1.8.10", 65008, "worker3")]
    leaf0 = router_bgp(topo, topo.router("leaf0"), plan).rack_nodes()[0]
    assert leaf0.rr_client and leaf0.next_hop_self and leaf0.passive
    sessions = {k: [(s.peer_address, s.rr_client) for s in v] for k, v in plan.sessions.items()}
    assert sessions["calico-rr-rack-control-plane"] == [("10.1.5.1", True), ("10.1.5.11", True), ("10.1.5.12", True)]
    assert sessions["calico-rr-rack-worker4"] == [("10.1.8.10", False)]
    exp = Expectations(topo, plan)
    assert exp.routed == {"rack0", "rack1"}
    worker, worker4 = topo.cluster.node("worker"), topo.cluster.node("worker4")
    assert exp.reachable(worker, worker4) and exp.node_next_hop(worker, worker4) == IPv4Address("10.1.5.1")
    assert exp.leaf_next_hops(topo.router("leaf0"), worker) == {worker.ip.ip}
    assert exp.leaf_next_hops(topo.router("leaf0"), worker4) == {IPv4Address("10.1.10.2"), IPv4Address("10.1.12.2")}
    # The resources say so, not the mode: three BGPPeers per rack with one reflector, no rr-mesh.
    text = render_calico(topo)
    assert text.count("kind: BGPPeer") == 4 and "rack0-rrs-to-leaf0" in text and "rr-mesh" not in text


def test_reflector_host_clients_are_the_sessions_towards_it():
    topo = load_topology("calico-rr-external")
    rs = topology_resources(topo)
    host = topo.hosts[0]
    everyone = {str(n.ip.ip) for n in topo.cluster.nodes}
    assert {a for a, _ in rr_host_clients(PlanIndex.build(rs), host)} == everyone
    # Only the control plane peers with the host now (a node-specific BGPPeer replaces the global one).
    peer = next(p for p in rs.bgp_peers if p.peer_ip == str(host.ip.ip))
    only = _apply(_without_peer(rs, peer.name), f"""
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {{name: cp-only}}
spec: {{node: {topo.cluster.k8s_name('control-plane')}, peerIP: {host.ip.ip}, asNumber: {host.asn}}}
""")
    plan = PlanIndex.build(only)
    cp = str(topo.cluster.node("control-plane").ip.ip)
    assert rr_host_clients(plan, host) == [(cp, host.asn)]
    conf = render_rr_hosts(topo, plan)[f"bird/{host.name}.conf"]
    assert cp in conf and not (everyone - {cp}) & set(conf.replace(";", " ").split())
    host_sessions = [e for e in expected_sessions(topo, plan) if e.target == host.name]
    assert [(e.peer, e.peer_as, e.via) for e in host_sessions] == [(cp, host.asn, "bird")]


def test_expected_sessions_keep_their_fields_and_both_ends():
    topo = load_topology("calico-rr-rack")
    expected = expected_sessions(topo, topology_resources(topo))
    leaf0 = [(e.peer, e.peer_as, e.via) for e in expected if e.target == "leaf0"]
    assert ("10.1.5.10", 65005, "frr") in leaf0 and len(leaf0) == 3
    cp = [e for e in expected if e.target == "control-plane"]
    assert {(e.peer, e.protocol, e.peer_type) for e in cp} >= {("10.1.5.1", "Node_10_1_5_1", "node specific")}
    # Every session end has its other end: 6 node/leaf-side pairs + 4 fabric links.
    assert len(expected) == 2 * (4 + 2 + 4)


class _Lab:
    def __init__(self, topo, rs):
        self.topo, self._rs = topo, rs

    def resources(self):
        return self._rs


class _Ctx:
    def __init__(self, topo, rs):
        self.topo, self.lab = topo, _Lab(topo, rs)


def test_service_viewers_from_the_plan():
    ref = load_topology("calico-bgp-rr")
    viewers = _viewers(_Ctx(ref, topology_resources(ref)))
    assert viewers == {"leaf0": {IPv4Address("10.1.5.10"), IPv4Address("10.1.5.11")},
                       "leaf1": {IPv4Address("10.1.8.10"), IPv4Address("10.1.8.11")}}
    rack = load_topology("calico-rr-rack")
    viewers = _viewers(_Ctx(rack, topology_resources(rack)))
    assert set(viewers) == {"leaf0", "leaf1"} and len(viewers["leaf0"]) == 3
    rr = load_topology("calico-rr-incluster")
    viewers = _viewers(_Ctx(rr, topology_resources(rr)))
    assert set(viewers) == {"control-plane", "worker", "worker2"}
    assert viewers["worker"] == {n.ip.ip for n in rr.cluster.nodes if n.name != "worker"}
    mesh = load_topology("calico-fullmesh")
    assert set(_viewers(_Ctx(mesh, topology_resources(mesh)))) == {n.name for n in mesh.cluster.nodes}
    ext = load_topology("calico-rr-external")
    assert set(_viewers(_Ctx(ext, topology_resources(ext)))) == {h.name for h in ext.hosts}


def test_routed_racks_of_every_shipped_topology():
    assert routed_racks(load_topology("calico-bgp-rr")) == {"rack0", "rack1"}
    for name in ("calico-fullmesh", "calico-rr-incluster", "calico-rr-external"):
        assert routed_racks(load_topology(name)) == frozenset(), name
    rack = load_topology("calico-rr-rack")
    assert IPv4Network("10.1.5.0/24") in router_bgp(rack, rack.router("leaf0")).networks
