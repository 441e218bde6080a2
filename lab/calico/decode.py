"""Strict decoding of one Calico resource document, as calicoctl decodes it.

Field names and types follow projectcalico.org/v3 (api/pkg/apis/projectcalico/v3/{bgpconfig,
bgppeer,ippool,bgpfilter}.go and libcalico-go's Node). Every field is read: an unknown one is an
error with the closest known name; a known field the netns lab cannot reproduce is refused with
"field X is not supported by the netns lab" and the reason; a field newer than the lab's Calico
version is refused with the release that introduced it. Errors carry file, line, document and field.
"""

from __future__ import annotations

import base64
import binascii
import re
from ipaddress import ip_address, ip_interface
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import ResourceError
from .decode_fields import METADATA, CalicoFields
from .resources import (API_VERSIONS, KINDS, BGPConfiguration, BGPFilter, BGPPeer, FilterRule, IPPool, Node,
                        PrefixAdvertisement, Secret)
from .versions import CalicoVersion


def decode(data: Any, source: str, index: int, line: int | None, version: CalicoVersion | None):
    if not isinstance(data, Mapping):
        raise ResourceError(source, f"document {index + 1}", f"expected a mapping, got {type(data).__name__}", line)
    line = getattr(data, "line", None) or line
    top = CalicoFields(data, "", source, line, "", version)
    api, kind = top.opt("apiVersion"), top.opt("kind")
    where = f"document {index + 1}"
    if api == "v1" and kind == "Secret":
        return _secret(top, where, source)
    if api not in API_VERSIONS:
        top.where = where
        top.fail("apiVersion", f"'{api}' is not a Calico API version (use projectcalico.org/v3)")
    if kind not in KINDS:
        top.where = where
        top.fail("kind", f"unsupported kind '{kind}' (supported: {', '.join(KINDS)}, their *List forms, "
                         "and v1 Secret for BGP passwords)")
    meta = CalicoFields(top.opt("metadata", dict) or {}, f"{where} ({kind}) metadata", source, top.line("metadata"), kind, version)
    name = meta.opt("name", str)
    if not name:
        meta.fail("name", "required field is missing")
    labels = meta.opt("labels", dict) or {}
    if not all(isinstance(v, str) for v in labels.values()):
        meta.fail("labels", "labels must map names to strings")
    for key in METADATA[2:]:
        meta.opt(key)
    meta.done()
    top.where = f"{where} ({kind}/{name})"
    top.kind = kind
    if kind == "BGPFilter" and version is not None and version.knows("BGPFilter", ""):
        top.fail("kind", f"kind BGPFilter does not exist in Calico {version} (added in v3.26)")
    spec = top.sub("spec") or CalicoFields({}, f"{top.where} spec", source, line, kind, version)
    top.opt("status")  # observed state written by Calico (IPPool conditions, Node podCIDRs): not configuration
    top.done()
    spec.where = f"{top.where} spec"
    at = f"{source}#{index + 1} {kind}/{name}"
    decoded = _DECODERS[kind](spec, name, at, labels)
    spec.done()
    return decoded


