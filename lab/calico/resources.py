"""Calico resources as typed, immutable values: BGPConfiguration, BGPPeer, Node, IPPool, BGPFilter.

Reads projectcalico.org/v3 documents (and the crd.projectcalico.org/v1 form,
which has the same kinds and spec fields) from files, directories,
multi-document streams and `*List` kinds, plus Kubernetes v1 `Secret`s that
BGP passwords refer to. Decoding is strict, as calicoctl's is (lab/calico/decode.py):
every problem names the file, the line, the document, the field and what is
wrong; unknown fields are errors with a suggestion; a field of Calico's API the
netns lab cannot reproduce is refused by name, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import ip_interface
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

from ..errors import LabError, ResourceError

API_VERSIONS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
KINDS = ("BGPConfiguration", "BGPPeer", "Node", "IPPool", "BGPFilter")
DEFAULT_AS = 64512


@dataclass(frozen=True)
class PrefixAdvertisement:
    cidr: str
    communities: tuple[str, ...]  # community values ("65001:100" or "a:b:c"), names already resolved


@dataclass(frozen=True)
class BGPConfiguration:
    name: str
    as_number: int | None = None
    node_to_node_mesh_enabled: bool = True
    service_cluster_ips: tuple[str, ...] = ()
    service_external_ips: tuple[str, ...] = ()
    service_loadbalancer_ips: tuple[str, ...] = ()
    log_severity: str | None = None
    listen_port: int | None = None
    bind_mode: str | None = None  # None | "None" | "NodeIP"
    node_mesh_password: tuple[str, str] | None = None  # (secret name, key)
    node_mesh_max_restart_time: int | None = None  # seconds
    ignored_interfaces: tuple[str, ...] = ()
    prefix_advertisements: tuple[PrefixAdvertisement, ...] = ()
    normal_route_priority: int | None = None  # ipv4NormalRoutePriority (v3.32+)
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
    source_address: str | None = None  # "UseNodeIP" (default) | "None"
    port: int | None = None  # from peerIP "<ip>:<port>"
    local_as_number: int | None = None
    next_hop_mode: str | None = None  # Auto | Self | Keep
    password: tuple[str, str] | None = None  # (secret name, key)
    max_restart_time: int | None = None
    keepalive_time: int | None = None
    num_allowed_local_as: int | None = None
    ttl_security: int | None = None
    reachable_by: str | None = None
    filters: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def is_global(self) -> bool:
        """Global only when neither node nor nodeSelector is set (`all()` is not global)."""
        return not self.node and not self.node_selector


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ipv4_address: str | None = None  # CIDR form, e.g. 10.1.5.10/24; none: IPv4 BGP disabled on the node
    as_number: int | None = None
    route_reflector_cluster_id: str | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self):
        # Parsed once: the planner reads it for every pair of nodes.
        ip = str(ip_interface(self.ipv4_address).ip) if self.ipv4_address else None
        object.__setattr__(self, "_ip", ip)

    @property
    def ip(self) -> str | None:
        return self._ip  # type: ignore[attr-defined]

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
    allowed_uses: tuple[str, ...] = ("Workload", "Tunnel")
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class FilterRule:
    action: str  # Accept | Reject
    cidr: str | None = None
    match_operator: str | None = None  # Equal | NotEqual | In | NotIn
    prefix_min: int | None = None
    prefix_max: int | None = None
    source: str | None = None  # RemotePeers
    interface: str | None = None


@dataclass(frozen=True)
class BGPFilter:
    name: str
    export_v4: tuple[FilterRule, ...] = ()
    import_v4: tuple[FilterRule, ...] = ()
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class Secret:
    """A Kubernetes v1 Secret holding BGP passwords (calico-node reads them by secretKeyRef)."""

    name: str
    data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class ResourceSet:
    bgp_configurations: tuple[BGPConfiguration, ...] = ()
    bgp_peers: tuple[BGPPeer, ...] = ()
    nodes: tuple[Node, ...] = ()
    ip_pools: tuple[IPPool, ...] = ()
    bgp_filters: tuple[BGPFilter, ...] = ()
    secrets: tuple[Secret, ...] = ()

    def default_bgp_configuration(self) -> BGPConfiguration:
        for conf in self.bgp_configurations:
            if conf.name == "default":
                return conf
        return BGPConfiguration("default")

    def node_bgp_configuration(self, node: str) -> BGPConfiguration | None:
        """The per-node `node.<name>` BGPConfiguration, if any."""
        return next((c for c in self.bgp_configurations if c.name == f"node.{node}"), None)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"no Calico node '{name}' (nodes: {', '.join(n.name for n in self.nodes) or 'none'})")

    def bgp_filter(self, name: str) -> BGPFilter | None:
        return next((f for f in self.bgp_filters if f.name == name), None)

    def secret_value(self, ref: tuple[str, str], where: str) -> str:
        name, key = ref
        for secret in self.secrets:
            if secret.name == name and key in secret.data:
                return secret.data[key]
        raise LabError(f"{where}: password secretKeyRef names Secret '{name}' key '{key}', which is not among "
                       "the resources (add a v1 Secret with that key, e.g. stringData: {key: ...})")

    def merged(self, other: "ResourceSet") -> "ResourceSet":
        """`calicoctl apply` of `other` on top of this set: same kind and name replaces."""
        def merge(mine, theirs):
            names = {r.name for r in theirs}
            return tuple(r for r in mine if r.name not in names) + tuple(theirs)
        return ResourceSet(*(merge(getattr(self, f), getattr(other, f)) for f in _FIELDS))


_FIELDS = ("bgp_configurations", "bgp_peers", "nodes", "ip_pools", "bgp_filters", "secrets")
_BUCKET = {BGPConfiguration: 0, BGPPeer: 1, Node: 2, IPPool: 3, BGPFilter: 4, Secret: 5}


def decode_document(data: Mapping, source: str, index: int, line: int | None = None, *, version=None):
    """One already-parsed document (a LocMap keeps its lines) -> BGPConfiguration, BGPPeer, Node, IPPool,
    BGPFilter or Secret. `index` is 0-based (errors say "document index+1"); `version` (a CalicoVersion)
    refuses fields that release's API does not have."""
    from .decode import decode
    from .versions import parse_version

    return decode(data, source, index, line, parse_version(version) if isinstance(version, str) else version)


