"""What each fabric router does in BGP, derived once from the topology.

The FRR renderer (netns provider), the VyOS renderer (clab provider) and the
checks all read this intent, so the two router dialects cannot drift apart and
the checks know which sessions must exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from . import model as m

FABRIC = "fabric"  # eBGP between spine and leaf
RACK_NODE = "rack-node"  # a Kubernetes node of the leaf's rack


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


def router_bgp(topo: m.Topology, router: m.Router) -> RouterBgp:
    neighbors: list[Neighbor] = []
    networks: list[IPv4Network] = []
    for iface in router.interfaces:
        far = topo.peer_of(router.name, iface.name)
        networks.append(iface.address.network)
        if far is None:
            continue
        if not far.is_bridge:
            peer = topo.router(far.node)
            neighbors.append(Neighbor(peer.iface(far.iface).address.ip, peer.asn, FABRIC, str(far), iface.name))
            continue
        rack = topo.rack_of_bridge(far.node)
        if topo.calico.peering != m.PEERING_RACK_LEAF or rack.leaf != router.name:
            continue
        for node in topo.nodes_in(rack.name):
            asn = topo.node_asn(node)
            neighbors.append(Neighbor(node.ip.ip, asn, RACK_NODE, node.name, iface.name,
                                      rr_client=asn == router.asn, next_hop_self=True, passive=True))
    return RouterBgp(router, tuple(neighbors), tuple(dict.fromkeys(networks)), topo.timers)


def fabric_bgp(topo: m.Topology) -> tuple[RouterBgp, ...]:
    return tuple(router_bgp(topo, r) for r in topo.routers)
