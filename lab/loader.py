"""Load a topology file into the typed model, or fail with file:line, field and problem.

Nothing touches the host here; providers only ever see a validated `Topology`.
The order of checks matters only for which error a user sees first: syntax and
field-level problems, then cross-references, then whole-topology invariants.
"""

from __future__ import annotations

import json

from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_interface, ip_network, ip_address
from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

from . import model as m
from . import versions
from .calico.versions import parse_version
from .errors import LabError, TopologyError
from .clashes import check_name_clashes
from .names import iface_name_problem, lab_name_problem, label_problem, object_name_problem
from .compact import expand as expand_compact
from .yamlsrc import Fields, LocList, LocMap, load_located

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY_DIR = REPO_ROOT / "topologies"
CALICO_DIR = REPO_ROOT / "calico"
DEFAULT_TOPOLOGY = "calico-bgp-rr"

ASN_MIN, ASN_MAX = 1, 4294967295
# Pinned in lab/versions.py (where each pin comes from is written there).
CALICO_DEFAULT_VERSION = versions.CALICO_VERSION
KIND_DEFAULT_IMAGE = versions.KIND_NODE_IMAGE
VYOS_VERSIONS = ("1.2", "1.3", "1.4", "1.5")
VYOS_DEFAULT_VERSION = "1.5"
MAX_BRIDGE_PORTS = 1023  # Linux BR_MAX_PORTS (1024) less the reserved port 0


def resolve_topology_path(name_or_path: str | Path | None) -> Path:
    """A path to an existing file, or the name of a file in topologies/ (with or without .yaml)."""
    value = str(name_or_path or DEFAULT_TOPOLOGY)
    path = Path(value)
    if path.is_file():
        return path
    for candidate in (TOPOLOGY_DIR / value, TOPOLOGY_DIR / f"{value}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml")))
    raise TopologyError(value, "", f"no such topology file or name (known names: {known})")


def load_topology(name_or_path: str | Path | None = None, *, resource_dir: Path | None = None,
                  lenient_resources: bool = False) -> m.Topology:
    """`resource_dir`: where relative `calico.resources` files are (default: next to the file);
    `lenient_resources`: a missing one is skipped (a running lab's saved copy of its topology,
    whose resources are in the lab's datastore already)."""
    path = resolve_topology_path(name_or_path)
    builder = _Builder(path, resource_dir, lenient_resources)
    # The compact form (node counts, generated racks and fabric) becomes the hand-written form
    # first, so generated entries pass every check below with the line that generated them.
    return builder.build(expand_compact(load_located(path, TopologyError), builder.file))


