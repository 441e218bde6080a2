"""The topology model: immutable, typed, already validated.

Instances are built only by `lab.loader.load_topology`, which checks every
cross-reference, so code that receives a `Topology` can trust it: every link
endpoint exists, every address sits in its subnet, names are safe for command
lines and interface-name limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .names import NodeNames, k8s_node_name

SPINE = "spine"
LEAF = "leaf"
CONTROL_PLANE = "control-plane"
WORKER = "worker"

# How Calico is asked to peer; see README "Topology file format".
PEERING_MESH = "mesh"
PEERING_RACK_LEAF = "rack-leaf"
PEERING_ROUTE_REFLECTORS = "route-reflectors"
PEERING_EXTERNAL_RR = "external-rr"
# Reflectors behind a fabric: each rack's reflector nodes peer with their leaf, the rack's other
# nodes peer with their rack's reflectors (the rack-specific reflector design).
PEERING_RACK_REFLECTORS = "rack-reflectors"
PEERING_MODES = (PEERING_MESH, PEERING_RACK_LEAF, PEERING_ROUTE_REFLECTORS, PEERING_EXTERNAL_RR,
                 PEERING_RACK_REFLECTORS)
# Modes whose route reflectors are Calico nodes (calico.route_reflectors.nodes).
PEERING_WITH_REFLECTOR_NODES = (PEERING_ROUTE_REFLECTORS, PEERING_RACK_REFLECTORS)
# Modes where a node takes its rack leaf's AS.
PEERING_AS_PER_RACK = (PEERING_RACK_LEAF, PEERING_RACK_REFLECTORS)

RACK_LABEL = "rack"


def frozen_map(data: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True)
class Interface:
    name: str
    address: IPv4Interface


@dataclass(frozen=True)
class Router:
    name: str
    role: str  # spine | leaf
    asn: int
    router_id: IPv4Address
    interfaces: tuple[Interface, ...]
    # Accept equal-cost paths whose AS paths differ (spines in different ASes).
    multipath_relax: bool
    maximum_paths: int = 8

    def iface(self, name: str) -> Interface:
        for item in self.interfaces:
            if item.name == name:
                return item
        raise KeyError(f"{self.name} has no interface {name}")

    def iface_in(self, network: IPv4Network) -> Interface | None:
        for item in self.interfaces:
            if item.address.ip in network:
                return item
        return None


@dataclass(frozen=True)
class Endpoint:
    """One end of a link: a router interface, or a rack bridge (iface is None)."""

    node: str
    iface: str | None = None

    @property
    def is_bridge(self) -> bool:
        return self.iface is None

    @property
    def port(self) -> str:
        """The interface of a router end; asking a bridge end for one is a bug in the caller."""
        if self.iface is None:
            raise ValueError(f"{self.node} is a bridge end of a link: it has no interface")
        return self.iface

    def __str__(self) -> str:
        return self.node if self.iface is None else f"{self.node}:{self.iface}"


@dataclass(frozen=True)
class Link:
    a: Endpoint
    b: Endpoint

    @property
    def to_bridge(self) -> bool:
        return self.a.is_bridge or self.b.is_bridge

    def ends(self) -> tuple[Endpoint, Endpoint]:
        return (self.a, self.b)


@dataclass(frozen=True)
class Rack:
    name: str
    bridge: str
    subnet: IPv4Network
    leaf: str | None  # the rack's gateway router; None for a plain L2 segment
    gateway: IPv4Address | None  # the leaf's address on the rack subnet


@dataclass(frozen=True)
class Node:
    """A Kubernetes node. `name` follows kind's naming (control-plane, worker, worker2 ...)."""

    name: str
    role: str  # control-plane | worker
    rack: str
    ip: IPv4Interface
    labels: Mapping[str, str]
    asn: int | None  # explicit AS; None = resolved by the peering mode
    pods: int = 1


@dataclass(frozen=True)
class Host:
    """A machine outside the cluster; today only a dedicated BIRD route reflector."""

    name: str
    role: str  # route-reflector
    rack: str
    ip: IPv4Interface
    asn: int
    cluster_id: str


