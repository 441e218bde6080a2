"""The compact topology form: node counts instead of node lists, generated racks and fabric.

A topology file may say, instead of writing every entry by hand:

    racks:
      rack0: {bridge: br0, subnet: 10.8.0.0/22, nodes: 1002}   # a node count per rack
    racks:
      generate: {count: 40, subnet: 10.16.0.0/16, prefix: 24, nodes_per_rack: 25}
    fabric:
      generate: {spines: 2, spine_asn: 65500, leaf_asn: 65000, link_subnet: 10.255.0.0/16}
    calico:
      route_reflectors: {per_rack: 1}                          # the first node(s) of each rack

`expand` rewrites such a document into the hand-written form *before* the loader
validates it, so generated entries go through exactly the checks hand-written ones
do; each generated entry carries the line of the field that generated it, so an
error names that line. Everything is deterministic (same file, same lab):
- nodes are named as kind names them, by role and order (control-plane, worker,
  worker2, ...), continuing after any hand-written nodes; the first generated node
  is the control plane when no hand-written one exists;
- node addresses are taken in order from the rack subnet starting at host number
  FIRST_HOST (.10), skipping any address the file already uses in that rack;
- generated racks are rack0.. with bridge br-rackN and the N-th `prefix`-sized
  subnet of `subnet`; with fabric.generate each rack gets leafN (AS leaf_asn + N,
  address .1 on the rack) linked to every spine (spineM, AS spine_asn + M) over a
  /31 taken in order from link_subnet; leaves allow as many equal-cost paths as
  their rack has nodes (at least 8, at most 64).
"""

from __future__ import annotations

from ipaddress import IPv4Network, ip_address, ip_interface, ip_network
from typing import Any, Iterable, NoReturn

from .errors import TopologyError
from .yamlsrc import Fields, LocList, LocMap

FIRST_HOST = 10
MAX_PATHS = 64


def located(line: int, items: dict | None = None) -> LocMap:
    """A mapping that reports `line` for itself and every key (a generated entry)."""
    out = LocMap(items or {})
    out.line = line
    out.key_lines = {k: line for k in out}
    return out


def located_list(line: int, items: Iterable[Any]) -> LocList:
    out = LocList(items)
    out.line = line
    out.item_lines = [line] * len(out)
    return out


def _set(target: LocMap, key: str, value: Any, line: int) -> None:
    target[key] = value
    target.key_lines[key] = line


