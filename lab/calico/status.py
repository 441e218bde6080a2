"""`calicoctl node status`-shaped tables, from the plan or from a running BIRD, and the one BIRD parser.

calicoctl reads BIRD's protocol list and keeps the BGP protocols it named
itself: the peer address comes back from the name (Mesh_10_0_0_2 -> 10.0.0.2,
Node_10_0_0_2_port_1790 -> 10.0.0.2) and the prefix gives the PEER TYPE; rows
keep BIRD's order, which is the order of the config (lab/calico/peering.py).

`parse_bird_protocols` reads BIRD 1.x `show protocols` and `show protocols all`
alike. A BGP protocol is Established when BIRD's info column says so (in
`show protocols all` the `BGP state:` line says the same). Output without
BIRD's protocol table header is an error carrying the raw text, never [].
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

from ..errors import LabError
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


class BirdOutputError(LabError):
    """birdc printed something that is not BIRD's protocol table."""

    def __init__(self, text: str):
        self.text = text
        shown = text.strip().replace("\n", " | ")[:300] or "(nothing)"
        super().__init__(f"cannot read BIRD's protocol list: {shown}")


@dataclass(frozen=True)
class BirdProtocol:
    name: str
    proto: str  # BGP, Kernel, Static ...
    state: str  # up, start, down ...
    since: str
    info: str  # for BGP: Established, Active, Connect, Idle, ... (plus any message)
    neighbor: str | None = None  # `show protocols all` only
    neighbor_as: int | None = None

    @property
    def established(self) -> bool:
        return self.info.split()[:1] == ["Established"]

    @property
    def bgp_state(self) -> str:
        return self.info.split()[0] if self.info else self.state


def parse_bird_protocols(text: str) -> list[BirdProtocol]:
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.split()[:4] == ["name", "proto", "table", "state"]), None)
    if header is None:
        raise BirdOutputError(text)
    out: list[BirdProtocol] = []
    for line in lines[header + 1:]:
        if not line.strip() or line.startswith(("BIRD ", "0001", "2002", "1002", "0000")):
            continue
        if not line[0].isspace():
            parts = line.split()
            if len(parts) < 4:
                raise BirdOutputError(text)
            out.append(BirdProtocol(parts[0], parts[1], parts[3], parts[4] if len(parts) > 4 else "",
                                    " ".join(parts[5:])))
            continue
        if not out:
            raise BirdOutputError(text)
        key, _, value = line.strip().partition(":")
        if key == "Neighbor address":
            out[-1] = BirdProtocol(**{**asdict(out[-1]), "neighbor": value.strip()})
        elif key == "Neighbor AS" and value.strip().isdigit():
            out[-1] = BirdProtocol(**{**asdict(out[-1]), "neighbor_as": int(value)})
    return out


_PORT = re.compile(r"_port_\d+$")


def calico_peer(name: str) -> tuple[str, str] | None:
    """(peer address, PEER TYPE) from a protocol name calico-node wrote, else None."""
    prefix = next((p for p in _TYPES if name.startswith(p)), None)
    if prefix is None:
        return None
    return _PORT.sub("", name[len(prefix):]).replace("_", "."), _TYPES[prefix]


def status_rows_from_plan(sessions: Sequence[Session]) -> list[StatusRow]:
    """What `calicoctl node status` shows once converged: a shadowed duplicate stays start/Idle."""
    return [StatusRow(s.peer_address, s.peer_type, "up", "-", "Established") if s.holds else
            StatusRow(s.peer_address, s.peer_type, "start", "-", "Idle") for s in sessions]


def parse_birdc_protocols(text: str) -> list[StatusRow]:
    """`calicoctl node status` rows from BIRD's protocol list (BGP protocols calico-node named)."""
    rows = []
    for p in parse_bird_protocols(text):
        peer = calico_peer(p.name) if p.proto == "BGP" else None
        if peer is not None:
            rows.append(StatusRow(peer[0], peer[1], p.state, p.since, p.info))
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