class _Builder:
    def __init__(self, path: Path, resource_dir: Path | None = None, lenient_resources: bool = False):
        self.path = path
        self.file = _display(path)
        self.resource_dir = Path(resource_dir) if resource_dir else path.parent
        self.lenient_resources = lenient_resources
        # multipath_relax as written (None: not given), until resolve_multipath decides it.
        self.relax_given: dict[str, bool | None] = {}

    # -- helpers ---------------------------------------------------------------------------

    def fields(self, data: Any, where: str, line: int | None = None) -> Fields:
        return Fields(data, where, self.file, TopologyError, line)

    def fail(self, where: str, problem: str, line: int | None) -> NoReturn:
        raise TopologyError(self.file, where, problem, line)

    def name(self, value: Any, where: str, line: int | None) -> str:
        problem = object_name_problem(value)
        if problem:
            self.fail(where, problem, line)
        return value

    def optional(self, f: Fields, key: str, kind: type, check: Callable[[Fields, str, Any], T]) -> T | None:
        """An optional field, checked by `check` (asn_value, network_value) when it is there."""
        value = f.opt(key, kind)
        return None if value is None else check(f, key, value)

    def asn(self, f: Fields, key: str) -> int:
        return self.asn_value(f, key, f.req(key, int))

    def asn_value(self, f: Fields, key: str, value: int) -> int:
        if not ASN_MIN <= value <= ASN_MAX:
            f.fail(key, f"AS number {value} is out of range ({ASN_MIN}..{ASN_MAX})")
        return value

    def network(self, f: Fields, key: str) -> IPv4Network:
        return self.network_value(f, key, f.req(key, str))

    def network_value(self, f: Fields, key: str, value: str) -> IPv4Network:
        try:
            net = ip_network(value, strict=True)
        except ValueError as exc:
            f.fail(key, f"'{value}' is not a valid IPv4 network ({exc})")
        if not isinstance(net, IPv4Network):
            f.fail(key, f"'{value}' is not IPv4 (only IPv4 labs are supported)")
        return net

    def ipv4(self, value: Any, f: Fields, key: str) -> IPv4Address:
        try:
            addr = ip_address(str(value))
        except ValueError:
            f.fail(key, f"'{value}' is not a valid IPv4 address")
        if not isinstance(addr, IPv4Address):
            f.fail(key, f"'{value}' is not IPv4")
        return addr

    # -- top level -------------------------------------------------------------------------

    def build(self, doc: Any) -> m.Topology:
        top = self.fields(doc, "")
        name = top.req("name", str)
        problem = lab_name_problem(name)
        if problem:
            top.fail("name", problem)
        description = top.opt("description", str, "")
        fabric = top.opt("fabric", dict, LocMap())
        racks_doc = top.req("racks", dict)
        cluster_doc = top.req("cluster", dict)
        hosts_doc = top.opt("hosts", dict, LocMap())
        calico_doc = top.opt("calico", dict, LocMap())
        workloads_doc = top.opt("workloads", dict, LocMap())
        top.done()

        ff = self.fields(fabric, "fabric", top.line("fabric"))
        routers_doc = ff.opt("routers", dict, LocMap())
        links_doc = ff.opt("links", list, LocList())
        vyos_version = str(ff.opt("vyos_version", (str, float), VYOS_DEFAULT_VERSION))
        if vyos_version not in VYOS_VERSIONS:
            ff.fail("vyos_version", f"'{vyos_version}' is not supported (use one of: {', '.join(VYOS_VERSIONS)})")
        vyos_image = ff.opt("vyos_image", str, f"vyos/vyos:{vyos_version}")
        timers = self.timers(ff.opt("timers", dict, None), ff)
        ff.done()

        routers = self.routers(routers_doc, ff)
        racks_partial = self.racks(racks_doc, top)
        check_name_clashes(self.file, routers, racks_partial, routers_doc, racks_doc)
        links = self.links(links_doc, ff, routers, racks_partial)
        racks = self.rack_gateways(racks_partial, routers, links, racks_doc)
        calico_f = self.fields(calico_doc, "calico", top.line("calico"))
        peering = calico_f.opt("peering", str, m.PEERING_MESH)
        if peering not in m.PEERING_MODES:
            calico_f.fail("peering", f"'{peering}' is not a peering mode (use one of: {', '.join(m.PEERING_MODES)})")
        workloads = self.workloads(workloads_doc, top)
        cluster = self.cluster(cluster_doc, top, name, racks, peering, workloads.pods_per_node)
        hosts = self.hosts(hosts_doc, top, racks)
        calico = self.calico(calico_f, peering, cluster, hosts, racks)

        routers = self.resolve_multipath(routers, links, routers_doc)
        topo = m.Topology(
            name=name, description=description, source=self.path, routers=routers, links=links,
            racks=racks, cluster=cluster, hosts=hosts, calico=calico, workloads=workloads,
            timers=timers, vyos_version=vyos_version, vyos_image=vyos_image,
        )
        self.check_addresses(topo, routers_doc, racks_doc, cluster_doc, hosts_doc)
        self.check_bridge_ports(topo, racks_doc)
        check_name_clashes(self.file, topo.routers, topo.racks, routers_doc, racks_doc, topo.cluster, cluster_doc,
                           topo.hosts, hosts_doc)
        return topo

    def timers(self, doc: Any, parent: Fields) -> m.Timers:
        if doc is None:
            return m.Timers()
        f = self.fields(doc, "fabric.timers", parent.line("timers"))
        keepalive = f.opt("keepalive", int, 1)
        hold = f.opt("hold", int, 3)
        f.done()
        if not 1 <= keepalive < hold <= 65535 or hold < 3:
            f.fail("hold", f"need 1 <= keepalive < hold and hold >= 3 (got keepalive {keepalive}, hold {hold})")
        return m.Timers(keepalive=keepalive, hold=hold)

    # -- fabric ----------------------------------------------------------------------------

    def routers(self, doc: LocMap, parent: Fields) -> tuple[m.Router, ...]:
        out = []
        for rname, rdoc in doc.items():
            where = f"fabric.routers.{rname}"
            self.name(rname, where, doc.key_line(rname))
            f = self.fields(rdoc, where, doc.key_line(rname))
            role = f.req("role", str)
            if role not in (m.SPINE, m.LEAF):
                f.fail("role", f"'{role}' is not a router role (use spine or leaf)")
            asn = self.asn(f, "asn")
            ifaces_doc = f.req("interfaces", dict)
            interfaces = []
            for iname, addr in ifaces_doc.items():
                iwhere = f"{where}.interfaces.{iname}"
                iline = ifaces_doc.key_line(iname)
                problem = iface_name_problem(iname)
                if problem:
                    self.fail(iwhere, problem, iline)
                try:
                    address = ip_interface(str(addr))
                except ValueError:
                    self.fail(iwhere, f"'{addr}' is not an address with prefix length (like 10.1.10.1/24)", iline)
                if not isinstance(address, IPv4Interface) or "/" not in str(addr):
                    self.fail(iwhere, f"'{addr}' must be an IPv4 address with prefix length (like 10.1.10.1/24)", iline)
                if address.network.prefixlen < 31 and address.ip in (address.network.network_address,
                                                                     address.network.broadcast_address):
                    self.fail(iwhere, f"{addr} is the network or broadcast address of its subnet", iline)
                interfaces.append(m.Interface(iname, address))
            if not interfaces:
                f.fail("interfaces", "a router needs at least one interface")
            router_id = f.opt("router_id", str)
            relax = f.opt("multipath_relax", bool)
            max_paths = f.opt("maximum_paths", int, 8)
            if not 1 <= max_paths <= 64:
                f.fail("maximum_paths", f"{max_paths} is out of range (1..64)")
            f.done()
            rid = self.ipv4(router_id, f, "router_id") if router_id else None
            # Placeholder router ID and multipath-relax; resolved once links are known (the
            # rack-facing address wins; relax where the eBGP neighbours' ASes differ).
            self.relax_given[rname] = relax
            out.append(m.Router(rname, role, asn, rid or IPv4Address(0), tuple(interfaces),
                                multipath_relax=bool(relax), maximum_paths=max_paths))
        return tuple(out)

    def links(self, doc: LocList, parent: Fields, routers, racks) -> tuple[m.Link, ...]:
        by_name = {r.name: r for r in routers}
        bridges = {r.bridge for r in racks}
        used: dict[str, int] = {}
        out = []
        for index, item in enumerate(doc):
            where = f"fabric.links[{index}]"
            line = doc.item_line(index)
            if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                self.fail(where, "a link is a list of two endpoints, like [spine0:eth1, leaf0:eth1] or [leaf0:eth3, br-leaf0]", line)
            ends = []
            for text in item:
                if ":" in text:
                    node, iface = text.split(":", 1)
                    if node in bridges:
                        self.fail(where, f"'{text}': a bridge endpoint is written without an interface ('{node}')", line)
                    if node not in by_name:
                        self.fail(where, f"unknown router '{node}' in endpoint '{text}' (routers: {', '.join(by_name) or 'none'})", line)
                    if iface not in {i.name for i in by_name[node].interfaces}:
                        self.fail(where, f"router '{node}' has no interface '{iface}' (it has: {', '.join(i.name for i in by_name[node].interfaces)})", line)
                    ends.append(m.Endpoint(node, iface))
                else:
                    if text in by_name:
                        self.fail(where, f"'{text}' is a router: name its interface, like {text}:eth1", line)
                    if text not in bridges:
                        self.fail(where, f"unknown bridge '{text}' (rack bridges: {', '.join(sorted(bridges)) or 'none'})", line)
                    ends.append(m.Endpoint(text))
            a, b = ends
            if a.is_bridge and b.is_bridge:
                self.fail(where, "a link between two bridges is not supported: one end must be a router interface", line)
            if a == b or (not a.is_bridge and not b.is_bridge and a.node == b.node):
                self.fail(where, f"link connects {a.node} to itself", line)
            for end in ends:
                if end.is_bridge:
                    continue
                if str(end) in used:
                    self.fail(where, f"interface {end} is already used by fabric.links[{used[str(end)]}]", line)
                used[str(end)] = index
            if not a.is_bridge and not b.is_bridge:
                ia, ib = by_name[a.node].iface(a.iface), by_name[b.node].iface(b.iface)
                if ia.address.network != ib.address.network:
                    self.fail(where, f"{a} ({ia.address}) and {b} ({ib.address}) are not in the same subnet", line)
            else:
                r_end, br_end = (a, b) if b.is_bridge else (b, a)
                rack = next(r for r in racks if r.bridge == br_end.node)
                iface = by_name[r_end.node].iface(r_end.iface)
                if iface.address.ip not in rack.subnet:
                    self.fail(where, f"{r_end} ({iface.address}) is not in the subnet {rack.subnet} of rack {rack.name} ({rack.bridge})", line)
            out.append(m.Link(a, b))
        for router in routers:
            for iface in router.interfaces:
                if f"{router.name}:{iface.name}" not in used:
                    self.fail(f"fabric.routers.{router.name}.interfaces.{iface.name}",
                              "interface is not connected by any link in fabric.links", parent.line("routers"))
        return tuple(out)

    def resolve_multipath(self, routers, links, doc: LocMap) -> tuple[m.Router, ...]:
        """Fill in router IDs and the multipath-relax invariant."""
        out = []
        for router in routers:
            where = f"fabric.routers.{router.name}"
            line = doc.key_line(router.name)
            rid = router.router_id
            if int(rid) == 0:
                # The rack-facing address (eth3 in the reference lab) is unique per router; spines use their first.
                bridged = [e.iface for l in links for e in l.ends() if e.node == router.name and l.to_bridge]
                rid = (router.iface(bridged[0]) if bridged else router.interfaces[0]).address.ip
            neighbor_ases = set()
            for link in links:
                if link.to_bridge:
                    continue
                for near, far in ((link.a, link.b), (link.b, link.a)):
                    if near.node == router.name:
                        neighbor_ases.add(next(r for r in routers if r.name == far.node).asn)
            needs_relax = len(neighbor_ases - {router.asn}) > 1
            relax = self.relax_given.get(router.name, router.multipath_relax)
            if relax is False and needs_relax:
                self.fail(f"{where}.multipath_relax",
                          f"its eBGP neighbours are in different ASes ({', '.join(map(str, sorted(neighbor_ases)))}): "
                          "ECMP across them needs multipath-relax; remove 'multipath_relax: false'", line)
            out.append(m.Router(router.name, router.role, router.asn, rid, router.interfaces,
                                multipath_relax=needs_relax if relax is None else relax,
                                maximum_paths=router.maximum_paths))
        return tuple(out)

    # -- racks -----------------------------------------------------------------------------

    def racks(self, doc: LocMap, top: Fields) -> tuple[m.Rack, ...]:
        out = []
        seen_bridges: dict[str, str] = {}
        if not doc:
            top.fail("racks", "at least one rack (an L2 segment with a bridge) is required")
        for rname, rdoc in doc.items():
            where = f"racks.{rname}"
            self.name(rname, where, doc.key_line(rname))
            f = self.fields(rdoc, where, doc.key_line(rname))
            bridge = f.req("bridge", str)
            problem = iface_name_problem(bridge)
            if problem:
                f.fail("bridge", problem)
            if bridge in seen_bridges:
                f.fail("bridge", f"bridge '{bridge}' is already used by rack {seen_bridges[bridge]}")
            seen_bridges[bridge] = rname
            subnet = self.network(f, "subnet")
            leaf = f.opt("leaf", str)
            f.done()
            out.append(m.Rack(rname, bridge, subnet, leaf, None))
        return tuple(out)

    def rack_gateways(self, racks, routers, links, doc: LocMap) -> tuple[m.Rack, ...]:
        by_name = {r.name: r for r in routers}
        out = []
        for rack in racks:
            gateway = None
            line = doc.key_line(rack.name)
            if rack.leaf is not None:
                where = f"racks.{rack.name}.leaf"
                if rack.leaf not in by_name:
                    self.fail(where, f"unknown router '{rack.leaf}'", line)
                if by_name[rack.leaf].role != m.LEAF:
                    self.fail(where, f"'{rack.leaf}' is a {by_name[rack.leaf].role}, not a leaf", line)
                attached = [e for l in links if any(x.node == rack.bridge for x in l.ends())
                            for e in l.ends() if e.node == rack.leaf]
                if not attached:
                    self.fail(where, f"leaf '{rack.leaf}' has no link to the rack bridge '{rack.bridge}' in fabric.links", line)
                gateway = by_name[rack.leaf].iface(attached[0].iface).address.ip
            out.append(m.Rack(rack.name, rack.bridge, rack.subnet, rack.leaf, gateway))
        return tuple(out)

    # -- cluster ---------------------------------------------------------------------------

    def cluster(self, doc: LocMap, top: Fields, lab_name: str, racks, peering: str, pods_default: int) -> m.Cluster:
        f = self.fields(doc, "cluster", top.line("cluster"))
        cname = f.opt("name", str, lab_name)
        problem = lab_name_problem(cname)
        if problem:
            f.fail("name", problem)
        pod_subnet = self.optional(f, "pod_subnet", str, self.network_value) or IPv4Network("10.244.0.0/16")
        service_subnet = self.optional(f, "service_subnet", str, self.network_value) or IPv4Network("10.96.0.0/16")
        kind_image = f.opt("kind_image", str, KIND_DEFAULT_IMAGE)
        nodes_doc = f.req("nodes", dict)
        f.done()
        if pod_subnet.overlaps(service_subnet):
            f.fail("service_subnet", f"{service_subnet} overlaps pod_subnet {pod_subnet}")
        rack_by_name = {r.name: r for r in racks}
        nodes = []
        counts = {m.CONTROL_PLANE: 0, m.WORKER: 0}
        for nname, ndoc in nodes_doc.items():
            where = f"cluster.nodes.{nname}"
            nline = nodes_doc.key_line(nname)
            self.name(nname, where, nline)
            nf = self.fields(ndoc, where, nline)
            role = nf.opt("role", str, m.WORKER)
            if role not in counts:
                nf.fail("role", f"'{role}' is not a node role (use control-plane or worker)")
            counts[role] += 1
            # kind names node containers by role and order; both providers use those names.
            expected = role if counts[role] == 1 else f"{role}{counts[role]}"
            if nname != expected:
                self.fail(where, f"kind names this {role} node '{expected}' (nodes are named by role and order: "
                          "control-plane, control-plane2, ..., worker, worker2, ...)", nline)
            rack_name = nf.req("rack", str)
            if rack_name not in rack_by_name:
                nf.fail("rack", f"unknown rack '{rack_name}' (racks: {', '.join(rack_by_name)})")
            rack = rack_by_name[rack_name]
            ip = self.host_ip(nf, "ip", rack)
            labels_doc = nf.opt("labels", dict, {})
            for key, value in labels_doc.items():
                problem = label_problem(key, value)
                if problem:
                    nf.fail("labels", problem)
            labels = {m.RACK_LABEL: rack_name, **labels_doc}
            asn = self.optional(nf, "asn", int, self.asn_value)
            pods = nf.opt("pods", int, pods_default)
            if not 0 <= pods <= 16:
                nf.fail("pods", f"{pods} is out of range (0..16)")
            nf.done()
            nodes.append(m.Node(nname, role, rack_name, ip, m.frozen_map(labels), asn, pods=pods))
        if counts[m.CONTROL_PLANE] == 0:
            f.fail("nodes", "a cluster needs one control-plane node (role: control-plane)")
        return m.Cluster(cname, pod_subnet, service_subnet, kind_image, tuple(nodes))

    def host_ip(self, f: Fields, key: str, rack: m.Rack) -> IPv4Interface:
        raw = str(f.req(key, str))
        try:
            ip = ip_interface(raw) if "/" in raw else IPv4Interface(f"{raw}/{rack.subnet.prefixlen}")
        except ValueError:
            f.fail(key, f"'{raw}' is not a valid IPv4 address")
        if not isinstance(ip, IPv4Interface):
            f.fail(key, f"'{raw}' is not IPv4")
        if ip.ip not in rack.subnet or ip.network != rack.subnet:
            f.fail(key, f"{raw} is outside the subnet {rack.subnet} of rack {rack.name}")
        if ip.ip in (rack.subnet.network_address, rack.subnet.broadcast_address):
            f.fail(key, f"{raw} is the network or broadcast address of {rack.subnet}")
        return ip

    def hosts(self, doc: LocMap, top: Fields, racks) -> tuple[m.Host, ...]:
        rack_by_name = {r.name: r for r in racks}
        out = []
        for hname, hdoc in doc.items():
            where = f"hosts.{hname}"
            self.name(hname, where, doc.key_line(hname))
            f = self.fields(hdoc, where, doc.key_line(hname))
            role = f.opt("role", str, "route-reflector")
            if role != "route-reflector":
                f.fail("role", f"'{role}' is not a host role (supported: route-reflector)")
            rack_name = f.req("rack", str)
            if rack_name not in rack_by_name:
                f.fail("rack", f"unknown rack '{rack_name}' (racks: {', '.join(rack_by_name)})")
            ip = self.host_ip(f, "ip", rack_by_name[rack_name])
            asn = self.asn(f, "asn")
            cluster_id = str(self.ipv4(f.opt("cluster_id", str, "1.0.0.1"), f, "cluster_id"))
            f.done()
            out.append(m.Host(hname, role, rack_name, ip, asn, cluster_id))
        return tuple(out)

    # -- calico ----------------------------------------------------------------------------

    def calico(self, f: Fields, peering: str, cluster: m.Cluster, hosts, racks) -> m.CalicoSettings:
        version = f.opt("version", str, CALICO_DEFAULT_VERSION)
        try:
            parse_version(version)
        except LabError as exc:
            f.fail("version", str(exc))
        minor = versions.calico_minor(version)
        if minor is None:
            f.fail("version", f"'{version}' is not a Calico release (e.g. {versions.CALICO_VERSION})")
        manifest_url = f.opt("manifest_url", str, "")
        if not manifest_url:
            if minor < versions.CALICO_MANIFEST_SINCE:
                f.fail("version", f"Calico {version} has no manifests/calico.yaml at its tag (it exists from "
                       f"v{versions.CALICO_MANIFEST_SINCE[0]}.{versions.CALICO_MANIFEST_SINCE[1]}.0): use "
                       f"{versions.CALICO_VERSION}, or give calico.manifest_url")
            manifest_url = versions.calico_manifest_url(version)
        manifest_sha256 = f.opt("manifest_sha256", str, "")
        if manifest_sha256 and not (len(manifest_sha256) == 64 and all(c in "0123456789abcdef" for c in manifest_sha256)):
            f.fail("manifest_sha256", "expected 64 lower-case hex digits")
        bgp_conf = f.opt("bgp_configuration", dict, {})
        if "asNumber" in bgp_conf:
            value = bgp_conf["asNumber"]
            if isinstance(value, bool) or not isinstance(value, int) or not ASN_MIN <= value <= ASN_MAX:
                f.fail("bgp_configuration", f"asNumber {value!r} is out of range ({ASN_MIN}..{ASN_MAX})")
        pools_doc = f.opt("ip_pools", list, None)
        rr_doc = f.opt("route_reflectors", dict, None)
        resources_doc = f.opt("resources", list, [])
        lab_timers = f.opt("lab_timers", bool, False)
        passive_reflectors = f.opt("lab_passive_reflectors", bool, False)
        f.done()

        pools = []
        if pools_doc is None:
            pools.append(m.IPPoolSpec("default-ipv4-ippool", cluster.pod_subnet))
        for index, pdoc in enumerate(pools_doc or []):
            where = f"calico.ip_pools[{index}]"
            pf = self.fields(pdoc, where, pools_doc.item_line(index))
            pname = self.name(pf.req("name", str), f"{where}.name", pf.line("name"))
            cidr = self.network(pf, "cidr")
            block = pf.opt("block_size", int, 26)
            if not cidr.prefixlen <= block <= 32:
                pf.fail("block_size", f"{block} must be between the pool's prefix length {cidr.prefixlen} and 32")
            pools.append(m.IPPoolSpec(
                pname, cidr, block, pf.opt("nat_outgoing", bool, True), pf.opt("disabled", bool, False),
                pf.opt("disable_bgp_export", bool, False), pf.opt("node_selector", str, "all()")))
            pf.done()

        rr = m.RouteReflectors()
        if rr_doc is not None:
            rf = self.fields(rr_doc, "calico.route_reflectors", f.line("route_reflectors"))
            names = tuple(rf.req("nodes", list))
            known = {n.name for n in cluster.nodes}
            for name in names:
                if name not in known:
                    rf.fail("nodes", f"unknown node '{name}' (nodes: {', '.join(sorted(known))})")
            cluster_id = str(self.ipv4(rf.opt("cluster_id", str, "224.0.0.1"), rf, "cluster_id"))
            label = rf.opt("label", str, "route-reflector")
            problem = label_problem(label, "true")
            if problem:
                rf.fail("label", problem)
            rf.done()
            rr = m.RouteReflectors(names, cluster_id, label)

        if peering in m.PEERING_WITH_REFLECTOR_NODES and not rr.nodes:
            f.fail("route_reflectors", f"peering '{peering}' needs route_reflectors.nodes")
        if peering not in m.PEERING_WITH_REFLECTOR_NODES and rr.nodes:
            f.fail("route_reflectors", "route_reflectors is only used with peering: "
                   f"{' or '.join(m.PEERING_WITH_REFLECTOR_NODES)} (peering is '{peering}')")
        if peering == m.PEERING_RACK_REFLECTORS:
            self.check_rack_reflectors(f, cluster, racks, rr)
        if peering == m.PEERING_EXTERNAL_RR and not hosts:
            f.fail("peering", "peering 'external-rr' needs a route-reflector host under hosts:")
        if peering in m.PEERING_AS_PER_RACK:
            for rack in racks:
                if rack.leaf is None and any(n.rack == rack.name for n in cluster.nodes):
                    f.fail("peering", f"peering 'rack-leaf' needs a leaf for rack {rack.name} (racks.{rack.name}.leaf)")

        resources = []
        for index, item in enumerate(resources_doc):
            if not isinstance(item, str):
                f.fail("resources", f"item {index} must be a file name")
            candidates = [self.resource_dir / item, CALICO_DIR / item, REPO_ROOT / item]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None and self.lenient_resources:
                continue  # a running lab's saved topology: its datastore already holds them
            if found is None:
                f.fail("resources", f"resource file '{item}' not found (looked next to the topology and in calico/)")
            resources.append(found)
        # Plain dicts/lists: the located YAML types cannot be dumped back to YAML for Calico.
        plain_conf = json.loads(json.dumps(bgp_conf))
        return m.CalicoSettings(version, manifest_url, manifest_sha256, peering, m.frozen_map(plain_conf),
                                tuple(pools), rr, tuple(resources), lab_timers, passive_reflectors)

    def check_rack_reflectors(self, f: Fields, cluster: m.Cluster, racks, rr: m.RouteReflectors) -> None:
        """rack-reflectors: every rack with nodes has a leaf and a reflector node of its own."""
        reflectors = set(rr.nodes)
        for rack in racks:
            members = [n.name for n in cluster.nodes if n.rack == rack.name]
            if members and not reflectors.intersection(members):
                f.fail("route_reflectors", f"peering 'rack-reflectors' needs a reflector node in rack {rack.name} "
                       f"(one of: {', '.join(members[:5])}{' ...' if len(members) > 5 else ''})")

    def workloads(self, doc: LocMap, top: Fields) -> m.Workloads:
        f = self.fields(doc, "workloads", top.line("workloads"))
        pods = f.opt("pods_per_node", int, 1)
        if not 0 <= pods <= 16:
            f.fail("pods_per_node", f"{pods} is out of range (0..16)")
        image = f.opt("image", str, m.Workloads.image)
        node_port = f.opt("node_port", int, m.Workloads.node_port)
        if not 30000 <= node_port <= 32767:
            f.fail("node_port", f"{node_port} is outside Kubernetes' NodePort range (30000..32767)")
        f.done()
        return m.Workloads(pods, image, node_port)

    # -- whole-topology invariants ---------------------------------------------------------

    def check_bridge_ports(self, topo: m.Topology, racks_doc: LocMap) -> None:
        """A Linux bridge numbers its ports 1..1023 (BR_MAX_PORTS is 1024, port 0 is reserved):
        adding one more fails with EXFULL half-way through `up`, so refuse it here."""
        ports = {r.name: 0 for r in topo.racks}
        by_bridge = {r.bridge: r.name for r in topo.racks}
        for node in topo.cluster.nodes:
            ports[node.rack] += 1
        for host in topo.hosts:
            ports[host.rack] += 1
        for link in topo.links:
            for end in link.ends():
                if end.is_bridge:
                    ports[by_bridge[end.node]] += 1
        for rack in topo.racks:
            if ports[rack.name] > MAX_BRIDGE_PORTS:
                self.fail(f"racks.{rack.name}", f"{ports[rack.name]} nodes, hosts and router links on bridge "
                          f"{rack.bridge}: a Linux bridge holds at most {MAX_BRIDGE_PORTS} ports; "
                          "split the rack into several racks", racks_doc.key_line(rack.name))

    def check_addresses(self, topo: m.Topology, routers_doc, racks_doc, cluster_doc, hosts_doc) -> None:
        # Every address of the lab, with where it was written.
        owners: dict[IPv4Address, str] = {}

        def claim(ip: IPv4Address, where: str, line: int | None) -> None:
            if ip in owners:
                self.fail(where, f"duplicate address {ip}: already used by {owners[ip]}", line)
            owners[ip] = where

        for router in topo.routers:
            for iface in router.interfaces:
                claim(iface.address.ip, f"fabric.routers.{router.name}.interfaces.{iface.name}",
                      routers_doc[router.name]["interfaces"].key_line(iface.name))
        nodes_doc = cluster_doc["nodes"]
        for node in topo.cluster.nodes:
            claim(node.ip.ip, f"cluster.nodes.{node.name}.ip", nodes_doc[node.name].key_line("ip"))
        for host in topo.hosts:
            claim(host.ip.ip, f"hosts.{host.name}.ip", hosts_doc[host.name].key_line("ip"))

        # L2 segments must not overlap: each router-router link and each rack is one subnet.
        segments: list[tuple[IPv4Network, str, int | None]] = []
        for rack in topo.racks:
            segments.append((rack.subnet, f"racks.{rack.name}.subnet", racks_doc[rack.name].key_line("subnet")))
        for link in topo.router_links():
            net = topo.router(link.a.node).iface(link.a.port).address.network
            segments.append((net, f"link {link.a} - {link.b}", routers_doc[link.a.node]["interfaces"].key_line(link.a.iface)))
        for i, (net_a, where_a, _) in enumerate(segments):
            for net_b, where_b, line_b in segments[i + 1:]:
                if net_a.overlaps(net_b):
                    self.fail(where_b, f"subnet {net_b} overlaps {net_a} of {where_a}", line_b)
        for net, where, line in segments:
            for special, field in ((topo.cluster.pod_subnet, "cluster.pod_subnet"),
                                   (topo.cluster.service_subnet, "cluster.service_subnet")):
                if net.overlaps(special):
                    self.fail(field, f"{special} overlaps {net} of {where}", cluster_doc.key_line(field.split(".")[1]))
            for pool in topo.calico.ip_pools:
                if pool.cidr.overlaps(net):
                    self.fail("calico.ip_pools", f"pool {pool.name} ({pool.cidr}) overlaps {net} of {where}", None)

        # Router IDs: routers', plus the node and host addresses their BGP daemons use as IDs.
        ids: dict[IPv4Address, str] = {}
        for router in topo.routers:
            where = f"fabric.routers.{router.name}.router_id"
            if router.router_id in ids:
                self.fail(where, f"duplicate router ID {router.router_id}: already used by {ids[router.router_id]}",
                          routers_doc[router.name].key_line("router_id"))
            ids[router.router_id] = where
        for where, ip in [(f"cluster.nodes.{n.name}", n.ip.ip) for n in topo.cluster.nodes] + \
                         [(f"hosts.{h.name}", h.ip.ip) for h in topo.hosts]:
            if ip in ids:
                self.fail(f"{where}.ip", f"address {ip} is also the router ID of {ids[ip]}", None)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