@dataclass(frozen=True)
class Cluster:
    name: str
    pod_subnet: IPv4Network
    service_subnet: IPv4Network
    kind_image: str
    nodes: tuple[Node, ...]

    def node(self, name: str) -> Node:
        for item in self.nodes:
            if item.name == name:
                return item
        raise KeyError(name)

    def k8s_name(self, node: Node | str) -> str:
        """Kubernetes (and Calico) node name (lab/names.py holds the scheme)."""
        return k8s_node_name(self.name, node if isinstance(node, str) else node.name)

    def names(self) -> NodeNames:
        """Short <-> Kubernetes names of the nodes, both ways."""
        return NodeNames(self.name, (n.name for n in self.nodes))


@dataclass(frozen=True)
class IPPoolSpec:
    name: str
    cidr: IPv4Network
    block_size: int = 26
    nat_outgoing: bool = True
    disabled: bool = False
    disable_bgp_export: bool = False
    node_selector: str = "all()"


@dataclass(frozen=True)
class RouteReflectors:
    nodes: tuple[str, ...] = ()
    cluster_id: str = "224.0.0.1"
    label: str = "route-reflector"


@dataclass(frozen=True)
class CalicoSettings:
    version: str
    manifest_url: str
    manifest_sha256: str
    peering: str
    # Extra fields for `BGPConfiguration default` spec, as Calico spells them (camelCase).
    bgp_configuration: Mapping
    ip_pools: tuple[IPPoolSpec, ...]
    route_reflectors: RouteReflectors
    # Extra resource files (paths resolved at load time), applied after the generated ones.
    resources: tuple[Path, ...] = ()
    # Lab choice, off by default: give every calico-node BIRD `hold time`/`keepalive time` from
    # fabric.timers (calico-node writes none; Calico has no knob for the mesh). README "Fidelity to Calico".
    lab_timers: bool = False
    # Lab choice, off by default (lab.gen turns it on for reflector families): on the netns
    # provider a route reflector's sessions to its clients are `passive on`, so only the client
    # connects and no connection collision costs BIRD's error wait (5..30 s). README "Scale".
    lab_passive_reflectors: bool = False


@dataclass(frozen=True)
class Timers:
    keepalive: int = 1
    hold: int = 3


@dataclass(frozen=True)
class Workloads:
    pods_per_node: int = 1
    image: str = "nicolaka/netshoot:v0.11"
    node_port: int = 30080


@dataclass(frozen=True)
class Topology:
    name: str
    description: str
    source: Path
    routers: tuple[Router, ...]
    links: tuple[Link, ...]
    racks: tuple[Rack, ...]
    cluster: Cluster
    hosts: tuple[Host, ...]
    calico: CalicoSettings
    workloads: Workloads
    timers: Timers = field(default_factory=Timers)
    vyos_version: str = "1.4"
    vyos_image: str = "vyos/vyos:1.4"

    def router(self, name: str) -> Router:
        for item in self.routers:
            if item.name == name:
                return item
        raise KeyError(name)

    def rack(self, name: str) -> Rack:
        for item in self.racks:
            if item.name == name:
                return item
        raise KeyError(name)

    def rack_of_bridge(self, bridge: str) -> Rack:
        for item in self.racks:
            if item.bridge == bridge:
                return item
        raise KeyError(bridge)

    def nodes_in(self, rack: str) -> tuple[Node, ...]:
        return tuple(n for n in self.cluster.nodes if n.rack == rack)

    def hosts_in(self, rack: str) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.rack == rack)

    def spines(self) -> tuple[Router, ...]:
        return tuple(r for r in self.routers if r.role == SPINE)

    def leaves(self) -> tuple[Router, ...]:
        return tuple(r for r in self.routers if r.role == LEAF)

    def router_links(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if not link.to_bridge)

    def peer_of(self, router: str, iface: str) -> Endpoint | None:
        """The far end of the link on router:iface."""
        for link in self.links:
            for near, far in ((link.a, link.b), (link.b, link.a)):
                if near.node == router and near.iface == iface:
                    return far
        return None

    def is_route_reflector(self, node: Node | str) -> bool:
        name = node if isinstance(node, str) else node.name
        return self.calico.peering in PEERING_WITH_REFLECTOR_NODES and name in self.calico.route_reflectors.nodes

    def node_asn(self, node: Node) -> int:
        """The AS a node ends up in: its own, else its rack leaf's under rack-leaf peering, else Calico's."""
        if node.asn is not None:
            return node.asn
        if self.calico.peering in PEERING_AS_PER_RACK:
            rack = self.rack(node.rack)
            if rack.leaf:
                return self.router(rack.leaf).asn
        default = self.calico.bgp_configuration.get("asNumber")
        return int(default) if default is not None else 64512
