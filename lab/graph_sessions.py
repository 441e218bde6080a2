"""The session layer of `lab.graph`: every BGP session of a lab once, with its kind and state.

Pure. A session has two ends, each a speaker (a Calico node, a fabric router, a
route-reflector host, or an address outside the lab) with the address it uses.
The ends are collected from the three places that configure sessions: the
Calico peering plan (what calico-node writes into each node's BIRD), the fabric
intent (what each FRR router is told) and the route-reflector hosts (one client
per cluster node). Both ends of one session land on one `SessionLine`; an end
nobody configures is kept visible ("one-sided"), because such a session can
never come up.

With observations from a running lab (`lab.checks.sessions.observe_all`: per
target the sessions its daemon reports) each line gets the state each end
reports, and sessions a daemon has that no plan knows become `UNPLANNED` lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Mapping, Sequence

from . import model as m
from .calico.peering import GLOBAL, MESH, NODE_SPECIFIC, plan_peering
from .calico.resources import ResourceSet
from .fabric import FABRIC, RACK_NODE, fabric_bgp

FABRIC_EBGP = "fabric eBGP"
LEAF_IBGP = "leaf iBGP to rack nodes"
RR_CLIENT = "route-reflector client"
UNPLANNED = "not in the plan"
# Strongest first: where the two ends of one session see it differently (a Calico node
# sees a `global` peer, the external reflector sees an rr client) the picture says the
# more specific thing.
KINDS = (FABRIC_EBGP, LEAF_IBGP, RR_CLIENT, GLOBAL, NODE_SPECIFIC, MESH, UNPLANNED)

ESTABLISHED = "Established"
NO_ANSWER = "no answer"  # the speaker's daemon did not answer (stopped, crashed)
NOT_CONFIGURED = "not configured"
OUTSIDE = "peer:"  # speaker prefix of an address that is no lab target


@dataclass(frozen=True)
class End:
    speaker: str  # lab target (node, router, host) or OUTSIDE + address
    address: str  # the address this speaker uses for the session

    @property
    def outside(self) -> bool:
        return self.speaker.startswith(OUTSIDE)


@dataclass
class SessionLine:
    a: End
    b: End
    kind: str
    configured: set[str] = field(default_factory=set)  # speakers whose config has this session
    notes: list[str] = field(default_factory=list)  # what configures it, per end ("worker: BGPPeer/x")
    states: dict[str, str] = field(default_factory=dict)  # speaker -> state it reports (running lab)

    def ends(self) -> tuple[End, End]:
        return (self.a, self.b)

    @property
    def one_sided(self) -> bool:
        """A lab speaker at one end does not configure it: it can never be Established."""
        return any(not e.outside and e.speaker not in self.configured for e in self.ends())

    @property
    def observed(self) -> bool:
        return bool(self.states)

    @property
    def established(self) -> bool:
        return self.observed and all(s == ESTABLISHED for s in self.states.values())

    def problems(self) -> list[str]:
        """`speaker: state` for every end that is not Established, in end order."""
        return [f"{e.speaker}: {self.states[e.speaker]}" for e in self.ends()
                if e.speaker in self.states and self.states[e.speaker] != ESTABLISHED]


def speakers_by_address(topo: m.Topology) -> dict[str, str]:
    owners: dict[str, str] = {}
    for router in topo.routers:
        for iface in router.interfaces:
            owners[str(iface.address.ip)] = router.name
    for node in topo.cluster.nodes:
        owners[str(node.ip.ip)] = node.name
    for host in topo.hosts:
        owners[str(host.ip.ip)] = host.name
    return owners


def _rank(kind: str) -> int:
    return KINDS.index(kind)


class _Collector:
    def __init__(self, topo: m.Topology):
        self.topo = topo
        self.owners = speakers_by_address(topo)
        self.lines: dict[frozenset, SessionLine] = {}
        self.by_view: dict[tuple[str, str], SessionLine] = {}  # (speaker, peer address) -> line

    def speaker(self, address: str) -> str:
        return self.owners.get(address, OUTSIDE + address)

    def local_address(self, speaker: str, peer: str) -> str:
        """The address `speaker` uses towards `peer`: its own, or its router interface on the peer's subnet."""
        routers = {r.name: r for r in self.topo.routers}
        if speaker in routers:
            try:
                peer_ip = ip_address(peer)
            except ValueError:  # FRR names unnumbered neighbours by interface
                peer_ip = None
            for iface in routers[speaker].interfaces:
                if peer_ip is not None and peer_ip in iface.address.network:
                    return str(iface.address.ip)
            return str(routers[speaker].router_id)
        return next((a for a, owner in self.owners.items() if owner == speaker), "?")

    def add(self, speaker: str, local: str, peer: str, kind: str, note: str, configured: bool = True) -> SessionLine:
        near, far = End(speaker, local), End(self.speaker(peer), peer)
        key = frozenset((near, far))
        line = self.lines.get(key)
        if line is None:
            line = self.lines[key] = SessionLine(near, far, kind)
            self.by_view[(near.speaker, far.address)] = line
            self.by_view[(far.speaker, near.address)] = line
        elif _rank(kind) < _rank(line.kind):
            line.kind = kind
        if configured:
            line.configured.add(speaker)
        if note:
            line.notes.append(f"{speaker}: {note}")
        return line


