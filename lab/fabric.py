"""What each fabric router does in BGP, derived from the topology and the Calico plan.

The FRR renderer (netns provider), the VyOS renderer (clab provider) and the
checks all read this intent, so the two router dialects cannot drift apart and
the checks know which sessions must exist.

Which Kubernetes nodes a leaf peers with is not a property of the topology's
peering mode: it is whatever the Calico resources in force make calico-node
configure. A leaf's rack-node neighbours are exactly the plan's sessions whose
peer address is one of that leaf's rack addresses (rack-leaf peering, reflector
nodes that peer with their leaf, a BGPPeer a user added live ...). `PlanIndex`
is the plan indexed once by peer address, so every lookup here is O(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from types import MappingProxyType
from typing import Mapping

from . import model as m
from .calico.peering import Session, plan_peering
from .calico.resources import ResourceSet, load_resources, parse_resources

FABRIC = "fabric"  # eBGP between spine and leaf
RACK_NODE = "rack-node"  # a Kubernetes node of the leaf's rack


@dataclass(frozen=True)
class PlanIndex:
    """The Calico peering plan, indexed for the fabric side (built once per plan)."""

    sessions: Mapping[str, tuple[Session, ...]]  # Calico node name -> its sessions
    addresses: Mapping[str, str]  # Calico node name -> its BGP address
    towards: Mapping[str, tuple[Session, ...]]  # peer address -> the sessions towards it

    @classmethod
    def build(cls, rs: ResourceSet, sessions: Mapping[str, tuple[Session, ...]] | None = None,
              version: str | None = None) -> "PlanIndex":
        plan = plan_peering(rs, version) if sessions is None else sessions
        addresses = {}
        for node in rs.nodes:
            ip = node.ip
            if ip:
                addresses[node.name] = ip
        towards: dict[str, list[Session]] = {}
        for node_sessions in plan.values():
            for s in node_sessions:
                towards.setdefault(s.peer_address, []).append(s)
        return cls(MappingProxyType(dict(plan)), MappingProxyType(addresses),
                   MappingProxyType({k: tuple(v) for k, v in towards.items()}))

    def clients_of(self, address: str) -> list[tuple[str, str, int]]:
        """(Calico node, its address, its AS) of every node with a session towards `address`,
        one per node, in plan order."""
        seen: dict[str, tuple[str, str, int]] = {}
        for s in self.towards.get(address, ()):
            if s.node not in seen and s.node in self.addresses:
                seen[s.node] = (s.node, self.addresses[s.node], s.local_as)
        return list(seen.values())


def topology_resources(topo: m.Topology) -> ResourceSet:
    """The Calico resources a topology seeds (generated documents plus its extra files)."""
    from .render.calico import render_calico  # render imports fabric: import here, not at module load

    version = topo.calico.version
    rs = parse_resources(render_calico(topo), f"{topo.name}/calico/resources.yaml", version=version)
    if topo.calico.resources:
        rs = rs.merged(load_resources(topo.calico.resources, version=version))
    return rs


def topology_plan(topo: m.Topology) -> PlanIndex:
    """The plan of the topology's own resources (for renderers called without a lab)."""
    return PlanIndex.build(topology_resources(topo), version=topo.calico.version)


@dataclass(frozen=True)
class Neighbor:
    address: IPv4Address
    remote_as: int
    kind: str  # FABRIC | RACK_NODE
    description: str  # "spine0:eth1" or the node name
    local_iface: str
    # Towards rack nodes: the leaf reflects routes between them (same AS only),
    # rewrites the next hop of what it learned from the spines to itself, and waits
    # for the node to connect (avoids connection collisions with BIRD).
    rr_client: bool = False
    next_hop_self: bool = False
    passive: bool = False


@dataclass(frozen=True)
class RouterBgp:
    router: m.Router
    neighbors: tuple[Neighbor, ...]
    networks: tuple[IPv4Network, ...]  # announced: connected link and rack subnets
    timers: m.Timers

    @property
    def asn(self) -> int:
        return self.router.asn

    @property
    def router_id(self) -> IPv4Address:
        return self.router.router_id

    @property
    def multipath_relax(self) -> bool:
        return self.router.multipath_relax

    @property
    def maximum_paths(self) -> int:
        return self.router.maximum_paths

    def rack_nodes(self) -> tuple[Neighbor, ...]:
        return tuple(n for n in self.neighbors if n.kind == RACK_NODE)

    def fabric_peers(self) -> tuple[Neighbor, ...]:
        return tuple(n for n in self.neighbors if n.kind == FABRIC)


def _short_names(topo: m.Topology) -> dict[str, str]:
    return topo.cluster.names().by_k8s()


def router_bgp(topo: m.Topology, router: m.Router, plan: PlanIndex | None = None,
               _short: Mapping[str, str] | None = None) -> RouterBgp:
    plan = plan if plan is not None else topology_plan(topo)
    short = _short if _short is not None else _short_names(topo)
    neighbors: list[Neighbor] = []
    networks: list[IPv4Network] = []
    for iface in router.interfaces:
        far = topo.peer_of(router.name, iface.name)
        networks.append(iface.address.network)
        if far is None:
            continue
        if not far.is_bridge:
            peer = topo.router(far.node)
            neighbors.append(Neighbor(peer.iface(far.port).address.ip, peer.asn, FABRIC, str(far), iface.name))
            continue
        for node, address, asn in plan.clients_of(str(iface.address.ip)):
            neighbors.append(Neighbor(IPv4Address(address), asn, RACK_NODE, short.get(node, node), iface.name,
                                      rr_client=asn == router.asn, next_hop_self=True, passive=True))
    return RouterBgp(router, tuple(neighbors), tuple(dict.fromkeys(networks)), topo.timers)


def fabric_bgp(topo: m.Topology, plan: PlanIndex | None = None) -> tuple[RouterBgp, ...]:
    """Every router's intent, from one plan (computed once when not given)."""
    plan = plan if plan is not None else topology_plan(topo)
    short = _short_names(topo)
    return tuple(router_bgp(topo, r, plan, short) for r in topo.routers)
