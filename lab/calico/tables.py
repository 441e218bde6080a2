"""calicoctl's table output: `get` tables (columns from calicoctl/resourcemgr/*.go) and `ipam show`.

calicoctl prints tables through Go's tabwriter (minimum cell width 5, padding 3,
blank-padded): each column is as wide as its widest cell plus three spaces.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Callable, Sequence

_MIN, _PAD = 5, 3


def tabulate(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(max(len(r[i]) for r in rows) + _PAD, _MIN) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths)] + [row[-1]]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _spec(doc: dict) -> dict:
    return doc.get("spec") or {}


def _bgp(doc: dict) -> dict:
    return _spec(doc).get("bgp") or {}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _peer_node(doc: dict) -> str:
    spec = _spec(doc)
    if spec.get("node"):
        return spec["node"]
    return spec.get("nodeSelector") or "(global)"


def _mesh(doc: dict) -> str:
    value = _spec(doc).get("nodeToNodeMeshEnabled")
    return _text(value) if value else "-"


# kind -> (columns, wide columns, cell getter(doc, default_as))
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[[dict, int], dict[str, str]]]] = {
    "Node": (("NAME",), ("NAME", "ASN", "IPV4", "IPV6"), lambda d, asn: {
        "NAME": d["metadata"]["name"],
        "ASN": (_text(_bgp(d).get("asNumber")) if _bgp(d).get("asNumber") else f"({asn})") if _spec(d).get("bgp") else "",
        "IPV4": _text(_bgp(d).get("ipv4Address")), "IPV6": _text(_bgp(d).get("ipv6Address"))}),
    "BGPPeer": (("NAME", "PEERIP", "NODE", "ASN"), ("NAME", "PEERIP", "NODE", "ASN"), lambda d, asn: {
        "NAME": d["metadata"]["name"], "PEERIP": _text(_spec(d).get("peerIP")), "NODE": _peer_node(d),
        "ASN": _text(_spec(d).get("asNumber", 0))}),
    "IPPool": (("NAME", "CIDR", "SELECTOR"),
               ("NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT", "SELECTOR"),
               lambda d, asn: {
                   "NAME": d["metadata"]["name"], "CIDR": _text(_spec(d).get("cidr")),
                   "NAT": _text(bool(_spec(d).get("natOutgoing"))),
                   "IPIPMODE": _spec(d).get("ipipMode") or "Never", "VXLANMODE": _spec(d).get("vxlanMode") or "Never",
                   "DISABLED": _text(bool(_spec(d).get("disabled"))),
                   "DISABLEBGPEXPORT": _text(bool(_spec(d).get("disableBGPExport"))),
                   "SELECTOR": _spec(d).get("nodeSelector") or "all()"}),
    "BGPConfiguration": (("NAME", "LOGSEVERITY", "MESHENABLED", "ASNUMBER"),
                         ("NAME", "LOGSEVERITY", "MESHENABLED", "ASNUMBER"), lambda d, asn: {
                             "NAME": d["metadata"]["name"], "LOGSEVERITY": _text(_spec(d).get("logSeverityScreen")),
                             "MESHENABLED": _mesh(d), "ASNUMBER": _text(_spec(d).get("asNumber")) or "-"}),
    "BGPFilter": (("NAME",), ("NAME",), lambda d, asn: {"NAME": d["metadata"]["name"]}),
}


def get_table(kind: str, docs: Sequence[dict], *, wide: bool, default_as: int) -> str:
    columns, wide_columns, cells = COLUMNS[kind]
    header = wide_columns if wide else columns
    rows = [header] + [tuple(cells(d, default_as)[c] for c in header) for d in docs]
    return tabulate(rows)


def ipam_table(snap, show_blocks: bool = False) -> str:
    """`calicoctl ipam show [--show-blocks]`: per pool (and block) addresses total / in use / free."""
    in_use: dict[str, int] = {}
    for pod in snap.ipam.pods:
        in_use[pod.block] = in_use.get(pod.block, 0) + 1
    rows = [("GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE")]
    for pool in snap.of_kind("IPPool"):
        cidr = pool["spec"]["cidr"]
        net = ip_network(cidr, strict=False)
        total = net.num_addresses
        used = sum(n for block, n in in_use.items() if _inside(block, net))
        rows.append(("IP Pool", cidr, str(total), f"{used} ({_pct(used, total)})", f"{total - used} ({_pct(total - used, total)})"))
        if show_blocks:
            for block in snap.ipam.blocks:
                if block.pool == pool["metadata"]["name"]:
                    size = ip_network(block.cidr).num_addresses
                    n = in_use.get(block.cidr, 0)
                    rows.append(("Block", block.cidr, str(size), f"{n} ({_pct(n, size)})", f"{size - n} ({_pct(size - n, size)})"))
    return _boxed(rows)


def _inside(block: str, net) -> bool:
    inner = ip_network(block)
    return inner.version == net.version and inner.subnet_of(net)


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole) if whole else 0}%"


def _boxed(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule, "|" + "|".join(f" {c.center(w)} " for c, w in zip(rows[0], widths)) + "|", rule]
    out += ["|" + "|".join(f" {c.ljust(w)} " for c, w in zip(r, widths)) + "|" for r in rows[1:]]
    return "\n".join(out + [rule]) + "\n"


def node_status_text(rows, running: bool = True) -> str:
    """`calicoctl node status` as the real command prints it on a node (IPv4 only in the lab)."""
    from .status import format_status_table

    if not running:
        return "Calico process is not running.\n"
    body = format_status_table(rows) if rows else "IPv4 BGP status\nNo IPv4 peers found.\n"
    return f"Calico process is running.\n\n{body}\nIPv6 BGP status\nNo IPv6 peers found.\n\n"
