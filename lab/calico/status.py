"""`calicoctl node status`-shaped tables, from the plan or from a running BIRD.

calicoctl reads BIRD's protocol list and keeps the BGP protocols it named
itself: the peer address comes back from the name (Mesh_10_0_0_2 -> 10.0.0.2)
and the prefix gives the PEER TYPE; rows keep BIRD's order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from .peering import Session

_TYPES = {"Mesh_": "node-to-node mesh", "Global_": "global", "Node_": "node specific"}
HEADER = ("PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO")


@dataclass(frozen=True)
class StatusRow:
    peer_address: str
    peer_type: str
    state: str
    since: str
    info: str

    def as_dict(self) -> dict:
        return asdict(self)


def status_rows_from_plan(sessions: Sequence[Session]) -> list[StatusRow]:
    return [StatusRow(s.peer_address, s.peer_type, "up", "-", "Established") for s in sessions]


def parse_birdc_protocols(text: str) -> list[StatusRow]:
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[1] != "BGP":
            continue
        prefix = next((p for p in _TYPES if parts[0].startswith(p)), None)
        if prefix is None:
            continue
        address = parts[0][len(prefix):].replace("_", ".")
        state = parts[3]
        since = parts[4] if len(parts) > 4 else ""
        info = " ".join(parts[5:])
        rows.append(StatusRow(address, _TYPES[prefix], state, since, info))
    return rows


def format_status_table(rows: Sequence[StatusRow]) -> str:
    cells = [HEADER] + [(r.peer_address, r.peer_type, r.state, r.since, r.info) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt(row, center=False):
        return "|" + "|".join(f" {c.center(w) if center else c.ljust(w)} " for c, w in zip(row, widths)) + "|"

    lines = ["IPv4 BGP status", rule, fmt(HEADER, center=True), rule]
    lines += [fmt(row) for row in cells[1:]]
    lines.append(rule)
    return "\n".join(lines) + "\n"
