"""How lab.graph looks: colours, fonts and the HTML-like label tables Graphviz draws boxes from.

Every text that reaches a label goes through `esc` (Graphviz HTML-like labels are XML).
"""

from __future__ import annotations

import html
from typing import Sequence

from . import model as m
from .calico.peering import GLOBAL, MESH, NODE_SPECIFIC
from .graph_sessions import FABRIC_EBGP, LEAF_IBGP, RR_CLIENT, UNPLANNED

FONT = "DejaVu Sans,Helvetica,Arial,sans-serif"
# Okabe-Ito colours (readable with the common colour-vision deficiencies); red only means "down".
KIND_COLOURS = {
    FABRIC_EBGP: "#0072B2", LEAF_IBGP: "#009E73", RR_CLIENT: "#7B3294",
    GLOBAL: "#CC79A7", NODE_SPECIFIC: "#56B4E9", MESH: "#E69F00", UNPLANNED: "#777777",
}
DOWN = "#D62728"
LINK = "#9AA5B1"
LINK_CLASS = {"class": "link"}  # SVG class of physical links (sessions: "session <kind> [down]")
FILL = {"spine": "#DCEAF7", "leaf": "#DDF3E8", "node": "#FFF6DD", "rr": "#EFE3F6", "host": "#EFE3F6",
        "rack": "#F5F7FA", "bridge": "#4A5568", "pod": "#EEEEEE"}


KIND_CLASSES = {FABRIC_EBGP: "fabric-ebgp", LEAF_IBGP: "leaf-ibgp", RR_CLIENT: "rr-client", GLOBAL: "global",
                NODE_SPECIFIC: "node-specific", MESH: "mesh", UNPLANNED: "unplanned"}


def kind_class(kind: str) -> str:
    return KIND_CLASSES[kind]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def table(rows: Sequence[str], fill: str, border: str = "#5F6B7A", width: int = 1, spacing: int = 0) -> str:
    body = "".join(f"<TR>{r}</TR>" for r in rows)
    return (f'<<TABLE BORDER="{width}" CELLBORDER="0" CELLSPACING="{spacing}" CELLPADDING="3" STYLE="ROUNDED" '
            f'BGCOLOR="{fill}" COLOR="{border}">{body}</TABLE>>')


def cell(text: str, size: int = 9, colour: str = "#333333", bold: bool = False, span: int = 1,
          align: str = "CENTER") -> str:
    inner = f"<B>{text}</B>" if bold else text
    return (f'<TD COLSPAN="{span}" ALIGN="{align}"><FONT POINT-SIZE="{size}" COLOR="{colour}">{inner}</FONT></TD>')


def iface_row(ifaces: Sequence[m.Interface]) -> str:
    cells = []
    for iface in ifaces:
        cells.append(f'<TD PORT="{esc(iface.name)}" BORDER="1" COLOR="#8895A7" BGCOLOR="#FFFFFF">'
                     f'<FONT POINT-SIZE="8" COLOR="#333333"><B>{esc(iface.name)}</B><BR/>{esc(iface.address)}</FONT></TD>')
    return "".join(cells)