def session_lines(topo: m.Topology, rs: ResourceSet,
                  observed: Mapping[str, Sequence] | None = None) -> list[SessionLine]:
    """Every session once, in a stable order (the order the plan and the fabric list them)."""
    col = _Collector(topo)
    by_k8s = topo.cluster.names().by_k8s()
    node_ips = {n.name: n.ip for n in rs.nodes}
    for k8s, sessions in plan_peering(rs).items():
        address = node_ips[k8s]
        if address is None:
            continue  # no IPv4 address: BGP is off on that node, the plan gives it no session
        # A Calico node the topology does not know (added to the datastore) is drawn by address.
        speaker = by_k8s.get(k8s) or col.speaker(address)
        for s in sessions:
            kind = RR_CLIENT if s.rr_client else s.peer_type
            note = s.peer_type + (f", rr client (cluster {s.rr_cluster_id})" if s.rr_client else "") + f", {s.source}"
            col.add(speaker, address, s.peer_address, kind, note)
    for bgp in fabric_bgp(topo):
        for n in bgp.neighbors:
            local = str(bgp.router.iface(n.local_iface).address.ip)
            kind = FABRIC_EBGP if n.kind == FABRIC else LEAF_IBGP
            note = f"AS {bgp.asn} to AS {n.remote_as}" + (", rr client, next-hop-self" if n.rr_client else "")
            if n.kind == RACK_NODE or n.kind == FABRIC:
                col.add(bgp.router.name, local, str(n.address), kind, note)
    for host in topo.hosts:
        for node in topo.cluster.nodes:
            col.add(host.name, str(host.ip.ip), str(node.ip.ip), RR_CLIENT, f"rr client (cluster {host.cluster_id})")
    if observed is not None:
        _observe(col, observed)
    return list(col.lines.values())


def _observe(col: _Collector, observed: Mapping[str, Sequence]) -> None:
    # Sessions a daemon has that nothing planned first, so both their ends get a state below.
    for speaker, sessions in observed.items():
        if not _answered(sessions):
            continue
        for o in sessions:
            if (speaker, o.peer) not in col.by_view:
                col.add(speaker, col.local_address(speaker, o.peer), o.peer, UNPLANNED,
                        f"{o.name or 'session'}: no resource or fabric config asks for it")
    for line in col.lines.values():
        for near, far in ((line.a, line.b), (line.b, line.a)):
            if near.speaker in observed:
                line.states[near.speaker] = _state_of(observed[near.speaker], far.address)


def _answered(sessions: Sequence) -> bool:
    """observe_all reports a daemon that did not answer as one session with peer '?'."""
    return not any(o.peer == "?" for o in sessions)


def _state_of(sessions: Sequence, peer: str) -> str:
    if not _answered(sessions):
        return NO_ANSWER
    for o in sessions:
        if o.peer == peer:
            return o.state
    return NOT_CONFIGURED


def sort_key(address: str):
    try:
        return (0, ip_address(address))
    except ValueError:
        return (1, address)
