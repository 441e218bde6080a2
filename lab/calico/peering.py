"""The BGP sessions calico-node configures on each node, from the Calico resources.

Rules reproduced from Calico's confd (projectcalico/calico; `updatePeersV1` and
`nodeAsBGPPeers` in confd/pkg/backends/calico/client.go, the peer sections of
confd/etc/calico/confd/templates/bird.cfg.template up to v3.31, `processPeers` in
confd/pkg/backends/calico/bgp_processor.go from v3.32):
- BGPPeers are walked for global peerings first (neither `node` nor `nodeSelector`:
  `all()` is not global), then node-specific ones, then the reverse peerings (unless
  reversePeering: Manual): the nodes matched by peerSelector, or the Calico node owning
  peerIP with that AS, peer back with the nodes the BGPPeer selects (all when none).
  A peering already emitted wins; a node-specific peering is dropped where a global one
  to the same address exists. A node never peers with its own address.
- The node-to-node mesh is NOT de-duplicated against explicit peers: with the mesh on, a
  BGPPeer between two non-reflector nodes yields Mesh_x and Node_x (or Global_x) to the
  same address. BIRD lets the protocol that comes first in its config hold the neighbour
  and leaves the other in start/Idle: `Session.holds` says which. The order is the
  template's sections (mesh by node name, then global and node-specific peers by address
  string) up to v3.31, protocol names sorted from v3.32 (Global_ < Mesh_ < Node_).
- Route reflection: on a node with a cluster ID a session to a peer in the same AS is
  `rr client` unless the peer is a reflector with the same cluster ID; a peer given by
  peerIP carries no cluster ID, so a peerIP session between two reflectors of one
  cluster is rr client (asymmetric, as in Calico).
- Passive: a Mesh_ session where the peer's address string is greater; a Global_ session
  likewise, only when its peerIP is a Calico node (sessions built from peerSelector never
  are); Node_ sessions never.

The planner parses each selector once, matches it once against all nodes and indexes
nodes by address, so its cost grows with nodes + sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .resources import DEFAULT_AS, BGPPeer, Node, ResourceSet
from .selector import parse_selector
from .versions import CalicoVersion, parse_version

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
    port: int | None = None
    holds: bool = True  # False: another protocol to this address comes first in BIRD's config; this one stays Idle
    peer: BGPPeer | None = None  # the BGPPeer it comes from (its options); None for the mesh
    local_as_override: int | None = None  # BGPPeer localASNumber

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.protocol)


def node_as(rs: ResourceSet, node_name: str) -> int:
    node = rs.node(node_name)
    if node.as_number is not None:
        return node.as_number
    default = rs.default_bgp_configuration().as_number
    return default if default is not None else DEFAULT_AS


def protocol_name(peer_type: str, address: str, port: int | None = None) -> str:
    name = _PREFIX[peer_type] + address.replace(".", "_").replace(":", "_")
    return f"{name}_port_{port}" if port else name


class _Index:
    """Nodes by name and address, each selector parsed and matched once."""

    def __init__(self, rs: ResourceSet):
        self.rs = rs
        self.nodes = [n for n in rs.nodes if n.ip]
        self.by_name = {n.name: n for n in rs.nodes}
        self.by_ip = {n.ip: n for n in self.nodes}
        default = rs.default_bgp_configuration()
        self.default_as = default.as_number if default.as_number is not None else DEFAULT_AS
        self.global_port = default.listen_port
        self._matches: dict[str, list[Node]] = {}

    def asn(self, node: Node) -> int:
        return node.as_number if node.as_number is not None else self.default_as

    def matching(self, selector: str | None) -> list[Node]:
        text = selector or "all()"
        if text not in self._matches:
            parsed = parse_selector(text)
            self._matches[text] = [n for n in self.rs.nodes if parsed.matches(n.labels)]
        return self._matches[text]

    def listen_port(self, node: Node) -> int | None:
        conf = self.rs.node_bgp_configuration(node.name)
        return conf.listen_port if conf and conf.listen_port else self.global_port

    def owners(self, peer: BGPPeer) -> list[Node]:
        """The Calico node a peerIP designates: that address and the BGPPeer's AS."""
        node = self.by_ip.get(peer.peer_ip)
        return [node] if node is not None and self.asn(node) == peer.as_number else []

    def local_nodes(self, peer: BGPPeer) -> list[Node]:
        if peer.node:
            node = self.by_name.get(peer.node)
            return [node] if node else []
        return self.matching(peer.node_selector)


@dataclass(frozen=True)
class _Far:
    """The remote end of a peering as confd stores it (bgpPeer)."""

    ip: str
    asn: int
    port: int | None
    calico_node: bool
    rr_cluster_id: str | None
    node: str | None
    peer: BGPPeer
    reverse: bool = False


def _far_nodes(ix: _Index, nodes: Iterable[Node], peer: BGPPeer, reverse: bool) -> list[_Far]:
    # nodeAsBGPPeers: a node as a peer carries its AS, cluster ID and listen port, not calico_node.
    return [_Far(n.ip, ix.asn(n), ix.listen_port(n), False, n.route_reflector_cluster_id, n.name, peer, reverse)
            for n in nodes if n.ip]


