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
    plan = plan_peering(rs)
    if not rs.default_bgp_configuration().node_to_node_mesh_enabled:
        for node in rs.nodes:
            if node.ip and not plan.get(node.name):
                findings.append(LintFinding(ERROR, f"Node/{node.name}",
                                            "node-to-node mesh is off and no BGPPeer gives this node a peer: "
                                            "its pods are unreachable from other nodes"))
    for node in rs.nodes:
        if not node.ip:
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
