"""The topology loader's cluster, hosts, Calico and workloads sections (see loader_base.py)."""

from __future__ import annotations

import json
from ipaddress import IPv4Interface, IPv4Network, ip_interface

from . import model as m
from . import versions
from .calico.versions import parse_version
from .errors import LabError
from .names import lab_name_problem, label_problem
from .yamlsrc import Fields, LocMap
from .loader_base import ASN_MAX, ASN_MIN, CALICO_DEFAULT_VERSION, CALICO_DIR, KIND_DEFAULT_IMAGE, REPO_ROOT, _Base


class _ClusterParts(_Base):
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