class _Expander:
    def __init__(self, file: str):
        self.file = file

    def fields(self, data: Any, where: str, line: int | None) -> Fields:
        return Fields(data, where, self.file, TopologyError, line)

    def fail(self, where: str, problem: str, line: int | None) -> NoReturn:
        raise TopologyError(self.file, where, problem, line)

    def count(self, f: Fields, key: str, low: int, high: int, default: int | None = None) -> int:
        value = f.req(key, int) if default is None else f.opt(key, int, default)
        if not low <= value <= high:
            f.fail(key, f"{value} is out of range ({low}..{high})")
        return value

    def network(self, f: Fields, key: str) -> IPv4Network:
        raw = f.req(key, str)
        try:
            net = ip_network(raw, strict=True)
        except ValueError as exc:
            f.fail(key, f"'{raw}' is not a valid IPv4 network ({exc})")
        if not isinstance(net, IPv4Network):
            f.fail(key, f"'{raw}' is not IPv4")
        return net

    # -- racks.generate ------------------------------------------------------------------

    def racks(self, doc: LocMap) -> tuple[LocMap, dict[str, int]]:
        """The racks mapping without `generate`, generated racks appended; and node counts per rack."""
        counts: dict[str, int] = {}
        out = located(doc.line)
        for name, rdoc in doc.items():
            if name == "generate":
                continue
            if isinstance(rdoc, LocMap):
                if "nodes" in rdoc:
                    rf = self.fields(rdoc, f"racks.{name}", doc.key_line(name))
                    counts[name] = self.count(rf, "nodes", 0, 1023)
                original = rdoc
                rdoc = located(original.line, {k: v for k, v in original.items() if k != "nodes"})
                rdoc.key_lines = {k: l for k, l in original.key_lines.items() if k != "nodes"}
                rdoc.node_count_line = original.key_line("nodes")  # type: ignore[attr-defined]
            _set(out, name, rdoc, doc.key_line(name))
        if "generate" not in doc:
            return out, counts
        line = doc.key_line("generate")
        f = self.fields(doc["generate"], "racks.generate", line)
        number = self.count(f, "count", 1, 4096)
        block = self.network(f, "subnet")
        prefix = self.count(f, "prefix", block.prefixlen, 30, default=max(24, block.prefixlen))
        per_rack = self.count(f, "nodes_per_rack", 0, 1023, default=0)
        f.done()
        subnets = block.subnets(new_prefix=prefix)
        available = 2 ** (prefix - block.prefixlen)
        if number > available:
            f.fail("count", f"{number} racks of /{prefix} do not fit in {block} ({available} do)")
        for index in range(number):
            name = f"rack{index}"
            if name in out:
                f.fail("count", f"generated rack '{name}' is also written by hand")
            rdoc = located(line, {"bridge": f"br-rack{index}", "subnet": str(next(subnets))})
            rdoc.node_count_line = line  # type: ignore[attr-defined]
            _set(out, name, rdoc, line)
            counts[name] = per_rack
        return out, counts

    # -- fabric.generate -----------------------------------------------------------------

    def fabric(self, doc: LocMap, racks: LocMap, counts: dict[str, int]) -> LocMap:
        gen_line = doc.key_line("generate")
        for key in ("routers", "links"):
            if key in doc:
                self.fail(f"fabric.{key}", "fabric.generate writes the routers and links: remove one of them",
                          doc.key_line(key))
        f = self.fields(doc["generate"], "fabric.generate", gen_line)
        spines = self.count(f, "spines", 1, 16)
        spine_asn = self.count(f, "spine_asn", 1, 4294967295)
        leaf_asn = self.count(f, "leaf_asn", 1, 4294967295)
        links = self.network(f, "link_subnet")
        f.done()
        out = located(doc.line, {k: v for k, v in doc.items() if k != "generate"})
        out.key_lines = {k: l for k, l in doc.key_lines.items() if k != "generate"}
        routers, link_list = located(gen_line), []
        pairs = links.subnets(new_prefix=31)
        needed = spines * len(racks)
        if needed > links.num_addresses // 2:
            f.fail("link_subnet", f"{links} holds {links.num_addresses // 2} /31 links, {needed} are needed")
        spine_ifaces: list[dict] = [{} for _ in range(spines)]
        for index, (rname, rdoc) in enumerate(racks.items()):
            if "leaf" in rdoc:
                self.fail(f"racks.{rname}.leaf", "fabric.generate gives every rack its own leaf: remove this field",
                          rdoc.key_line("leaf"))
            leaf = f"leaf{index}"
            subnet = ip_network(str(rdoc.get("subnet")), strict=False) if rdoc.get("subnet") else None
            ifaces = {}
            for s in range(spines):
                net = next(pairs)
                spine_ip, leaf_ip = net[0], net[1]
                spine_if, leaf_if = f"eth{index + 1}", f"eth{s + 1}"
                spine_ifaces[s][spine_if] = f"{spine_ip}/31"
                ifaces[leaf_if] = f"{leaf_ip}/31"
                link_list.append(located_list(gen_line, [f"spine{s}:{spine_if}", f"{leaf}:{leaf_if}"]))
            rack_if = f"eth{spines + 1}"
            if subnet is None:
                self.fail(f"racks.{rname}.subnet", "required field is missing", rdoc.line)
            ifaces[rack_if] = f"{subnet[1]}/{subnet.prefixlen}"
            link_list.append(located_list(gen_line, [f"{leaf}:{rack_if}", rdoc.get("bridge")]))
            paths = min(MAX_PATHS, max(8, counts.get(rname, 0)))
            _set(routers, leaf, located(gen_line, {"role": "leaf", "asn": leaf_asn + index,
                                                   "interfaces": located(gen_line, ifaces),
                                                   "maximum_paths": paths}), gen_line)
            _set(rdoc, "leaf", leaf, gen_line)
        for s in range(spines):
            spine = located(gen_line, {"role": "spine", "asn": spine_asn + s,
                                       "interfaces": located(gen_line, spine_ifaces[s])})
            _set(routers, f"spine{s}", spine, gen_line)
        # Spines first, as a hand-written file lists them.
        ordered = located(gen_line)
        for name in [f"spine{s}" for s in range(spines)] + [n for n in routers if n.startswith("leaf")]:
            _set(ordered, name, routers[name], gen_line)
        _set(out, "routers", ordered, gen_line)
        _set(out, "links", located_list(gen_line, link_list), gen_line)
        return out

    # -- nodes ---------------------------------------------------------------------------

    def nodes(self, cluster: LocMap, racks: LocMap, counts: dict[str, int], taken: set) -> LocMap:
        """cluster.nodes with the generated nodes appended, named and addressed as documented."""
        given = cluster.get("nodes")
        written = given if isinstance(given, LocMap) else located(cluster.line)
        out = located(written.line, dict(written))
        out.key_lines = dict(written.key_lines)
        roles = [(v.get("role", "worker") if isinstance(v, dict) else "worker") for v in written.values()]
        numbers = {"control-plane": roles.count("control-plane"), "worker": roles.count("worker")}
        for rname, count in counts.items():
            rdoc = racks[rname]
            line = getattr(rdoc, "node_count_line", rdoc.line)
            try:
                subnet = ip_network(str(rdoc.get("subnet")), strict=True)
            except ValueError:
                continue  # the loader reports the bad subnet with its line
            hosts = subnet.num_addresses - 2
            host = FIRST_HOST
            for _ in range(count):
                while host <= hosts and subnet[host] in taken:
                    host += 1
                if host > hosts:
                    self.fail(f"racks.{rname}.nodes", f"{count} nodes from host .{FIRST_HOST} on do not fit in "
                              f"{subnet} ({hosts - FIRST_HOST + 1} addresses left)", line)
                role = "control-plane" if numbers["control-plane"] == 0 else "worker"
                numbers[role] += 1
                name = role if numbers[role] == 1 else f"{role}{numbers[role]}"
                if name in out:
                    self.fail(f"racks.{rname}.nodes", f"generated node '{name}' is also written by hand", line)
                fields = {"rack": rname, "ip": str(subnet[host])}
                if role == "control-plane":
                    fields["role"] = role
                _set(out, name, located(line, fields), line)
                taken.add(subnet[host])
                host += 1
        return out


