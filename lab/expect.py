"""What a converged lab must show, derived from the model and the Calico plan.

Pure: the checks compare these expectations with what the daemons and kernels
report. Blocks are discovered from the nodes (Calico's IPAM decides them in a
real cluster), so the next-hop rules here take the owner of a block as input.

Everything about who peers with whom comes from the plan (`lab.fabric.PlanIndex`),
never from the topology's peering mode: a rack is routed when its leaf has
planned sessions with Calico nodes; a reflector host expects the nodes whose
sessions point at it. `Expectations` computes the fabric side once, so checks
that ask per node pair stay linear in the lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from . import model as m
from .calico.resources import ResourceSet
from .fabric import PlanIndex, RouterBgp, fabric_bgp, topology_plan


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


def _plan(topo: m.Topology, plan: PlanIndex | ResourceSet | None) -> PlanIndex:
    if plan is None:
        return topology_plan(topo)
    if isinstance(plan, ResourceSet):
        return PlanIndex.build(plan, version=topo.calico.version)
    return plan


def expected_sessions(topo: m.Topology, rs: ResourceSet | PlanIndex) -> list[ExpectedSession]:
    out: list[ExpectedSession] = []
    plan = _plan(topo, rs)
    names = topo.cluster.names()
    for k8s, sessions in plan.sessions.items():
        target = names.short(k8s)
        for s in sessions:
            out.append(ExpectedSession(target, s.peer_address, s.peer_as, "bird", s.protocol, s.peer_type, s.holds))
    for bgp in fabric_bgp(topo, plan):
        for n in bgp.neighbors:
            out.append(ExpectedSession(bgp.router.name, str(n.address), n.remote_as, "frr"))
    for host in topo.hosts:
        for _, address, asn in plan.clients_of(str(host.ip.ip)):
            out.append(ExpectedSession(host.name, address, asn, "bird"))
    return out


class Expectations:
    """The fabric side of one plan, computed once: routed racks, leaf intents, next hops."""

    def __init__(self, topo: m.Topology, plan: PlanIndex | ResourceSet | None = None):
        self.topo = topo
        self.plan = _plan(topo, plan)
        self.bgp: dict[str, RouterBgp] = {b.router.name: b for b in fabric_bgp(topo, self.plan)}
        self.racks = {r.name: r for r in topo.racks}
        self.routed = frozenset(r.name for r in topo.racks
                                if r.leaf and r.gateway is not None and self.plan.towards.get(str(r.gateway)))
        self._uplinks = {name: frozenset(n.address for n in b.fabric_peers()) for name, b in self.bgp.items()}

    def routed_leaves(self) -> list[m.Router]:
        leaves = {self.racks[r].leaf for r in self.routed}
        return [r for r in self.topo.leaves() if r.name in leaves]

    def reachable(self, viewer: m.Node, owner: m.Node) -> bool:
        """Whether `viewer` must have a route to `owner`'s blocks: same segment, or both racks routed."""
        return viewer.rack == owner.rack or (viewer.rack in self.routed and owner.rack in self.routed)

    def node_next_hop(self, viewer: m.Node, owner: m.Node) -> IPv4Address:
        return _node_next_hop(self.racks, viewer, owner)

    def leaf_next_hops(self, leaf: m.Router, owner: m.Node) -> frozenset[IPv4Address]:
        """A leaf reaches its own rack's blocks via the owning node, others via every spine (ECMP)."""
        if self.racks[owner.rack].leaf == leaf.name:
            return frozenset({owner.ip.ip})
        return self._uplinks[leaf.name]


def _node_next_hop(racks: dict[str, m.Rack], viewer: m.Node, owner: m.Node) -> IPv4Address:
    """Where `viewer` sends traffic for a pod block that `owner` holds.

    Same L2 segment: straight to the owner (a reflected route keeps its next hop).
    Another rack: via the viewer's own leaf, which set next-hop-self on what it learned
    from the spines.
    """
    if viewer.rack == owner.rack:
        return owner.ip.ip
    gateway = racks[viewer.rack].gateway
    if gateway is None:
        raise ValueError(f"{viewer.name} has no gateway towards rack {owner.rack}")
    return gateway


def node_next_hop(topo: m.Topology, viewer: m.Node, owner: m.Node) -> IPv4Address:
    return _node_next_hop({r.name: r for r in topo.racks}, viewer, owner)


def leaf_next_hops(topo: m.Topology, leaf: m.Router, owner: m.Node,
                   plan: PlanIndex | ResourceSet | None = None) -> set[IPv4Address]:
    return set(Expectations(topo, plan).leaf_next_hops(leaf, owner))


def routed_racks(topo: m.Topology, plan: PlanIndex | ResourceSet | None = None) -> frozenset[str]:
    """The racks whose pod routes reach the fabric: their leaf has planned sessions with Calico
    nodes. Empty (falsy) when no rack is routed."""
    return Expectations(topo, plan).routed
