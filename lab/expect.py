"""What a converged lab must show, derived from the model and the Calico plan.

Pure: the checks compare these expectations with what the daemons and kernels
report. Blocks are discovered from the nodes (Calico's IPAM decides them in a
real cluster), so the next-hop rules here take the owner of a block as input.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from . import model as m
from .calico.peering import Session, plan_peering
from .calico.resources import ResourceSet
from .fabric import RouterBgp, fabric_bgp


@dataclass(frozen=True)
class ExpectedSession:
    """One BGP session as one end must see it."""

    target: str  # the lab target reporting it (node, router or host name)
    peer: str  # peer address
    peer_as: int
    via: str  # "bird" (a Calico node or RR host) or "frr" (a fabric router)
    protocol: str | None = None  # BIRD protocol name, where the plan names it
    peer_type: str | None = None  # calicoctl's PEER TYPE for Calico nodes
    holds: bool = True  # False: a second BIRD protocol to the same address, which BIRD leaves Idle


def expected_sessions(topo: m.Topology, rs: ResourceSet) -> list[ExpectedSession]:
    out: list[ExpectedSession] = []
    plan = plan_peering(rs, topo.calico.version)
    by_k8s = {topo.cluster.k8s_name(n): n.name for n in topo.cluster.nodes}
    for k8s, sessions in plan.items():
        target = by_k8s.get(k8s, k8s)
        for s in sessions:
            out.append(ExpectedSession(target, s.peer_address, s.peer_as, "bird", s.protocol, s.peer_type, s.holds))
    for bgp in fabric_bgp(topo):
        for n in bgp.neighbors:
            out.append(ExpectedSession(bgp.router.name, str(n.address), n.remote_as, "frr"))
    for host in topo.hosts:
        for node in topo.cluster.nodes:
            asn = _node_as(plan, topo, node)
            out.append(ExpectedSession(host.name, str(node.ip.ip), asn, "bird"))
    return out


def _node_as(plan: dict[str, tuple[Session, ...]], topo: m.Topology, node: m.Node) -> int:
    sessions = plan.get(topo.cluster.k8s_name(node), ())
    return sessions[0].local_as if sessions else topo.node_asn(node)


def node_next_hop(topo: m.Topology, viewer: m.Node, owner: m.Node) -> IPv4Address:
    """Where `viewer` sends traffic for a pod block that `owner` holds.

    Same L2 segment: straight to the owner (a reflected route keeps its next hop).
    Another rack: via the viewer's own leaf, which set next-hop-self on what it learned
    from the spines.
    """
    if viewer.rack == owner.rack:
        return owner.ip.ip
    gateway = topo.rack(viewer.rack).gateway
    if gateway is None:
        raise ValueError(f"{viewer.name} has no gateway towards rack {owner.rack}")
    return gateway


def leaf_next_hops(topo: m.Topology, leaf: m.Router, owner: m.Node) -> set[IPv4Address]:
    """A leaf reaches its own rack's blocks via the owning node, others via every spine (ECMP)."""
    rack = topo.rack(owner.rack)
    if rack.leaf == leaf.name:
        return {owner.ip.ip}
    bgp: RouterBgp = next(b for b in fabric_bgp(topo) if b.router.name == leaf.name)
    return {n.address for n in bgp.neighbors if n.kind == "fabric"}


def routed_racks(topo: m.Topology) -> bool:
    """Whether pod routes reach the fabric (nodes peer with their leaves)."""
    return topo.calico.peering == m.PEERING_RACK_LEAF and any(r.leaf for r in topo.racks)