def parse_resources(text: str | bytes, source: str, *, version=None) -> ResourceSet:
    from ..yamlsrc import load_located_all

    documents = load_located_all(text, source, ResourceError)
    buckets: list[list] = [[] for _ in _FIELDS]
    for index, data in enumerate(documents):
        if isinstance(data, Mapping) and str(data.get("kind", "")).endswith("List") and "items" in data:
            items = data.get("items") or []
            lines = getattr(items, "item_lines", [])
            entries = [(item, lines[i] if i < len(lines) else None) for i, item in enumerate(items)]
        else:
            entries = [(data, getattr(data, "line", None))]
        for item, line in entries:
            resource = decode_document(item, source, index, line, version=version)
            bucket = buckets[_BUCKET[type(resource)]]
            bucket[:] = [r for r in bucket if r.name != resource.name] + [resource]
    return ResourceSet(*(tuple(b) for b in buckets))

def load_resources(paths: Iterable[str | Path], *, version=None) -> ResourceSet:
    result = ResourceSet()
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
        for file in files:
            try:
                text = file.read_bytes()  # bytes: the YAML reader names the line of a non-UTF-8 byte
            except OSError as exc:
                raise ResourceError(str(file), "", f"cannot read: {exc.strerror}") from None
            result = result.merged(parse_resources(text, str(file), version=version))
    return result


def with_bgp_configuration(rs: ResourceSet, **changes) -> ResourceSet:
    conf = replace(rs.default_bgp_configuration(), **changes)
    return replace(rs, bgp_configurations=(conf,) + tuple(c for c in rs.bgp_configurations if c.name != "default"))
