"""When a VyOS router is ready, read from its own op-mode output (pure functions, tested on text).

Ready means what the next steps depend on, not merely that SSH answers:
- every fabric interface of the router has its address and is up (`show interfaces`:
  Interface, IP Address ..., S/L columns; extra addresses continue on the next line);
- every eBGP session to another fabric router is Established (`show ip bgp summary`,
  FRR's table: the State/PfxRcd column holds a prefix count once Established and the
  state name before). iBGP sessions to rack nodes come up only after Calico runs, later.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, ip_interface

from ... import model as m
from ...fabric import FABRIC, router_bgp

_STATE_LINK = re.compile(r"^[uDA]/[uD]$")


def _is_interface_address(token: str) -> bool:
    try:
        ip_interface(token)
    except ValueError:
        return False
    return True


def interface_table(text: str) -> dict[str, tuple[set[str], str]]:
    """{interface: ({addresses}, "S/L")} from VyOS's `show interfaces`."""
    table: dict[str, tuple[set[str], str]] = {}
    current = None
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or tokens[0] in ("Codes:", "Interface") or set(tokens[0]) <= {"-"}:
            continue
        if not line[0].isspace():
            current = tokens[0]
            table[current] = (set(), "")
            tokens = tokens[1:]
        if current is None:
            continue
        addresses, state = table[current]
        for token in tokens:
            if _STATE_LINK.match(token):
                state = token
            elif "/" in token and _is_interface_address(token):
                addresses.add(token)
        table[current] = (addresses, state)
    return table


def interfaces_missing(text: str, router: m.Router) -> list[str]:
    """What is not there yet: 'eth1 10.1.10.1/24' (absent address) or 'eth1 down (u/D)'."""
    table = interface_table(text)
    missing = []
    for iface in router.interfaces:
        addresses, state = table.get(iface.name, (set(), ""))
        if str(iface.address) not in addresses:
            missing.append(f"{iface.name} {iface.address}")
        elif state and state != "u/u":
            missing.append(f"{iface.name} down ({state})")
    return missing


def summary_states(text: str) -> dict[IPv4Address, str]:
    """{neighbour: "Established" or the state shown} from FRR's `show ip bgp summary` table."""
    states: dict[IPv4Address, str] = {}
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) < 10:
            continue
        try:
            neighbor = IPv4Address(tokens[0])
        except ValueError:
            continue
        value = tokens[9]
        # A prefix count means Established; "(Policy)" too (established, no policy to exchange).
        states[neighbor] = "Established" if value.isdigit() or value == "(Policy)" else value
    return states


def ebgp_neighbors(topo: m.Topology, router: m.Router) -> list[IPv4Address]:
    """The router's sessions to other fabric routers (eBGP), which must be up before Calico runs."""
    return [n.address for n in router_bgp(topo, router).neighbors if n.kind == FABRIC]


def sessions_missing(text: str, neighbors) -> list[str]:
    """'10.1.10.2 Active' for each neighbour not Established ('absent' when not in the table)."""
    states = summary_states(text)
    return [f"{n} {states.get(n, 'absent')}" for n in neighbors if states.get(n) != "Established"]
