"""Findings about a set of Calico resources that will not do what their author likely meant."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_interface

from ..errors import SelectorError
from .peering import node_as, plan_peering
from .resources import ResourceSet
from .selector import parse_selector

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class LintFinding:
    severity: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.resource}: {self.message}"


def _select(text: str | None, rs: ResourceSet):
    selector = parse_selector(text)
    return [n for n in rs.nodes if selector.matches(n.labels)]


def lint(rs: ResourceSet) -> list[LintFinding]:
    findings: list[LintFinding] = []
    for peer in rs.bgp_peers:
        where = f"BGPPeer/{peer.name}"
        for field, text in (("nodeSelector", peer.node_selector), ("peerSelector", peer.peer_selector)):
            if text is None:
                continue
            try:
                selected = _select(text, rs)
            except SelectorError as exc:
                findings.append(LintFinding(ERROR, where, f"{field}: {exc}".replace("\n", " ")))
                continue
            if not selected:
                findings.append(LintFinding(WARNING, where, f"{field} \"{text}\" selects no node"))
            elif field == "peerSelector":
                missing = [n.name for n in selected if not n.route_reflector_cluster_id]
                reflecting = any(n.route_reflector_cluster_id for n in rs.nodes)
                if missing and reflecting:
                    findings.append(LintFinding(WARNING, where, f"peerSelector picks {', '.join(missing)} as peers but "
                                                "they have no routeReflectorClusterID: they will not reflect routes"))
        if peer.node and peer.node not in {n.name for n in rs.nodes}:
            findings.append(LintFinding(WARNING, where, f"node '{peer.node}' is not a Calico node"))
    findings += _reflector_findings(rs)
    plan = plan_peering(rs)
    if not rs.default_bgp_configuration().node_to_node_mesh_enabled:
        for node in rs.nodes:
            if node.ip and not plan.get(node.name):
                findings.append(LintFinding(ERROR, f"Node/{node.name}",
                                            "node-to-node mesh is off and no BGPPeer gives this node a peer: "
                                            "its pods are unreachable from other nodes"))
    for node in rs.nodes:
        if not node.ipv4_address:  # (node.ip is derived from it)
            continue
        local_as = node_as(rs, node.name)
        subnet = ip_interface(node.ipv4_address).network
        for session in plan.get(node.name, ()):
            if session.peer_node is None and ip_interface(f"{session.peer_address}/32").ip in subnet \
                    and session.peer_as != local_as:
                findings.append(LintFinding(INFO, f"Node/{node.name}",
                                            f"peers with {session.peer_address} (AS {session.peer_as}) from AS {local_as}: "
                                            "eBGP, so that router will not treat it as a route-reflector client"))
    return findings


def _reflector_findings(rs: ResourceSet) -> list[LintFinding]:
    """The two classic mistakes of a mesh -> route reflector migration (DESIGN.md §3.1)."""
    findings = []
    reflectors = [n for n in rs.nodes if n.route_reflector_cluster_id]
    for peer in rs.bgp_peers:
        if not peer.peer_selector:
            continue
        try:
            peers = _select(peer.peer_selector, rs)
            locals_ = _select(peer.node_selector, rs) if peer.node_selector else (
                [n for n in rs.nodes if n.name == peer.node] if peer.node else list(rs.nodes))
        except SelectorError:
            continue  # reported above
        ibgp = [p for p in peers if any(node_as(rs, p.name) == node_as(rs, n.name) for n in locals_ if n is not p)]
        if ibgp and not reflectors:
            findings.append(LintFinding(WARNING, f"BGPPeer/{peer.name}", (
                f"peerSelector picks {', '.join(p.name for p in ibgp)} as iBGP peers but no node has a "
                "routeReflectorClusterID: nothing is reflected, so nodes that only peer with them do not learn "
                "each other's routes (pods across nodes lose each other)")))
    if rs.default_bgp_configuration().node_to_node_mesh_enabled:
        for node in reflectors:
            selected = False
            for peer in rs.bgp_peers:
                try:
                    if peer.peer_selector and node in _select(peer.peer_selector, rs):
                        selected = True
                    elif peer.node == node.name or (peer.node_selector and node in _select(peer.node_selector, rs)):
                        selected = True
                except SelectorError:
                    continue
            if not selected:
                findings.append(LintFinding(WARNING, f"Node/{node.name}", (
                    "has a routeReflectorClusterID while the node-to-node mesh is on and no BGPPeer selects it: "
                    "it leaves the mesh at once and its pods lose every other node until a BGPPeer gives it peers")))
    return findings
