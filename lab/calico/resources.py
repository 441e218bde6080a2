"""Calico resources as typed, immutable values: BGPConfiguration, BGPPeer, Node, IPPool.

Reads projectcalico.org/v3 documents (and the crd.projectcalico.org/v1 form,
which has the same kinds and spec fields) from files, directories,
multi-document streams and `*List` kinds. Every problem names the file, the
document, the field and what is wrong; unknown kinds are reported, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import yaml

from ..errors import LabError, ResourceError, SelectorError
from .selector import parse_selector

API_VERSIONS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
KINDS = ("BGPConfiguration", "BGPPeer", "Node", "IPPool")
DEFAULT_AS = 64512


@dataclass(frozen=True)
class BGPConfiguration:
    name: str
    as_number: int | None = None
    node_to_node_mesh_enabled: bool = True
    service_cluster_ips: tuple[str, ...] = ()
    service_external_ips: tuple[str, ...] = ()
    service_loadbalancer_ips: tuple[str, ...] = ()
    log_severity: str | None = None
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class BGPPeer:
    name: str
    node: str | None = None
    node_selector: str | None = None
    peer_ip: str | None = None
    as_number: int | None = None
    peer_selector: str | None = None
    reverse_peering: str = "Auto"
    keep_original_next_hop: bool = False
    source_address: str | None = None
    source: str = field(default="", compare=False)

    @property
    def is_global(self) -> bool:
        """Global only when neither node nor nodeSelector is set (`all()` is not global)."""
        return not self.node and not self.node_selector


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ipv4_address: str | None = None  # CIDR form, e.g. 10.1.5.10/24
    as_number: int | None = None
    route_reflector_cluster_id: str | None = None
    source: str = field(default="", compare=False)

    @property
    def ip(self) -> str | None:
        return str(ip_interface(self.ipv4_address).ip) if self.ipv4_address else None

    def __hash__(self):
        return hash((self.name, self.ipv4_address))


@dataclass(frozen=True)
class IPPool:
    name: str
    cidr: str
    block_size: int = 26
    ipip_mode: str = "Never"
    vxlan_mode: str = "Never"
    nat_outgoing: bool = False
    disabled: bool = False
    disable_bgp_export: bool = False
    node_selector: str = "all()"
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class ResourceSet:
    bgp_configurations: tuple[BGPConfiguration, ...] = ()
    bgp_peers: tuple[BGPPeer, ...] = ()
    nodes: tuple[Node, ...] = ()
    ip_pools: tuple[IPPool, ...] = ()

    def default_bgp_configuration(self) -> BGPConfiguration:
        for conf in self.bgp_configurations:
            if conf.name == "default":
                return conf
        return BGPConfiguration("default")

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"no Calico node '{name}' (nodes: {', '.join(n.name for n in self.nodes) or 'none'})")

    def merged(self, other: "ResourceSet") -> "ResourceSet":
        """`calicoctl apply` of `other` on top of this set: same kind and name replaces."""
        def merge(mine, theirs):
            names = {r.name for r in theirs}
            return tuple(r for r in mine if r.name not in names) + tuple(theirs)
        return ResourceSet(merge(self.bgp_configurations, other.bgp_configurations),
                           merge(self.bgp_peers, other.bgp_peers), merge(self.nodes, other.nodes),
                           merge(self.ip_pools, other.ip_pools))


class _Doc:
    """Field access on one document with errors that say where."""

    def __init__(self, data: Any, source: str, index: int, kind: str = ""):
        self.source, self.index, self.kind = source, index, kind
        self.data = data

    def fail(self, field_path: str, problem: str):
        where = f"document {self.index + 1}" + (f" ({self.kind})" if self.kind else "")
        raise ResourceError(self.source, f"{where} {field_path}".strip(), problem)

    def get(self, mapping: Mapping, key: str, kind: type | tuple, path: str, default=None):
        value = mapping.get(key, default) if isinstance(mapping, Mapping) else default
        if value is None:
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self.fail(path, f"expected {'/'.join(k.__name__ for k in kinds)}, got {value!r}")
        return value

    def asn(self, mapping: Mapping, key: str, path: str) -> int | None:
        value = self.get(mapping, key, (int, str), path)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(path, f"'{value}' is not an AS number")
        if not 1 <= number <= 4294967295:
            self.fail(path, f"AS number {number} is out of range (1..4294967295)")
        return number

    def selector(self, mapping: Mapping, key: str, path: str) -> str | None:
        value = self.get(mapping, key, str, path)
        if value is not None:
            try:
                parse_selector(value)
            except SelectorError as exc:
                self.fail(path, str(exc).replace("\n", " "))
        return value

    def cidr(self, value: str, path: str) -> str:
        try:
            return str(ip_network(value, strict=False))
        except ValueError:
            self.fail(path, f"'{value}' is not a valid CIDR")

    def ip(self, value: str | None, path: str) -> str | None:
        if value is None:
            return None
        try:
            return str(ip_address(value))
        except ValueError:
            self.fail(path, f"'{value}' is not a valid IP address")


def _cidr_list(doc: _Doc, spec: Mapping, key: str) -> tuple[str, ...]:
    items = doc.get(spec, key, list, f"spec.{key}", [])
    out = []
    for i, item in enumerate(items):
        cidr = item.get("cidr") if isinstance(item, Mapping) else None
        if not isinstance(cidr, str):
            doc.fail(f"spec.{key}[{i}]", "expected {cidr: <network>}")
        out.append(doc.cidr(cidr, f"spec.{key}[{i}].cidr"))
    return tuple(out)


def _parse_one(data: Any, source: str, index: int) -> Any | None:
    doc = _Doc(data, source, index)
    if not isinstance(data, Mapping):
        doc.fail("", f"expected a mapping, got {type(data).__name__}")
    api = data.get("apiVersion")
    kind = data.get("kind")
    if api not in API_VERSIONS:
        doc.fail("apiVersion", f"'{api}' is not a Calico API version (use projectcalico.org/v3)")
    if kind not in KINDS:
        doc.fail("kind", f"unsupported kind '{kind}' (supported: {', '.join(KINDS)}, and their *List forms)")
    doc.kind = kind
    metadata = data.get("metadata") or {}
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        doc.fail("metadata.name", "required field is missing")
    spec = data.get("spec") or {}
    if not isinstance(spec, Mapping):
        doc.fail("spec", "expected a mapping")
    where = f"{source}#{index + 1} {kind}/{name}"
    if kind == "BGPConfiguration":
        return BGPConfiguration(
            name, doc.asn(spec, "asNumber", "spec.asNumber"),
            doc.get(spec, "nodeToNodeMeshEnabled", bool, "spec.nodeToNodeMeshEnabled", True),
            _cidr_list(doc, spec, "serviceClusterIPs"), _cidr_list(doc, spec, "serviceExternalIPs"),
            _cidr_list(doc, spec, "serviceLoadBalancerIPs"),
            doc.get(spec, "logSeverityScreen", str, "spec.logSeverityScreen"), source=where)
    if kind == "BGPPeer":
        peer = BGPPeer(
            name, doc.get(spec, "node", str, "spec.node"), doc.selector(spec, "nodeSelector", "spec.nodeSelector"),
            doc.ip(doc.get(spec, "peerIP", str, "spec.peerIP"), "spec.peerIP"),
            doc.asn(spec, "asNumber", "spec.asNumber"), doc.selector(spec, "peerSelector", "spec.peerSelector"),
            doc.get(spec, "reversePeering", str, "spec.reversePeering", "Auto"),
            doc.get(spec, "keepOriginalNextHop", bool, "spec.keepOriginalNextHop", False),
            doc.get(spec, "sourceAddress", str, "spec.sourceAddress"), source=where)
        if peer.peer_ip and peer.peer_selector:
            doc.fail("spec", "peerIP and peerSelector cannot both be set")
        if not peer.peer_ip and not peer.peer_selector:
            doc.fail("spec", "one of peerIP or peerSelector is required")
        if peer.peer_ip and peer.as_number is None:
            doc.fail("spec.asNumber", "required with peerIP")
        if peer.reverse_peering not in ("Auto", "Manual"):
            doc.fail("spec.reversePeering", f"'{peer.reverse_peering}' is not Auto or Manual")
        return peer
    if kind == "Node":
        labels = metadata.get("labels") or {}
        if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
            doc.fail("metadata.labels", "labels must map names to strings")
        bgp = spec.get("bgp") or {}
        address = doc.get(bgp, "ipv4Address", str, "spec.bgp.ipv4Address")
        if address is not None:
            try:
                address = str(ip_interface(address))
            except ValueError:
                doc.fail("spec.bgp.ipv4Address", f"'{address}' is not an address like 10.1.5.10/24")
        cluster_id = doc.ip(doc.get(bgp, "routeReflectorClusterID", str, "spec.bgp.routeReflectorClusterID"),
                            "spec.bgp.routeReflectorClusterID")
        return Node(name, MappingProxyType(dict(labels)), address, doc.asn(bgp, "asNumber", "spec.bgp.asNumber"),
                    cluster_id, source=where)
    cidr = doc.get(spec, "cidr", str, "spec.cidr")
    if cidr is None:
        doc.fail("spec.cidr", "required field is missing")
    block = doc.get(spec, "blockSize", int, "spec.blockSize", 26)
    pool = IPPool(name, doc.cidr(cidr, "spec.cidr"), block, doc.get(spec, "ipipMode", str, "spec.ipipMode", "Never"),
                  doc.get(spec, "vxlanMode", str, "spec.vxlanMode", "Never"),
                  doc.get(spec, "natOutgoing", bool, "spec.natOutgoing", False),
                  doc.get(spec, "disabled", bool, "spec.disabled", False),
                  doc.get(spec, "disableBGPExport", bool, "spec.disableBGPExport", False),
                  doc.selector(spec, "nodeSelector", "spec.nodeSelector") or "all()", source=where)
    if not ip_network(pool.cidr).prefixlen <= block <= 32:
        doc.fail("spec.blockSize", f"{block} must be between the pool's prefix length and 32")
    return pool


def parse_resources(text: str, source: str) -> ResourceSet:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ResourceError(source, "", f"YAML syntax error: {exc}") from None
    items: list[tuple[Any, int]] = []
    for index, data in enumerate(documents):
        if isinstance(data, Mapping) and str(data.get("kind", "")).endswith("List") and "items" in data:
            items += [(item, index) for item in data.get("items") or []]
        else:
            items.append((data, index))
    out: dict[type, list] = {BGPConfiguration: [], BGPPeer: [], Node: [], IPPool: []}
    for data, index in items:
        resource = _parse_one(data, source, index)
        bucket = out[type(resource)]
        bucket[:] = [r for r in bucket if r.name != resource.name] + [resource]
    return ResourceSet(tuple(out[BGPConfiguration]), tuple(out[BGPPeer]), tuple(out[Node]), tuple(out[IPPool]))


def load_resources(paths: Iterable[str | Path]) -> ResourceSet:
    result = ResourceSet()
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
        for file in files:
            try:
                text = file.read_text()
            except OSError as exc:
                raise ResourceError(str(file), "", f"cannot read: {exc.strerror}") from None
            result = result.merged(parse_resources(text, str(file)))
    return result


def with_bgp_configuration(rs: ResourceSet, **changes) -> ResourceSet:
    conf = replace(rs.default_bgp_configuration(), **changes)
    return ResourceSet((conf,) + tuple(c for c in rs.bgp_configurations if c.name != "default"),
                       rs.bgp_peers, rs.nodes, rs.ip_pools)
