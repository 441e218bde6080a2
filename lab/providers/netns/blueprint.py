"""Everything the netns provider will create, computed before anything is created.

Pure: topology + Calico resources in, a `Blueprint` out. The provider applies it
with pyroute2 and starts the daemons it lists; tests check it without root. The
Calico side goes through the same resources a user would `calicoctl apply`, then
through lab.calico's peering plan, IPAM plan and BIRD renderer.

Layout (one namespace per lab object; nothing is created in the host namespace):
- a router namespace per fabric router, interfaces named as in the topology;
- a bridge namespace per rack holding the rack's Linux bridge (kept out of the
  host so the host's br_netfilter/iptables never see lab traffic);
- a node namespace per Kubernetes node, uplink `eth0` on the rack bridge;
- a pod namespace per pod, `eth0` paired with a `cali*` interface on its node,
  /32 on the pod, default route via 169.254.1.1 answered by proxy ARP — Calico's
  dataplane;
- a host namespace per external route-reflector host.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from ipaddress import IPv4Interface
from types import MappingProxyType
from typing import Mapping

import yaml

from ... import model as m
from ...names import LEGACY_NS_PREFIX, namespace_prefix  # the namespace scheme (lab/names.py)
from ...calico.bird import BgpTimers, render_bird
from ...calico.ipam import IpamPlan
from ...calico.ipam_state import IpamState, initial_state, to_plan
from ...calico.peering import Session, plan_peering
from ...calico.resources import ResourceSet, load_resources, parse_resources
from ...calico.versions import felix_pod_route_metric, parse_version
from ...names import cali_iface, pod_name  # pod_name: also the loader's, for name clashes
from ...render.calico import render_calico
from ...fabric import PlanIndex
from ...render.frr import render_frr
from ...render.names import bridge_port as port_name
from ...render.rr_host import render_rr_hosts
from . import cpushare, timens  # pure parts only (offset_ns, nice_values)
from .neighbours import Neighbour, config_peers, lab_mac, plan_neighbours

ROUTER, BRIDGE, NODE, POD, HOST = "router", "bridge", "node", "pod", "host"
POD_GATEWAY = "169.254.1.1"  # Calico's fixed link-local next hop for pods
UPLINK = "eth0"
POD_NAMESPACE = "default"
# Felix's dataplane (felix/dataplane/linux routes and endpoint manager): the host end of every
# workload veth has this MAC, pod /32 routes are RTPROT_BOOT (so `ip route` shows
# `<ip> dev caliX scope link`), and from v3.32 they carry metric 1024 (the normal route priority).
CALI_MAC = "ee:ee:ee:ee:ee:ee"
RTPROT_BOOT = 3


@dataclass(frozen=True)
class Namespace:
    target: str  # the lab's name for it (router, node, pod, bridge, host name)
    netns: str  # the namespace's name on the host (carries the lab prefix)
    kind: str


@dataclass(frozen=True)
class Veth:
    ns_a: str
    if_a: str
    ns_b: str
    if_b: str
    mac_a: str | None = None  # fixed MAC of the ns_a end (Felix's ee:ee:ee:ee:ee:ee on cali*)
    mac_b: str | None = None  # fixed MAC of the ns_b end (neighbours.lab_mac; None on bridge ports)


@dataclass(frozen=True)
class Bridge:
    ns: str
    name: str
    ports: tuple[str, ...]


@dataclass(frozen=True)
class Address:
    ns: str
    ifname: str
    cidr: str


@dataclass(frozen=True)
class Route:
    ns: str
    dst: str
    gateway: str | None = None
    dev: str | None = None
    scope_link: bool = False
    proto: int | None = None  # route protocol number (3 = boot, Felix's); None: the netlink default
    metric: int | None = None


@dataclass(frozen=True)
class Pod:
    name: str
    node: str
    ip: str
    cali: str  # node-side interface


@dataclass(frozen=True)
class FrrDaemon:
    target: str
    ns: str
    zebra_conf: str
    bgpd_conf: str
    nice: int = 0  # CPU share by sessions (cpushare.py)


@dataclass(frozen=True)
class BirdDaemon:
    target: str
    ns: str
    config: str
    k8s_name: str | None  # Calico node name; None for an external RR host
    clock_offset_ns: int = 0  # its own clock phase (timens.py)
    nice: int = 0  # CPU share by sessions (cpushare.py)


@dataclass(frozen=True)
class Blueprint:
    lab: str
    prefix: str
    namespaces: tuple[Namespace, ...]
    veths: tuple[Veth, ...]
    bridges: tuple[Bridge, ...]
    addresses: tuple[Address, ...]
    routes: tuple[Route, ...]
    # Per namespace: sysctl key -> value, set inside that namespace only.
    sysctls: Mapping[str, Mapping[str, str]]
    frr: tuple[FrrDaemon, ...]
    bird: tuple[BirdDaemon, ...]
    pods: tuple[Pod, ...]
    resources_yaml: str
    sessions: Mapping[str, tuple[Session, ...]]  # Calico peering plan, by k8s node name
    ipam: IpamPlan = field(repr=False, default_factory=lambda: IpamPlan(MappingProxyType({})))
    ipam_state: IpamState = field(repr=False, default_factory=IpamState)
    # Permanent ARP entries (neighbours.py): set before the daemons start.
    neighbours: tuple[Neighbour, ...] = ()
    # (namespace, address) pairs a daemon talks to that stay dynamic (no lab interface owns them).
    dynamic_neighbours: tuple[tuple[str, str], ...] = ()

    def netns_of(self, target: str) -> str:
        for ns in self.namespaces:
            if ns.target == target:
                return ns.netns
        raise KeyError(target)

    @property
    def targets(self) -> Mapping[str, Namespace]:
        return MappingProxyType({ns.target: ns for ns in self.namespaces})


# Lab names are [a-z0-9-] (names.lab_name_problem) and so are object names: a '.' can appear
# in neither, so `fl-<lab>.` is a prefix no other lab's namespace can start with. The old
# `fl-<lab>-` let lab `x` own `fl-x-br-leaf0`, a namespace of lab `x-br`.
LEGACY_PREFIX = LEGACY_NS_PREFIX  # the scheme lives in lab/names.py with the other name schemes


def lab_prefix(lab: str) -> str:
    """Prefix of every namespace of a lab: two labs never share a name (lab/names.py)."""
    return namespace_prefix(lab)


_RENDERED: dict[int, tuple[m.Topology, str]] = {}


def _render_once(topo: m.Topology) -> str:
    """render_calico of this topology object, once (up needs it for the plan and for the
    datastore's seed; YAML emitting took seconds per call at 1,000 nodes)."""
    cached = _RENDERED.get(id(topo))
    if cached is None or cached[0] is not topo:
        _RENDERED.clear()  # one topology at a time: no growth in a long-lived process
        cached = _RENDERED[id(topo)] = (topo, render_calico(topo))
    return cached[1]


def calico_resources(topo: m.Topology) -> tuple[ResourceSet, str]:
    """The topology's Calico resources, exactly as rendered for users, plus its extra files
    (applied after them, as `calicoctl apply` would): the seed of a lab's datastore."""
    text = _render_once(topo)
    version = parse_version(topo.calico.version)
    rs = parse_resources(text, f"{topo.name}/calico/resources.yaml", version=version)
    if topo.calico.resources:
        rs = rs.merged(load_resources(topo.calico.resources, version=version))
    return rs, text


def lab_timers(topo: m.Topology) -> BgpTimers | None:
    """The BIRD timers the lab adds to calico-node's config: only under `calico.lab_timers: true`."""
    return BgpTimers(hold=topo.timers.hold, keepalive=topo.timers.keepalive) if topo.calico.lab_timers else None


def seed_documents(topo: m.Topology) -> list[dict]:
    """The documents a lab's datastore starts with: the rendered resources, then each extra
    `calico.resources` file in order (same kind and name: the later one wins, as with
    `calicoctl apply`). `calico_resources` has validated all of them strictly."""
    docs: dict[tuple[str, str], dict] = {}
    texts = [_render_once(topo)] + [Path(p).read_text() for p in topo.calico.resources]
    for text in texts:
        # Already validated strictly by calico_resources: libyaml's loader where there is one
        # (PyYAML's pure-Python one took ~5 s for a 1,000-node lab's resources).
        for data in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if not data:
                continue
            items = data.get("items") if str(data.get("kind", "")).endswith("List") else None
            for item in items if items is not None else [data]:
                docs[(item["kind"], item["metadata"]["name"])] = item
    return list(docs.values())


def initial_pods(topo: m.Topology) -> list[tuple[str, str]]:
    """(pod name, Calico node name) of the lab's first pods, in the order IPAM serves them:
    nodes by Calico name (so each node's first block is the one `plan_ipam` predicts)."""
    nodes = sorted(topo.cluster.nodes, key=lambda n: topo.cluster.k8s_name(n))
    return [(pod_name(n.name, i), topo.cluster.k8s_name(n)) for n in nodes for i in range(n.pods)]


def build_blueprint(topo: m.Topology, lab: str | None = None, rs: ResourceSet | None = None,
                    ipam_state: IpamState | None = None, prefix: str | None = None) -> Blueprint:
    """Everything the lab is made of for these resources and IPAM state (by default: the
    topology's own resources and its first pods, as `up` seeds the datastore). `prefix`: the
    namespace prefix of a lab that exists (from its state), else the current scheme."""
    lab = lab or topo.name
    prefix = prefix or lab_prefix(lab)
    if rs is None:
        rs, resources_yaml = calico_resources(topo)
    else:
        resources_yaml = ""
    if ipam_state is None:
        ipam_state = initial_state(rs, initial_pods(topo))
    version = parse_version(topo.calico.version)
    sessions = plan_peering(rs, version)
    if topo.calico.lab_passive_reflectors:
        sessions = passive_reflectors(sessions)
    # The fabric side (a leaf's rack neighbours, a reflector host's clients) follows this plan.
    plan_index = PlanIndex.build(rs, sessions)
    ipam = to_plan(ipam_state, rs)
    short = {topo.cluster.k8s_name(n): n.name for n in topo.cluster.nodes}
    pods_of: dict[str, list] = {}
    for alloc in ipam_state.pods:
        pods_of.setdefault(short.get(alloc.node, alloc.node), []).append(alloc)
    timers = lab_timers(topo)
    pod_metric = felix_pod_route_metric(version)

    namespaces: list[Namespace] = []
    veths: list[Veth] = []
    bridges: list[Bridge] = []
    addresses: list[Address] = []
    routes: list[Route] = []
    sysctls: dict[str, dict[str, str]] = {}
    frr: list[FrrDaemon] = []
    bird: list[BirdDaemon] = []
    pods: list[Pod] = []
    pod_neighbours: list[Neighbour] = []

    def ns(target: str, kind: str) -> str:
        name = prefix + target
        namespaces.append(Namespace(target, name, kind))
        sysctls[name] = _base_sysctls(kind)
        return name

    # Racks first: their bridges must exist before ports are attached.
    rack_ports: dict[str, list[str]] = {r.name: [] for r in topo.racks}
    bridge_ns = {r.name: ns(r.bridge, BRIDGE) for r in topo.racks}

    for router in topo.routers:
        rns = ns(router.name, ROUTER)
        for iface in router.interfaces:
            addresses.append(Address(rns, iface.name, str(iface.address)))
        cfg = render_frr(topo, router, plan_index)
        frr.append(FrrDaemon(router.name, rns, cfg.zebra, cfg.bgpd))
    for link in topo.links:
        if link.to_bridge:
            r_end, b_end = (link.a, link.b) if link.b.is_bridge else (link.b, link.a)
            rack = topo.rack_of_bridge(b_end.node)
            port = port_name(r_end.node, r_end.port)
            rns = prefix + r_end.node
            veths.append(Veth(rns, r_end.port, bridge_ns[rack.name], port, mac_a=lab_mac(prefix, rns, r_end.port)))
            rack_ports[rack.name].append(port)
        else:
            a_ns, b_ns = prefix + link.a.node, prefix + link.b.node
            veths.append(Veth(a_ns, link.a.port, b_ns, link.b.port, mac_a=lab_mac(prefix, a_ns, link.a.port),
                              mac_b=lab_mac(prefix, b_ns, link.b.port)))

    def attach(target: str, rack: m.Rack, ip: IPv4Interface) -> str:
        tns = ns(target, NODE if target in node_names else HOST)
        port = port_name(target)
        veths.append(Veth(tns, UPLINK, bridge_ns[rack.name], port, mac_a=lab_mac(prefix, tns, UPLINK)))
        rack_ports[rack.name].append(port)
        addresses.append(Address(tns, UPLINK, str(ip)))
        if rack.gateway is not None:
            routes.append(Route(tns, "default", gateway=str(rack.gateway)))
        else:
            # Proxy ARP answers for the pods' gateway only if this node routes it
            # through another interface; without a default route, give it one.
            routes.append(Route(tns, f"{POD_GATEWAY}/32", dev=UPLINK, scope_link=True))
        return tns

    node_names = {n.name for n in topo.cluster.nodes}
    for node in topo.cluster.nodes:
        rack = topo.rack(node.rack)
        nns = attach(node.name, rack, node.ip)
        k8s = topo.cluster.k8s_name(node)
        config = render_bird(rs, k8s, plan=sessions, ipam=ipam, version=version, lab_timers=timers)
        bird.append(BirdDaemon(node.name, nns, config, k8s, timens.offset_ns(len(bird))))
        for alloc in pods_of.get(node.name, ()):
            name, ip = alloc.name, alloc.ip
            cali = cali_iface(POD_NAMESPACE, name)
            pns = ns(name, POD)
            pods.append(Pod(name, node.name, ip, cali))
            pod_mac = lab_mac(prefix, pns, UPLINK)
            veths.append(Veth(nns, cali, pns, UPLINK, mac_a=CALI_MAC, mac_b=pod_mac))
            # Felix's permanent entry for a local pod, and the pod's for its gateway (neighbours.py).
            pod_neighbours += [Neighbour(nns, cali, ip, pod_mac), Neighbour(pns, UPLINK, POD_GATEWAY, CALI_MAC)]
            addresses.append(Address(pns, UPLINK, f"{ip}/32"))
            routes.append(Route(pns, f"{POD_GATEWAY}/32", dev=UPLINK, scope_link=True))
            routes.append(Route(pns, "default", gateway=POD_GATEWAY, dev=UPLINK))
            routes.append(Route(nns, f"{ip}/32", dev=cali, scope_link=True, proto=RTPROT_BOOT,
                                metric=pod_metric))
            # The node answers ARP for 169.254.1.1 on the pod's link, at once.
            sysctls[nns].update({f"net.ipv4.conf.{cali}.proxy_arp": "1",
                                 f"net.ipv4.neigh.{cali}.proxy_delay": "0"})

    host_configs = render_rr_hosts(topo, plan_index)
    for host in topo.hosts:
        hns = attach(host.name, topo.rack(host.rack), host.ip)
        bird.append(BirdDaemon(host.name, hns, host_configs[f"bird/{host.name}.conf"], None,
                               timens.offset_ns(len(bird))))

    frr, bird = cpushare.assign(frr, bird)
    for rack in topo.racks:
        bridges.append(Bridge(bridge_ns[rack.name], rack.bridge, tuple(rack_ports[rack.name])))
    neighbours, dynamic = _session_neighbours(veths, addresses, routes, frr, bird)

    return Blueprint(
        lab=lab, prefix=prefix, namespaces=tuple(namespaces), veths=tuple(veths), bridges=tuple(bridges),
        addresses=tuple(addresses), routes=tuple(routes),
        sysctls=MappingProxyType({k: MappingProxyType(v) for k, v in sysctls.items()}),
        frr=tuple(frr), bird=tuple(bird), pods=tuple(pods), resources_yaml=resources_yaml,
        sessions=MappingProxyType(dict(sessions)), ipam=ipam, ipam_state=ipam_state,
        neighbours=tuple(neighbours + pod_neighbours), dynamic_neighbours=tuple(dynamic),
    )


def _session_neighbours(veths, addresses, routes, frr, bird):
    """Entries for every address a daemon's config talks to and every static gateway."""
    macs = {}
    for v in veths:
        if v.mac_a:
            macs[(v.ns_a, v.if_a)] = v.mac_a
        if v.mac_b:
            macs[(v.ns_b, v.if_b)] = v.mac_b
    talks_to: dict[str, list[str]] = {}
    for d in frr:
        talks_to.setdefault(d.ns, []).extend(config_peers(d.bgpd_conf))
    for d in bird:
        talks_to.setdefault(d.ns, []).extend(config_peers(d.config))
    for r in routes:
        if r.gateway and r.gateway != POD_GATEWAY:
            talks_to.setdefault(r.ns, []).append(r.gateway)
    return plan_neighbours(addresses, macs, talks_to)


def passive_reflectors(sessions: Mapping[str, tuple[Session, ...]]) -> dict[str, tuple[Session, ...]]:
    """The lab choice `calico.lab_passive_reflectors`: a reflector waits for its clients to
    connect (`passive on` on its rr-client sessions), so the two ends never collide."""
    return {node: tuple(replace(s, passive=True) if s.rr_client else s for s in items)
            for node, items in sessions.items()}


def _base_sysctls(kind: str) -> dict[str, str]:
    values = {
        # Lab namespaces are IPv4-only: no IPv6 DAD/RA chatter in captures.
        "net.ipv6.conf.all.disable_ipv6": "1",
        "net.ipv6.conf.default.disable_ipv6": "1",
    }
    if kind in (ROUTER, NODE, HOST):
        values.update({
            "net.ipv4.ip_forward": "1",
            # Hash on L4 ports so different flows between two pods can take different spines.
            "net.ipv4.fib_multipath_hash_policy": "1",
            # Asymmetric ECMP paths (request via one spine, reply via the other) are normal here.
            "net.ipv4.conf.all.rp_filter": "0",
            "net.ipv4.conf.default.rp_filter": "0",
            # Skip a next hop whose link is down at once, as a router does, instead of
            # hashing flows onto it until the routing daemon rewrites the route.
            "net.ipv4.conf.all.ignore_routes_with_linkdown": "1",
            "net.ipv4.conf.default.ignore_routes_with_linkdown": "1",
        })
    return values
