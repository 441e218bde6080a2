"""The lab as a picture: Graphviz DOT text from the model, the Calico plan and (optionally) live state.

Pure: topology + Calico resources (+ pods, + observed sessions) in, DOT text out;
`lab.commands.graph` runs `dot` and writes files. The DOT is built with the
`graphviz` Python package (it quotes identifiers and attributes; HTML-like
labels are escaped here with `html.escape`), and Graphviz's `dot` does all of
the layout: this module only says what is drawn, never where.

Layers, top to bottom: spines, leaves, then one cluster per rack with its
bridge, its Kubernetes nodes (pods below them) and its route-reflector hosts.
Router interfaces are ports of the router's box, so each link ends at the
interface it uses, with its address. The session layer (`sessions=True`) adds
one line per BGP session, coloured by kind; with observations, an Established
session is solid and anything else dashed red with the state as its label.

Large labs stay readable: a rack with more than `max_rack_nodes` nodes (or every
rack, when the lab has more than `max_nodes`) is drawn as one box with a count;
route reflectors stay visible; sessions between the same two boxes are drawn
once with their count, and on a running lab how many are down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

import graphviz

from . import model as m
from .calico.resources import ResourceSet
from .graph_sessions import KINDS, RR_CLIENT, SessionLine, session_lines, sort_key
from .graph_style import DOWN, FILL, FONT, KIND_COLOURS, LINK, LINK_CLASS, cell, esc, iface_row, kind_class, table

@dataclass(frozen=True)
class GraphOptions:
    sessions: bool = True
    max_rack_nodes: int = 12  # a rack with more (non-reflector) nodes is drawn as one box with a count
    max_nodes: int = 48  # beyond this many nodes in the lab every rack collapses
    max_pods: int = 3  # pods drawn one by one per node; beyond, one box with the count
    node_iface: str = "eth0"  # the node's interface on its rack segment (netns: eth0; clab servers: net0)


@dataclass(frozen=True)
class PodView:
    name: str
    node: str  # topology node name
    ip: str
    cali: str | None = None  # the node-side interface, where known


class _Drawing:
    def __init__(self, topo: m.Topology, rs: ResourceSet, pods: Sequence, observed, options: GraphOptions):
        self.topo, self.rs, self.options = topo, rs, options
        self.observed = observed
        self.pods = defaultdict(list)
        for pod in pods:
            self.pods[pod.node].append(pod)
        self.reflectors = {n.name: n.route_reflector_cluster_id for n in rs.nodes if n.route_reflector_cluster_id}
        self.collapsed: dict[str, str] = {}  # node name -> id of its rack's summary box
        self.kinds_drawn: set[str] = set()
        self.down_drawn = False
        state = "observed" if observed is not None else "planned"
        subtitle = (f"{topo.description} · {state} BGP sessions" if options.sessions
                    else f"{topo.description} · links and addresses")
        self.g = graphviz.Graph(
            name=topo.name,
            graph_attr={"rankdir": "TB", "newrank": "true", "nodesep": "0.35", "ranksep": "0.7", "fontname": FONT,
                        "labelloc": "t", "label": f'<<B>{esc(topo.name)}</B><BR/><FONT POINT-SIZE="10">{esc(subtitle)}</FONT>>',
                        "bgcolor": "white", "pad": "0.3"},
            node_attr={"fontname": FONT, "shape": "plain", "fontsize": "10"},
            edge_attr={"fontname": FONT, "fontsize": "8", "color": LINK, "penwidth": "1.3"},
        )

    # -- ids ---------------------------------------------------------------------------------

    def node_id(self, name: str) -> str:
        return self.collapsed.get(name, f"node_{name}")

    def speaker_id(self, speaker: str, address: str | None = None) -> str:
        """The box of a session end; on a router, the port of the interface holding its address."""
        if speaker.startswith("peer:"):
            return "outside_" + speaker[5:].replace(":", "_")
        for router in self.topo.routers:
            if router.name == speaker:
                iface = next((i for i in router.interfaces if str(i.address.ip) == address), None)
                if iface is None:
                    return f"router_{speaker}"
                # The side of the box the port sits on: uplinks on top, the rest at the bottom.
                side = "n" if self.far_role(router, iface) == m.SPINE else "s"
                return f"router_{speaker}:{iface.name}:{side}"
        if any(h.name == speaker for h in self.topo.hosts):
            return f"host_{speaker}"
        return self.node_id(speaker)

    def layer(self, box: str) -> tuple[int, str]:
        name = box.split(":")[0][len("router_"):]
        if box.startswith("router_"):
            return (0 if self.topo.router(name).role == m.SPINE else 1, box)
        return (2, box)

    def constraint(self, ia: str, ib: str) -> str:
        """Sessions that go down a layer are routed like links (dot routes those well); between two
        boxes of one layer they must not push one below the other."""
        return "true" if self.layer(ia)[0] != self.layer(ib)[0] else "false"

    def daemon_silent(self, target: str) -> bool:
        sessions = (self.observed or {}).get(target) or []
        return any(o.peer == "?" for o in sessions)

    # -- the physical layer ------------------------------------------------------------------

    def routers(self) -> None:
        for role in (m.SPINE, m.LEAF):
            with self.g.subgraph(name=f"{role}s") as rank:
                rank.attr(rank="same")
                for router in (r for r in self.topo.routers if r.role == role):
                    rank.node(f"router_{router.name}", label=self.router_label(router), tooltip=f"{router.name} (FRR)",
                              _attributes={"class": f"router {router.role}"})

    def router_label(self, router: m.Router) -> str:
        up = [i for i in router.interfaces if self.far_role(router, i) == m.SPINE]
        down = [i for i in router.interfaces if i not in up]
        span = max(len(up), len(down), 1)
        title = cell(f"{esc(router.name)}", 11, "#111111", bold=True, span=span)
        sub = cell(f"{esc(router.role)} · AS {router.asn} · id {router.router_id}", 8, "#444444", span=span)
        rows = ([iface_row(up)] if up else []) + [title, sub] + ([iface_row(down)] if down else [])
        if self.daemon_silent(router.name):
            rows.append(cell("FRR not answering", 8, DOWN, bold=True, span=span))
        # Cell spacing keeps the interface cells inside the rounded border.
        return table(rows, FILL[router.role], border="#3B5B7A" if router.role == m.SPINE else "#2F6F4F", spacing=3)

    def far_role(self, router: m.Router, iface: m.Interface) -> str | None:
        far = self.topo.peer_of(router.name, iface.name)
        if far is None or far.is_bridge:
            return None
        return self.topo.router(far.node).role

    def links(self) -> None:
        for link in self.topo.links:
            if link.to_bridge:
                r_end, b_end = (link.a, link.b) if link.b.is_bridge else (link.b, link.a)
                self.g.edge(f"router_{r_end.node}:{r_end.iface}:s", f"bridge_{b_end.node}", penwidth="2", _attributes=LINK_CLASS)
                continue
            a, b = link.a, link.b
            if self.topo.router(a.node).role == m.LEAF and self.topo.router(b.node).role == m.SPINE:
                a, b = b, a  # spines above leaves: dot ranks the tail above the head
            subnet = self.topo.router(a.node).iface(a.port).address.network
            self.g.edge(f"router_{a.node}:{a.iface}:s", f"router_{b.node}:{b.iface}:n",
                        label=f'<<FONT COLOR="#6B7785">{esc(subnet)}</FONT>>', _attributes=LINK_CLASS)

    def racks(self) -> None:
        total = len(self.topo.cluster.nodes)
        for rack in self.topo.racks:
            nodes = self.topo.nodes_in(rack.name)
            clients = [n for n in nodes if self.topo.cluster.k8s_name(n) not in self.reflectors]
            collapse = len(clients) > self.options.max_rack_nodes or (total > self.options.max_nodes and len(clients) > 1)
            if collapse:
                for n in clients:
                    self.collapsed[n.name] = f"rack_{rack.name}_nodes"
            with self.g.subgraph(name=f"cluster_{rack.name}") as c:
                label = f"{rack.name} · {rack.subnet}" + (f" · gateway {rack.leaf} {rack.gateway}" if rack.leaf else "")
                c.attr(label=f'<<B>{esc(label)}</B>>', style="rounded,filled", fillcolor=FILL["rack"],
                       color="#C9D1D9", fontsize="10", labeljust="l", margin="14")
                c.node(f"bridge_{rack.bridge}", label=f'<<FONT COLOR="white" POINT-SIZE="9"><B>{esc(rack.bridge)}</B> (Linux bridge)</FONT>>',
                       shape="box", style="rounded,filled", fillcolor=FILL["bridge"], color=FILL["bridge"],
                       height="0.25", margin="0.15,0.03", _attributes={"class": "bridge"})
                for node in nodes:
                    if node.name not in self.collapsed:
                        self.node(c, rack, node)
                if collapse:
                    self.rack_summary(c, rack, clients)
                for host in self.topo.hosts_in(rack.name):
                    self.host(c, rack, host)

    def node(self, c, rack: m.Rack, node: m.Node) -> None:
        k8s = self.topo.cluster.k8s_name(node)
        rows = [cell(esc(node.name), 10, "#111111", bold=True),
                cell(f"{node.ip.ip} · AS {self.topo.node_asn(node)}", 8, "#444444")]
        cluster_id = self.reflectors.get(k8s)
        if node.role == m.CONTROL_PLANE:
            rows.append(cell("control-plane", 7, "#8A6D00"))
        if cluster_id:
            rows.append(cell(f"route reflector · cluster {esc(cluster_id)}", 7, KIND_COLOURS[RR_CLIENT], bold=True))
        if self.daemon_silent(node.name):
            rows.append(cell("BIRD not answering", 8, DOWN, bold=True))
        fill = FILL["rr"] if cluster_id else FILL["node"]
        border = DOWN if self.daemon_silent(node.name) else "#8A6D00"
        nid = self.node_id(node.name)
        c.node(nid, label=table(rows, fill, border, 2 if self.daemon_silent(node.name) else 1),
               tooltip=f"{k8s} (Calico node, BIRD)",
               _attributes={"class": "k8s-node" + (" silent" if self.daemon_silent(node.name) else "")})
        c.edge(f"bridge_{rack.bridge}", nid, label=f'<<FONT COLOR="#6B7785">{esc(self.options.node_iface)}</FONT>>',
               _attributes=LINK_CLASS)
        self.node_pods(c, node, nid)

    def node_pods(self, c, node: m.Node, nid: str) -> None:
        pods = self.pods.get(node.name, [])
        if not pods:
            return
        if len(pods) > self.options.max_pods:
            ips = sorted((p.ip for p in pods), key=sort_key)
            c.node(f"pods_{node.name}", label=f'<<FONT POINT-SIZE="8">{len(pods)} pods<BR/>{esc(ips[0])} … {esc(ips[-1])}</FONT>>',
                   shape="box", style="rounded,filled", fillcolor=FILL["pod"], color="#BBBBBB", margin="0.08,0.02",
                   _attributes={"class": "pods"})
            c.edge(nid, f"pods_{node.name}", color="#BBBBBB", label=f'<<FONT COLOR="#6B7785">cali* ×{len(pods)}</FONT>>',
                   _attributes=LINK_CLASS)
            return
        for pod in pods:
            c.node(f"pod_{pod.name}", label=f'<<FONT POINT-SIZE="8">{esc(pod.name)}<BR/>{esc(pod.ip)}</FONT>>',
                   shape="box", style="rounded,filled", fillcolor=FILL["pod"], color="#BBBBBB", margin="0.08,0.02",
                   _attributes={"class": "pod"})
            cali = getattr(pod, "cali", None)
            label = f'<<FONT COLOR="#6B7785" POINT-SIZE="7">{esc(cali)}</FONT>>' if cali else None
            c.edge(nid, f"pod_{pod.name}", color="#BBBBBB", label=label, _attributes=LINK_CLASS)

    def rack_summary(self, c, rack: m.Rack, nodes: Sequence[m.Node]) -> None:
        ips = sorted((str(n.ip.ip) for n in nodes), key=sort_key)
        ases = sorted({self.topo.node_asn(n) for n in nodes})
        as_text = f"AS {ases[0]}" if len(ases) == 1 else f"{len(ases)} ASes ({ases[0]} … {ases[-1]})"
        pods = sum(len(self.pods.get(n.name, [])) for n in nodes)
        rows = [cell(f"{len(nodes)} nodes", 11, "#111111", bold=True),
                cell(f"{ips[0]} … {ips[-1]} · {as_text}", 8, "#444444"),
                cell(f"{pods} pods", 8, "#444444")]
        silent = [n.name for n in nodes if self.daemon_silent(n.name)]
        if silent:
            rows.append(cell(f"BIRD not answering on {len(silent)}: {esc(', '.join(silent[:3]))}"
                              + (" …" if len(silent) > 3 else ""), 8, DOWN, bold=True))
        nid = f"rack_{rack.name}_nodes"
        c.node(nid, label=table(rows, FILL["node"], DOWN if silent else "#8A6D00", 2), tooltip=f"{rack.name}: {len(nodes)} nodes",
               _attributes={"class": "rack-summary"})
        c.edge(f"bridge_{rack.bridge}", nid, penwidth="3",
               label=f'<<FONT COLOR="#6B7785">{esc(self.options.node_iface)} ×{len(nodes)}</FONT>>')

    def host(self, c, rack: m.Rack, host: m.Host) -> None:
        rows = [cell(esc(host.name), 10, "#111111", bold=True),
                cell(f"{host.ip.ip} · AS {host.asn}", 8, "#444444"),
                cell(f"external route reflector (BIRD) · cluster {esc(host.cluster_id)}", 7, KIND_COLOURS[RR_CLIENT], bold=True)]
        if self.daemon_silent(host.name):
            rows.append(cell("BIRD not answering", 8, DOWN, bold=True))
        c.node(f"host_{host.name}", label=table(rows, FILL["host"], DOWN if self.daemon_silent(host.name) else "#5B2C6F"),
               tooltip=f"{host.name} (route-reflector host)", _attributes={"class": "rr-host"})
        c.edge(f"bridge_{rack.bridge}", f"host_{host.name}", label=f'<<FONT COLOR="#6B7785">{esc(self.options.node_iface)}</FONT>>',
               _attributes=LINK_CLASS)

    # -- the session layer -------------------------------------------------------------------

    def sessions(self, lines: Sequence[SessionLine]) -> None:
        groups: dict[tuple[str, str, str], list[SessionLine]] = {}
        for line in lines:
            for end in line.ends():
                if end.outside:
                    self.outside(end.speaker)
            # Upper layer first (spines, leaves, the rest): dot draws tail above head.
            ia, ib = sorted((self.speaker_id(line.a.speaker, line.a.address),
                             self.speaker_id(line.b.speaker, line.b.address)), key=self.layer)
            groups.setdefault((ia, ib, line.kind), []).append(line)
        summaries = set(self.collapsed.values())
        for (ia, ib, kind), members in groups.items():
            self.kinds_drawn.add(kind)
            if len(members) == 1 and ia not in summaries and ib not in summaries:
                self.session(ia, ib, members[0])
            else:
                self.session_group(ia, ib, kind, members)

    def outside(self, speaker: str) -> None:
        address = speaker[5:]
        self.g.node(self.speaker_id(speaker), label=f'<<FONT POINT-SIZE="9">{esc(address)}<BR/>'
                    f'<FONT POINT-SIZE="7">not a lab target</FONT></FONT>>', shape="box",
                    style="rounded,dashed", color="#777777", margin="0.1,0.03", _attributes={"class": "outside"})

    def session(self, ia: str, ib: str, line: SessionLine) -> None:
        a, b = line.a, line.b
        tooltip = f"{a.speaker} {a.address} - {b.speaker} {b.address}: {line.kind}. " + "; ".join(line.notes)
        attrs = {"color": KIND_COLOURS[line.kind], "penwidth": "2.2", "constraint": self.constraint(ia, ib),
                 "tooltip": tooltip, "class": f"session {kind_class(line.kind)}"}
        if line.observed and not line.established:
            self.down_drawn = True
            attrs.update(color=DOWN, style="dashed", **{"class": attrs["class"] + " down"},
                         label=f'<<FONT COLOR="{DOWN}"><B>{"<BR/>".join(esc(p) for p in line.problems())}</B></FONT>>')
        elif not line.observed and line.one_sided:
            missing = [e.speaker for e in line.ends() if not e.outside and e.speaker not in line.configured]
            attrs.update(style="dotted", **{"class": attrs["class"] + " one-sided"}, label=f'<<FONT COLOR="#555555">not configured on {esc(", ".join(missing))}</FONT>>')
            self.kinds_drawn.add("one-sided")
        self.g.edge(ia, ib, _attributes=attrs)

    def session_group(self, ia: str, ib: str, kind: str, members: Sequence[SessionLine]) -> None:
        count = len(members)
        width = 2.0 + min(4.0, count.bit_length() * 0.5)
        attrs = {"color": KIND_COLOURS[kind], "penwidth": f"{width:.1f}", "constraint": self.constraint(ia, ib),
                 "tooltip": f"{count} sessions ({kind})", "class": f"session {kind_class(kind)} group"}
        text = f"{kind} ×{count}"
        down = [line for line in members if line.observed and not line.established]
        if down:
            self.down_drawn = True
            states: dict[str, int] = {}
            for line in down:
                for problem in line.problems():
                    state = problem.split(": ", 1)[1]
                    states[state] = states.get(state, 0) + 1
            worst = ", ".join(f"{s} ×{n}" for s, n in sorted(states.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
            attrs.update(color=DOWN, style="dashed", **{"class": attrs["class"] + " down"})
            text = f"{count - len(down)}/{count} Established<BR/>{esc(worst)}"
            attrs["label"] = f'<<FONT COLOR="{DOWN}"><B>{text}</B></FONT>>'
        else:
            attrs["label"] = f'<<FONT COLOR="{KIND_COLOURS[kind]}"><B>{esc(text)}</B></FONT>>'
        self.g.edge(ia, ib, _attributes=attrs)

    def legend(self) -> None:
        if not self.options.sessions:
            return
        rows = [cell("BGP sessions", 9, "#111111", bold=True, span=2)]
        for kind in KINDS:
            if kind in self.kinds_drawn:
                rows.append(f'<TD><FONT COLOR="{KIND_COLOURS[kind]}" POINT-SIZE="12"><B>━━━</B></FONT></TD>'
                            + cell(esc(kind), 8, align="LEFT"))
        if "one-sided" in self.kinds_drawn:
            rows.append('<TD><FONT COLOR="#555555" POINT-SIZE="12"><B>┈┈┈</B></FONT></TD>'
                        + cell("configured on one end only", 8, align="LEFT"))
        if self.observed is not None:
            rows.append(f'<TD><FONT COLOR="#333333" POINT-SIZE="12"><B>━━━</B></FONT></TD>' + cell("Established", 8, align="LEFT"))
            rows.append(f'<TD><FONT COLOR="{DOWN}" POINT-SIZE="12"><B>╍╍╍</B></FONT></TD>'
                        + cell("not Established (label: each end's state)", 8, DOWN, align="LEFT"))
        if self.collapsed:
            rows.append(cell("×N: sessions between two boxes drawn once", 7, "#555555", span=2))
        self.g.node("legend", label=table(rows, "#FFFFFF", "#C9D1D9"), _attributes={"class": "legend"})


@dataclass(frozen=True)
class Picture:
    dot: str
    sessions: int
    down: int
    collapsed_racks: tuple[str, ...]


def build(topo: m.Topology, rs: ResourceSet, *, pods: Sequence = (),
          observed: Mapping[str, Sequence] | None = None, options: GraphOptions = GraphOptions()) -> Picture:
    """The lab's DOT text. `observed` (target -> ObservedSession list) marks each session's state."""
    drawing = _Drawing(topo, rs, pods, observed, options)
    drawing.routers()
    drawing.links()
    drawing.racks()
    lines = session_lines(topo, rs, observed) if options.sessions else []
    if options.sessions:
        drawing.sessions(lines)
    drawing.legend()
    racks = tuple(dict.fromkeys(v[len("rack_"):-len("_nodes")] for v in drawing.collapsed.values()))
    down = sum(1 for line in lines if line.observed and not line.established)
    return Picture(drawing.g.source, len(lines), down, racks)


def lab_dot(topo: m.Topology, rs: ResourceSet, **kwargs) -> str:
    return build(topo, rs, **kwargs).dot