def _secret(top: CalicoFields, where: str, source: str) -> Secret:
    meta = top.sub("metadata")
    if meta is None:
        top.fail("metadata", "required field is missing")
    name = meta.req("name", str)
    for key in ("namespace",) + METADATA[1:]:
        meta.opt(key)
    meta.done()
    top.where = f"{where} (Secret/{name})"
    values: dict[str, str] = {}
    encoded = top.sub("data")
    if encoded is not None:
        for key in list(encoded.data):
            try:
                values[key] = base64.b64decode(str(encoded.opt(key, str)), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                encoded.fail(key, "not base64-encoded UTF-8 text (use stringData for plain text)")
    plain = top.opt("stringData", dict) or {}
    values.update({str(k): str(v) for k, v in plain.items()})
    top.opt("type", str)
    top.opt("immutable", bool)
    top.done()
    return Secret(name, MappingProxyType(values), source=f"{source} Secret/{name}")


def _bgp_configuration(f: CalicoFields, name: str, at: str, labels) -> BGPConfiguration:
    for key in ("ignoredInterfaces", "localWorkloadPeeringIPV4", "localWorkloadPeeringIPV6",
                "serviceLoadBalancerAggregation", "programClusterRoutes", "ipv4NormalRoutePriority",
                "ipv6NormalRoutePriority"):
        f.gate(key)
    if name != "default" and not name.startswith("node."):
        f.fail("", f"BGPConfiguration '{name}' has no effect: calico-node reads 'default' and 'node.<node name>'")
    if name != "default":
        for key in ("nodeToNodeMeshEnabled", "asNumber", "serviceClusterIPs", "serviceExternalIPs",
                    "serviceLoadBalancerIPs", "communities", "nodeMeshPassword", "nodeMeshMaxRestartTime"):
            if f.has(key):
                f.fail(key, "only valid in BGPConfiguration 'default' (Calico rejects it in a per-node configuration)")
    communities = {}
    for i, item in enumerate(f.opt("communities", list, [])):
        c = CalicoFields(item, f"{f.path('communities')}[{i}]", f.file, f.line("communities"), f.kind, f.version)
        value = c.req("value", str)
        if not re.fullmatch(r"\d+:\d+(:\d+)?", value):
            c.fail("value", f"'{value}' is not a community (aa:nn or aa:nn:mm)")
        communities[c.req("name", str)] = value
        c.done()
    adverts = []
    for i, item in enumerate(f.opt("prefixAdvertisements", list, [])):
        a = CalicoFields(item, f"{f.path('prefixAdvertisements')}[{i}]", f.file, f.line("prefixAdvertisements"), f.kind, f.version)
        values = []
        for value in a.req("communities", list):
            value = communities.get(str(value), str(value))
            if not re.fullmatch(r"\d+:\d+(:\d+)?", value):
                a.fail("communities", f"'{value}' is neither a community value nor a name under spec.communities")
            values.append(value)
        adverts.append(PrefixAdvertisement(a.cidr("cidr", a.req("cidr", str)), tuple(values)))
        a.done()
    f.choice("serviceLoadBalancerAggregation", ("Enabled",))  # Disabled (/32 per Service) is not modelled
    f.refuse("localWorkloadPeeringIPV4", "the lab has no local workload BGP peers")
    f.refuse("localWorkloadPeeringIPV6", "IPv6 is not supported yet")
    f.refuse("ipv6NormalRoutePriority", "IPv6 is not supported yet")
    f.choice("programClusterRoutes", ("Enabled",))  # Disabled hands cluster routes to Felix: not modelled
    priority = f.opt("ipv4NormalRoutePriority", int)
    if priority is not None and not 1 <= priority <= 2147483646:
        f.fail("ipv4NormalRoutePriority", f"{priority} is out of range (1..2147483646)")
    port = f.opt("listenPort", int)
    if port is not None and not 1 <= port <= 65535:
        f.fail("listenPort", f"{port} is not a TCP port (1..65535)")
    return BGPConfiguration(
        name, f.asn("asNumber"), f.opt("nodeToNodeMeshEnabled", bool, True),
        _cidrs(f, "serviceClusterIPs"), _cidrs(f, "serviceExternalIPs"), _cidrs(f, "serviceLoadBalancerIPs"),
        f.choice("logSeverityScreen", ("Trace", "Debug", "Info", "Warning", "Error", "Fatal", "None")),
        port, f.choice("bindMode", ("None", "NodeIP")), f.secret_ref("nodeMeshPassword"),
        f.duration("nodeMeshMaxRestartTime"), tuple(str(i) for i in f.opt("ignoredInterfaces", list, [])),
        tuple(adverts), priority, source=at)


def _cidrs(f: CalicoFields, key: str) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(f.opt(key, list, [])):
        c = CalicoFields(item, f"{f.path(key)}[{i}]", f.file, f.line(key), f.kind, f.version)
        out.append(c.cidr("cidr", c.req("cidr", str)))
        c.done()
    return tuple(out)


def _bgp_peer(f: CalicoFields, name: str, at: str, labels) -> BGPPeer:
    for key in ("ttlSecurity", "reachableBy", "filters", "localWorkloadSelector", "localASNumber", "nextHopMode",
                "reversePeering", "keepaliveTime"):
        f.gate(key)
    node, node_selector = f.opt("node", str), f.selector("nodeSelector")
    peer_selector, asn = f.selector("peerSelector"), f.asn("asNumber")
    peer_ip, port = _peer_ip(f)
    if node and node_selector:
        f.fail("node", "node and nodeSelector cannot both be set (Calico: Node field must be empty when "
                       "NodeSelector is specified)")
    if peer_ip and peer_selector:
        f.fail("peerIP", "peerIP and peerSelector cannot both be set")
    if asn is not None and peer_selector:
        f.fail("asNumber", "asNumber must be empty with peerSelector (the peers' own AS numbers are used)")
    if peer_ip and asn is None:
        f.fail("asNumber", "required with peerIP in the netns lab (the peer's AS)")
    ttl = f.opt("ttlSecurity", int)
    if ttl is not None and not 0 <= ttl <= 255:
        f.fail("ttlSecurity", f"{ttl} is not a hop count (0..255)")
    allow = f.opt("numAllowedLocalASNumbers", int)
    if allow is not None and not 0 <= allow <= 10:
        f.fail("numAllowedLocalASNumbers", f"{allow} is out of range (0..10)")
    reachable = f.opt("reachableBy", str)
    if reachable is not None:
        try:
            reachable = str(ip_address(reachable))
        except ValueError:
            f.fail("reachableBy", f"'{reachable}' is not an IP address")
    filters = tuple(str(x) for x in f.opt("filters", list, []))
    f.refuse("localWorkloadSelector", "the lab has no local workload BGP peers")
    return BGPPeer(
        name, node, node_selector, peer_ip, asn, peer_selector,
        f.choice("reversePeering", ("Auto", "Manual"), "Auto"), f.opt("keepOriginalNextHop", bool, False),
        f.choice("sourceAddress", ("UseNodeIP", "None")), port, f.asn("localASNumber"),
        f.choice("nextHopMode", ("Auto", "Self", "Keep")), f.secret_ref("password"), f.duration("maxRestartTime"),
        f.duration("keepaliveTime"), allow or None, ttl or None, reachable, filters, source=at)


def _peer_ip(f: CalicoFields) -> tuple[str | None, int | None]:
    text = f.opt("peerIP", str)
    if text is None:
        return None, None
    host, port = text, None
    match = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", text) if text.count(":") == 1 or text.startswith("[") else None
    if match:
        host, port = match.group(1), int(match.group(2))
    try:
        address = ip_address(host)
    except ValueError:
        f.fail("peerIP", f"'{text}' is not a valid IP address (or <ip>:<port>)")
    if address.version != 4:
        f.fail("peerIP", f"IPv6 peer {address} is not supported by the netns lab yet (IPv4 only)")
    if port is not None and not 1 <= port <= 65535:
        f.fail("peerIP", f"port {port} is not a TCP port")
    return str(address), port


def _node(f: CalicoFields, name: str, at: str, labels) -> Node:
    bgp = f.sub("bgp") or CalicoFields({}, f.path("bgp"), f.file, f.line(), f.kind, f.version)
    address = bgp.opt("ipv4Address", str)
    if address is not None:
        try:
            iface = ip_interface(address)
        except ValueError:
            bgp.fail("ipv4Address", f"'{address}' is not an address like 10.1.5.10/24")
        if iface.version != 4:
            bgp.fail("ipv4Address", f"'{address}' is not an IPv4 address")
        address = str(iface)
    bgp.refuse("ipv6Address", "IPv6 is not supported yet (the lab runs IPv4 BGP only)")
    bgp.refuse("ipv4IPIPTunnelAddr", "the lab has no IPIP tunnels (IP pools use ipipMode: Never)")
    cluster_id = bgp.opt("routeReflectorClusterID", str)
    if cluster_id is not None:
        try:
            cluster_id = str(ip_address(cluster_id))
        except ValueError:
            bgp.fail("routeReflectorClusterID", f"'{cluster_id}' is not an IPv4 address like 224.0.0.1")
    asn = bgp.asn("asNumber")
    bgp.done()
    for key in ("ipv4VXLANTunnelAddr", "vxlanTunnelMACAddr", "ipv6VXLANTunnelAddr", "vxlanTunnelMACAddrV6"):
        f.refuse(key, "the lab has no VXLAN tunnels (IP pools use vxlanMode: Never)")
    f.refuse("wireguard", "the lab does not run WireGuard")
    # Informational: what the orchestrator and the host report; no effect on BGP.
    f.opt("orchRefs", list)
    f.opt("addresses", list)
    f.opt("interfaces", list)
    return Node(name, MappingProxyType(dict(labels)), address, asn, cluster_id, source=at)


def _ip_pool(f: CalicoFields, name: str, at: str, labels) -> IPPool:
    f.gate("assignmentMode")
    f.gate("namespaceSelector")
    cidr = f.cidr("cidr", f.req("cidr", str))
    block = f.opt("blockSize", int, 26)
    if not int(cidr.split("/")[1]) <= block <= 32:
        f.fail("blockSize", f"{block} must be between the pool's prefix length and 32")
    for key in ("ipipMode", "vxlanMode"):
        mode = f.choice(key, ("Never", "Always", "CrossSubnet"), "Never")
        if mode != "Never":
            f.fail(key, f"{key} {mode} is not supported by the netns lab: it runs Calico in pure BGP mode "
                        "(no IPIP or VXLAN tunnels); use Never")
    f.refuse("ipip", "the v1 'ipip' form is replaced by ipipMode (use ipipMode: Never)")
    f.refuse("nat-outgoing", "the v1 form is replaced by natOutgoing")
    uses = tuple(str(u) for u in f.opt("allowedUses", list, ["Workload", "Tunnel"]))
    for use in uses:
        if use not in ("Workload", "Tunnel", "LoadBalancer"):
            f.fail("allowedUses", f"unknown use '{use}' (Workload, Tunnel, LoadBalancer)")
    if "LoadBalancer" in uses:
        f.fail("allowedUses", "field allowedUses LoadBalancer is not supported by the netns lab "
                              "(it has no LoadBalancer IP allocation)")
    f.choice("assignmentMode", ("Automatic",))  # Manual: no automatic blocks; the lab's IPAM always assigns
    f.refuse("namespaceSelector", "the lab places its pods in one namespace", allowed=("all()",))
    return IPPool(name, cidr, block, "Never", "Never", f.opt("natOutgoing", bool, False), f.opt("disabled", bool, False),
                  f.opt("disableBGPExport", bool, False), f.selector("nodeSelector") or "all()", uses, source=at)


def _bgp_filter(f: CalicoFields, name: str, at: str, labels) -> BGPFilter:
    f.refuse("exportV6", "IPv6 is not supported yet")
    f.refuse("importV6", "IPv6 is not supported yet")
    return BGPFilter(name, _rules(f, "exportV4"), _rules(f, "importV4"), source=at)


def _rules(f: CalicoFields, key: str) -> tuple[FilterRule, ...]:
    rules = []
    items = f.opt(key, list, [])
    for i, item in enumerate(items):
        line = items.item_line(i) if hasattr(items, "item_line") else f.line(key)
        r = CalicoFields(item, f"{f.path(key)}[{i}]", f.file, line, f.kind, f.version)
        for field_name in ("source", "interface", "prefixLength", "peerType"):
            r.gate(field_name, f"spec.*.{field_name}")
        cidr = r.cidr("cidr", r.opt("cidr", str)) if r.has("cidr") else None
        operator = r.choice("matchOperator", ("Equal", "NotEqual", "In", "NotIn"))
        if cidr and not operator:
            r.fail("matchOperator", "required with cidr (Equal, NotEqual, In or NotIn)")
        length = r.sub("prefixLength")
        low = high = None
        if length is not None:
            low, high = length.opt("min", int), length.opt("max", int)
            for bound, value in (("min", low), ("max", high)):
                if value is not None and not 0 <= value <= 32:
                    length.fail(bound, f"{value} is not an IPv4 prefix length (0..32)")
            length.done()
        for unsupported in ("communities", "asPathPrefix", "priority", "operations", "peerType"):
            r.refuse(unsupported, "BGPFilter peer-type, community, AS-path and priority rules are not modelled yet")
        rules.append(FilterRule(r.choice("action", ("Accept", "Reject")) or r.req("action", str), cidr, operator,
                                low, high, r.choice("source", ("RemotePeers",)), r.opt("interface", str)))
        r.done()
    return tuple(rules)


_DECODERS: Mapping[str, Any] = {"BGPConfiguration": _bgp_configuration, "BGPPeer": _bgp_peer, "Node": _node,
                                "IPPool": _ip_pool, "BGPFilter": _bgp_filter}