def _peerings(ix: _Index) -> tuple[dict[tuple[str, int | None], _Far], dict[str, dict[tuple[str, int | None], _Far]]]:
    globals_: dict[tuple[str, int | None], _Far] = {}
    per_node: dict[str, dict[tuple[str, int | None], _Far]] = {}

    def emit_node(node: str, far: _Far) -> None:
        key = (far.ip, far.port)
        if key in globals_:
            return
        per_node.setdefault(node, {}).setdefault(key, far)

    for global_pass in (True, False):
        for peer in ix.rs.bgp_peers:
            if peer.is_global != global_pass:
                continue
            if peer.peer_selector:
                fars = _far_nodes(ix, ix.matching(peer.peer_selector), peer, False)
            elif peer.peer_ip:
                assert peer.as_number is not None, "the decoder requires asNumber with peerIP"
                owners = ix.owners(peer)
                port = peer.port or (ix.listen_port(owners[0]) if owners else None)
                fars = [_Far(peer.peer_ip, peer.as_number, port, peer.peer_ip in ix.by_ip, None,
                             owners[0].name if owners else None, peer)]
            else:
                fars = []  # neither peerIP nor peerSelector: valid, no sessions
            for far in fars:
                if global_pass:
                    globals_.setdefault((far.ip, far.port), far)
                else:
                    for local in ix.local_nodes(peer):
                        emit_node(local.name, far)
    for peer in ix.rs.bgp_peers:
        if peer.reverse_peering == "Manual":
            continue
        if peer.peer_selector:
            locals_ = ix.matching(peer.peer_selector)
        elif peer.peer_ip:
            locals_ = ix.owners(peer)
        else:
            continue
        if not locals_:
            continue
        fars = _far_nodes(ix, ix.local_nodes(peer) if not peer.is_global else ix.matching("all()"), peer, True)
        for local in locals_:
            for far in fars:
                emit_node(local.name, far)
    return globals_, per_node


def plan_peering(rs: ResourceSet, version: CalicoVersion | str | None = None) -> dict[str, tuple[Session, ...]]:
    """Per Calico node (by name), its BGP protocols in the order BIRD's config lists them.

    Nodes without ipv4Address have IPv4 BGP disabled: an empty tuple.
    """
    version = version if isinstance(version, CalicoVersion) else parse_version(version)
    ix = _Index(rs)
    globals_, per_node = _peerings(ix)
    conf = rs.default_bgp_configuration()
    mesh_on = conf.node_to_node_mesh_enabled
    mesh_nodes = sorted((n for n in ix.nodes if not n.route_reflector_cluster_id), key=lambda n: n.name)
    global_items = sorted(globals_.items(), key=lambda kv: _key_text(kv[0]))
    plan: dict[str, tuple[Session, ...]] = {}
    for node in rs.nodes:
        if not node.ip:
            plan[node.name] = ()
            continue
        local_as, cluster = ix.asn(node), node.route_reflector_cluster_id
        sessions: list[Session] = []
        if mesh_on and not cluster:
            for other in mesh_nodes:
                if other.ip is None or other.ip == node.ip:  # (ix.nodes holds only nodes with an address)
                    continue
                port = ix.listen_port(other)
                sessions.append(Session(node.name, other.ip, ix.asn(other), local_as, MESH, False, None,
                                        other.ip > node.ip, protocol_name(MESH, other.ip),
                                        "BGPConfiguration/default (node-to-node mesh)", other.name, port))
        for peer_type, items in ((GLOBAL, global_items),
                                 (NODE_SPECIFIC, sorted(per_node.get(node.name, {}).items(),
                                                        key=lambda kv: _key_text(kv[0])))):
            for _, far in items:
                if far.ip == node.ip:
                    continue
                sessions.append(_session(node, local_as, cluster, peer_type, far))
        if version.family != "template":
            sessions.sort(key=lambda s: s.protocol)
        plan[node.name] = _mark_holders(sessions)
    return plan


def _key_text(key: tuple[str, int | None]) -> str:
    # confd lists peers by their datastore key, which holds the address (and port) as text.
    return f"{key[0]}-{key[1]}" if key[1] else key[0]


def _session(node: Node, local_as: int, cluster: str | None, peer_type: str, far: _Far) -> Session:
    assert node.ip is not None, "plan() gives nodes without an address no sessions"
    effective_as = far.peer.local_as_number or local_as
    rr_client = bool(cluster) and far.asn == effective_as and far.rr_cluster_id != cluster
    passive = peer_type == GLOBAL and far.calico_node and far.ip > node.ip
    source = f"BGPPeer/{far.peer.name}" + (" (reverse)" if far.reverse else "")
    return Session(node.name, far.ip, far.asn, local_as, peer_type, rr_client, cluster if rr_client else None,
                   passive, protocol_name(peer_type, far.ip, far.port), source, far.node, far.port,
                   peer=far.peer, local_as_override=far.peer.local_as_number)


def _mark_holders(sessions: list[Session]) -> tuple[Session, ...]:
    """BIRD accepts one protocol per neighbour address: the first in its config holds it."""
    seen: set[str] = set()
    out = []
    for s in sessions:
        if s.peer_address in seen:
            s = Session(**{**s.__dict__, "holds": False})
        seen.add(s.peer_address)
        out.append(s)
    return tuple(out)


def sessions_by_key(plan: dict[str, tuple[Session, ...]]) -> dict[tuple[str, str], Session]:
    """Every planned session keyed by (node, BIRD protocol name): two protocols to one address are two entries."""
    return {s.key: s for sessions in plan.values() for s in sessions}


def plan_as_json(plan: dict[str, tuple[Session, ...]]) -> dict:
    return {"nodes": {
        node: [{"protocol": s.protocol, "peer_address": s.peer_address, "peer_type": s.peer_type, "peer_as": s.peer_as,
                "rr_client": s.rr_client, "holds": s.holds}
               for s in sessions]
        for node, sessions in plan.items()}}