def _written_addresses(doc: LocMap) -> set:
    """Every address the file itself writes (routers, nodes, hosts), so generated ones avoid them."""
    taken = set()

    def add(value: Any) -> None:
        try:
            taken.add(ip_interface(str(value)).ip if "/" in str(value) else ip_address(str(value)))
        except ValueError:
            pass

    fabric = doc.get("fabric")
    for router in ((fabric or {}).get("routers") or {}).values() if isinstance(fabric, dict) else ():
        for addr in (router.get("interfaces") or {}).values() if isinstance(router, dict) else ():
            add(addr)
    for section in ((doc.get("cluster") or {}).get("nodes") or {}, doc.get("hosts") or {}):
        for entry in section.values() if isinstance(section, dict) else ():
            if isinstance(entry, dict) and "ip" in entry:
                add(entry["ip"])
    return taken


def _rr_per_rack(expander: _Expander, calico: LocMap, nodes: LocMap) -> None:
    rr = calico.get("route_reflectors")
    if not isinstance(rr, LocMap) or "per_rack" not in rr:
        return
    line = rr.key_line("per_rack")
    if "nodes" in rr:
        expander.fail("calico.route_reflectors.per_rack", "give either nodes or per_rack, not both", line)
    per_rack = rr["per_rack"]
    if isinstance(per_rack, bool) or not isinstance(per_rack, int) or per_rack < 1:
        expander.fail("calico.route_reflectors.per_rack", f"expected a number >= 1, got {per_rack!r}", line)
    chosen: dict[str, list[str]] = {}
    for name, ndoc in nodes.items():
        rack = ndoc.get("rack") if isinstance(ndoc, dict) else None
        picked = chosen.setdefault(str(rack), [])
        if len(picked) < per_rack:
            picked.append(name)
    names = [n for picked in chosen.values() for n in picked]
    del rr["per_rack"]
    _set(rr, "nodes", located_list(line, names), line)


def is_compact(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    racks, fabric = doc.get("racks"), doc.get("fabric")
    rr = (doc.get("calico") or {}).get("route_reflectors") if isinstance(doc.get("calico"), dict) else None
    return bool((isinstance(racks, dict) and ("generate" in racks or any(
        isinstance(r, dict) and "nodes" in r for r in racks.values())))
        or (isinstance(fabric, dict) and "generate" in fabric)
        or (isinstance(rr, dict) and "per_rack" in rr))


def expand(doc: Any, file: str) -> Any:
    """The hand-written form of a compact document (a document without compact fields is returned as is)."""
    if not is_compact(doc):
        return doc
    ex = _Expander(file)
    out = located(doc.line, dict(doc))
    out.key_lines = dict(doc.key_lines)
    racks, counts = ex.racks(doc["racks"]) if isinstance(doc.get("racks"), LocMap) else (doc.get("racks"), {})
    _set(out, "racks", racks, doc.key_line("racks"))
    fabric = doc.get("fabric")
    if isinstance(fabric, LocMap) and "generate" in fabric:
        _set(out, "fabric", ex.fabric(fabric, racks, counts), doc.key_line("fabric"))
    cluster = doc.get("cluster")
    if counts and isinstance(cluster, LocMap):
        cluster = located(cluster.line, dict(cluster))
        cluster.key_lines = dict(doc["cluster"].key_lines)
        nodes = ex.nodes(cluster, racks, counts, _written_addresses(out))
        _set(cluster, "nodes", nodes, cluster.key_lines.get("nodes", cluster.line))
        _set(out, "cluster", cluster, doc.key_line("cluster"))
    calico = out.get("calico")
    if isinstance(calico, LocMap) and isinstance(out.get("cluster"), LocMap):
        calico = located(calico.line, dict(calico))
        calico.key_lines = dict(out["calico"].key_lines)
        rr = calico.get("route_reflectors")
        if isinstance(rr, LocMap):
            copy = located(rr.line, dict(rr))
            copy.key_lines = dict(rr.key_lines)
            _set(calico, "route_reflectors", copy, calico.key_line("route_reflectors"))
            _rr_per_rack(ex, calico, out["cluster"].get("nodes") or located(0))
        _set(out, "calico", calico, doc.key_line("calico"))
    return out
