"""The BGP sessions calico-node configures on each node, from the Calico resources.

Rules reproduced (facts from Calico's confd: the peer computation in
`confd/pkg/backends/calico/client.go` and the session template in its BIRD
config; see DESIGN.md §4):
- node-to-node mesh: on unless BGPConfiguration default says otherwise; every
  pair of nodes with an address, except route reflectors (nodes with a
  routeReflectorClusterID); PEER TYPE "node-to-node mesh", protocol Mesh_<ip>.
- a BGPPeer with neither `node` nor `nodeSelector` is global: every node peers,
  "global", Global_<ip>. With `node`/`nodeSelector` (even `all()`): only the
  selected nodes, "node specific", Node_<ip>.
- the far side is `peerIP`/`asNumber`, or every node matched by `peerSelector`
  (its address and resolved AS).
- reverse sessions (unless reversePeering: Manual): the nodes matched by
  peerSelector, or the node that owns peerIP, peer back with the nodes the
  BGPPeer selects (all nodes when it selects none) as "node specific".
- an explicit session wins over a reverse one to the same address; a
  node-specific session is dropped where a global one to the same address
  exists; the mesh yields to both; a node never peers with its own address.
- route reflection: on a node with a cluster ID, a session to a peer in the
  same AS is `rr client` unless the peer is a reflector with the same cluster ID.
- passive: in the mesh the node whose address string sorts lower waits for the
  other; a Global_ session likewise when its peer is a Calico node; Node_
  sessions never.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address

from .resources import DEFAULT_AS, BGPPeer, Node, ResourceSet
from .selector import parse_selector

MESH, GLOBAL, NODE_SPECIFIC = "node-to-node mesh", "global", "node specific"
_PREFIX = {MESH: "Mesh_", GLOBAL: "Global_", NODE_SPECIFIC: "Node_"}


@dataclass(frozen=True)
class Session:
    node: str
    peer_address: str
    peer_as: int
    local_as: int
    peer_type: str
    rr_client: bool
    rr_cluster_id: str | None
    passive: bool
    protocol: str
    source: str
    peer_node: str | None = None


def node_as(rs: ResourceSet, node_name: str) -> int:
    node = rs.node(node_name)
    if node.as_number is not None:
        return node.as_number
    default = rs.default_bgp_configuration().as_number
    return default if default is not None else DEFAULT_AS


def protocol_name(peer_type: str, address: str) -> str:
    return _PREFIX[peer_type] + address.replace(".", "_").replace(":", "_")


def _selected_nodes(rs: ResourceSet, peer: BGPPeer) -> list[Node]:
    """The nodes a BGPPeer applies to (its `node` / `nodeSelector`, or all)."""
    if peer.node:
        return [n for n in rs.nodes if n.name == peer.node]
    selector = parse_selector(peer.node_selector) if peer.node_selector else None
    return [n for n in rs.nodes if selector is None or selector.matches(n.labels)]


def _remote_nodes(rs: ResourceSet, peer: BGPPeer) -> list[Node]:
    if peer.peer_selector:
        selector = parse_selector(peer.peer_selector)
        return [n for n in rs.nodes if n.ip and selector.matches(n.labels)]
    if peer.peer_ip:
        # A peerIP that is a Calico node (with the same AS) makes that node configure the reverse side.
        return [n for n in rs.nodes if n.ip == peer.peer_ip and node_as(rs, n.name) == peer.as_number]
    return []


def plan_peering(rs: ResourceSet) -> dict[str, tuple[Session, ...]]:
    nodes = [n for n in rs.nodes if n.ip]
    by_ip = {n.ip: n for n in nodes}
    mesh_on = rs.default_bgp_configuration().node_to_node_mesh_enabled
    plan: dict[str, tuple[Session, ...]] = {}
    for node in nodes:
        local_as = node_as(rs, node.name)
        # address -> (peer_type, peer_as, source, peer_node, explicit)
        found: dict[str, tuple[str, int, str, str | None, bool]] = {}

        def offer(address: str, peer_type: str, asn: int, source: str, peer_node: str | None, explicit: bool):
            if address == node.ip:
                return
            current = found.get(address)
            if current is not None:
                rank = {GLOBAL: 2, NODE_SPECIFIC: 1, MESH: 0}
                if (rank[current[0]], current[4]) >= (rank[peer_type], explicit):
                    return
            found[address] = (peer_type, asn, source, peer_node, explicit)

        for peer in rs.bgp_peers:
            applies = node in _selected_nodes(rs, peer)
            if not applies:
                continue
            peer_type = GLOBAL if peer.is_global else NODE_SPECIFIC
            if peer.peer_selector:
                for remote in _remote_nodes(rs, peer):
                    offer(remote.ip, peer_type, node_as(rs, remote.name), f"BGPPeer/{peer.name}", remote.name, True)
            elif peer.peer_ip:
                owner = by_ip.get(peer.peer_ip)
                offer(peer.peer_ip, peer_type, peer.as_number, f"BGPPeer/{peer.name}", owner.name if owner else None, True)
        for peer in rs.bgp_peers:
            if peer.reverse_peering == "Manual" or node not in _remote_nodes(rs, peer):
                continue
            for other in _selected_nodes(rs, peer):
                if other.ip:
                    offer(other.ip, NODE_SPECIFIC, node_as(rs, other.name), f"BGPPeer/{peer.name} (reverse)",
                          other.name, False)
        if mesh_on and not node.route_reflector_cluster_id:
            for other in nodes:
                if other is not node and not other.route_reflector_cluster_id:
                    offer(other.ip, MESH, node_as(rs, other.name), "BGPConfiguration/default (node-to-node mesh)",
                          other.name, True)

        sessions = []
        for address, (peer_type, asn, source, peer_node, _) in found.items():
            peer = by_ip.get(address) if peer_node else None
            cluster = node.route_reflector_cluster_id
            rr_client = bool(cluster) and asn == local_as and not (
                peer is not None and peer.route_reflector_cluster_id == cluster)
            passive = peer_type in (MESH, GLOBAL) and peer is not None and address > node.ip
            sessions.append(Session(node.name, address, asn, local_as, peer_type, rr_client,
                                    cluster if rr_client else None, passive,
                                    protocol_name(peer_type, address), source, peer_node))
        order = {MESH: 0, GLOBAL: 1, NODE_SPECIFIC: 2}
        sessions.sort(key=lambda s: (order[s.peer_type], ip_address(s.peer_address)))
        plan[node.name] = tuple(sessions)
    return plan


def plan_as_json(plan: dict[str, tuple[Session, ...]]) -> dict:
    return {"nodes": {
        node: [{"peer_address": s.peer_address, "peer_type": s.peer_type, "peer_as": s.peer_as, "rr_client": s.rr_client}
               for s in sorted(sessions, key=lambda s: ip_address(s.peer_address))]
        for node, sessions in plan.items()}}
