"""Calico resources (projectcalico.org/v3) for a topology, as a user would apply them.

The same documents drive both providers: `calicoctl apply -f` in clab, and the
Calico model (lab.calico) that writes each node's BIRD config in netns. So the
netns lab is configured through exactly the path a real cluster is.
"""

from __future__ import annotations

from typing import Any, Mapping

import yaml

from .. import model as m

API = "projectcalico.org/v3"


def _doc(kind: str, name: str, spec: dict, labels: dict | None = None) -> dict:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "spec": spec}


def bgp_configuration(topo: m.Topology) -> dict:
    spec: dict[str, Any] = {"logSeverityScreen": "Info"}
    spec["nodeToNodeMeshEnabled"] = topo.calico.peering == m.PEERING_MESH
    spec.update(_plain(topo.calico.bgp_configuration))
    return _doc("BGPConfiguration", "default", spec)


def _plain(value: Any) -> Any:
    """Plain dicts and lists (the loader's located/frozen containers are not YAML-representable)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def node_documents(topo: m.Topology) -> list[dict]:
    rr = topo.calico.route_reflectors
    docs = []
    for node in topo.cluster.nodes:
        bgp: dict[str, Any] = {"ipv4Address": str(node.ip)}
        labels = dict(node.labels)
        # Only state an AS where it differs from Calico's own resolution (default 64512).
        if node.asn is not None or topo.calico.peering in m.PEERING_AS_PER_RACK:
            bgp["asNumber"] = topo.node_asn(node)
        if topo.is_route_reflector(node):
            bgp["routeReflectorClusterID"] = rr.cluster_id
            labels[rr.label] = "true"
        docs.append(_doc("Node", topo.cluster.k8s_name(node), {"bgp": bgp}, labels))
    return docs


def peer_documents(topo: m.Topology) -> list[dict]:
    peering = topo.calico.peering
    docs = []
    if peering == m.PEERING_RACK_LEAF:
        for rack in topo.racks:
            if rack.leaf is None or not topo.nodes_in(rack.name):
                continue
            leaf = topo.router(rack.leaf)
            docs.append(_doc("BGPPeer", f"{rack.name}-to-{leaf.name}", {
                "peerIP": str(rack.gateway),
                "asNumber": leaf.asn,
                "nodeSelector": f"{m.RACK_LABEL} == '{rack.name}'",
            }))
    elif peering == m.PEERING_ROUTE_REFLECTORS:
        label = topo.calico.route_reflectors.label
        docs.append(_doc("BGPPeer", "peer-to-rrs", {
            "nodeSelector": f"!has({label})", "peerSelector": f"has({label})"}))
        docs.append(_doc("BGPPeer", "rr-mesh", {
            "nodeSelector": f"has({label})", "peerSelector": f"has({label})"}))
    elif peering == m.PEERING_RACK_REFLECTORS:
        docs += rack_reflector_peers(topo)
    elif peering == m.PEERING_EXTERNAL_RR:
        for host in topo.hosts:
            docs.append(_doc("BGPPeer", f"to-{host.name}", {"peerIP": str(host.ip.ip), "asNumber": host.asn}))
    return docs


def rack_reflector_peers(topo: m.Topology) -> list[dict]:
    """Per rack: its reflector nodes peer with the leaf (so routes reach the fabric), its other
    nodes with those reflectors, and the rack's reflectors with each other."""
    label = topo.calico.route_reflectors.label
    docs = []
    for rack in topo.racks:
        rrs = [n for n in topo.nodes_in(rack.name) if topo.is_route_reflector(n)]
        if rack.leaf is None or not rrs:
            continue
        leaf = topo.router(rack.leaf)
        in_rack = f"{m.RACK_LABEL} == '{rack.name}'"
        docs.append(_doc("BGPPeer", f"{rack.name}-rrs-to-{leaf.name}", {
            "peerIP": str(rack.gateway), "asNumber": leaf.asn, "nodeSelector": f"{in_rack} && has({label})"}))
        docs.append(_doc("BGPPeer", f"{rack.name}-to-rrs", {
            "nodeSelector": f"{in_rack} && !has({label})", "peerSelector": f"{in_rack} && has({label})"}))
        if len(rrs) > 1:
            docs.append(_doc("BGPPeer", f"{rack.name}-rr-mesh", {
                "nodeSelector": f"{in_rack} && has({label})", "peerSelector": f"{in_rack} && has({label})"}))
    return docs


def pool_documents(topo: m.Topology) -> list[dict]:
    docs = []
    for pool in topo.calico.ip_pools:
        spec: dict[str, Any] = {
            "cidr": str(pool.cidr),
            "blockSize": pool.block_size,
            # Pure BGP: no overlay, pod packets travel the fabric as they are.
            "ipipMode": "Never",
            "vxlanMode": "Never",
            "natOutgoing": pool.nat_outgoing,
            "nodeSelector": pool.node_selector,
        }
        if pool.disabled:
            spec["disabled"] = True
        if pool.disable_bgp_export:
            spec["disableBGPExport"] = True
        docs.append(_doc("IPPool", pool.name, spec))
    return docs


def calico_documents(topo: m.Topology) -> list[dict]:
    """In apply order: global config first, then nodes, peers and pools."""
    return [bgp_configuration(topo), *node_documents(topo), *peer_documents(topo), *pool_documents(topo)]


def render_calico(topo: m.Topology) -> str:
    header = (f"# Calico resources for lab '{topo.name}' (generated by fabriclab from {topo.source.name}).\n"
              "# Apply with: calicoctl apply -f <this file>\n")
    return header + yaml.safe_dump_all(calico_documents(topo), sort_keys=False, explicit_start=True)
