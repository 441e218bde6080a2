"""Load a topology file into the typed model, or fail with file:line, field and problem.

Nothing touches the host here; providers only ever see a validated `Topology`.
The order of checks matters only for which error a user sees first: syntax and
field-level problems, then cross-references, then whole-topology invariants.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_interface
from pathlib import Path
from typing import Any

from . import model as m
from .errors import TopologyError
from .clashes import check_name_clashes
from .names import iface_name_problem, lab_name_problem
from .compact import expand as expand_compact
from .yamlsrc import Fields, LocList, LocMap, load_located
from .loader_cluster import _ClusterParts

# The constants live with the field readers (TOPOLOGY_DIR is also imported from here by tests).
from .loader_base import DEFAULT_TOPOLOGY, MAX_BRIDGE_PORTS, TOPOLOGY_DIR, VYOS_DEFAULT_VERSION, VYOS_VERSIONS


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


class _Builder(_ClusterParts):
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
