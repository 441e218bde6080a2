"""Reading what the daemons and kernels of a lab say, through the one exec interface.

Parsers are pure functions of the command output (unit-tested on captured text);
the `observe_*` helpers just run the command on a target and parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network

from ..calico.status import calico_peer, parse_bird_protocols
from ..errors import LabError
from ..exec import LabAccess


@dataclass(frozen=True)
class ObservedSession:
    peer: str
    state: str  # "Established" or what the daemon says instead (Active, Connect, Idle, down ...)
    name: str = ""  # BIRD protocol name / FRR neighbour description
    peer_as: int | None = None

    @property
    def established(self) -> bool:
        return self.state == "Established"


def parse_bird_protocols_all(text: str) -> list[ObservedSession]:
    """BGP protocols from BIRD 1.x `show protocols all` (one parser: lab/calico/status.py); raises on foreign text."""
    return [ObservedSession(p.neighbor or (calico_peer(p.name) or ("?",))[0], p.bgp_state, p.name, p.neighbor_as)
            for p in parse_bird_protocols(text) if p.proto == "BGP"]


def parse_frr_summary_json(text: str) -> list[ObservedSession]:
    """Neighbours from FRR `show bgp summary json` (ipv4 unicast)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise LabError(f"cannot read FRR's BGP summary: {text.strip()[:300] or '(nothing)'}") from None
    peers = (data.get("ipv4Unicast") or {}).get("peers") or {}
    return [ObservedSession(addr, p.get("state", "?"), p.get("desc", "") or "", p.get("remoteAs"))
            for addr, p in peers.items()]


@dataclass(frozen=True)
class KernelRoute:
    dst: IPv4Network
    kind: str  # unicast | blackhole | unreachable ...
    protocol: str
    gateways: frozenset[IPv4Address]
    dev: str | None
    scope: str
    metric: int | None = None


# A big lab's tables repeat the same prefixes and next hops on every node (1,000 nodes x 1,000
# blocks): each is parsed once (ipaddress parsing is ~5 µs, the rest of a route ~1 µs).
@lru_cache(maxsize=1 << 16)
def _route_dst(dst: str):
    try:
        return IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)  # `ip -4`: IPv4 only
    except ValueError:
        return None


_address = lru_cache(maxsize=1 << 16)(IPv4Address)


def parse_ip_routes(text: str) -> list[KernelRoute]:
    """Routes from `ip -j route` (main table), multipath included."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise LabError(f"cannot read `ip -j route`: {text.strip()[:300] or '(nothing)'}") from None
    routes = []
    for r in data:
        dst = r.get("dst", "")
        if dst == "default":
            dst = "0.0.0.0/0"
        net = _route_dst(dst)
        if net is None:
            continue
        gateways = set()
        if r.get("gateway"):
            gateways.add(_address(r["gateway"]))
        for hop in r.get("nexthops") or []:
            if hop.get("gateway"):
                gateways.add(_address(hop["gateway"]))
        routes.append(KernelRoute(net, r.get("type", "unicast"), str(r.get("protocol", "")),
                                  frozenset(gateways), r.get("dev"), r.get("scope", "global"), r.get("metric")))
    return routes


def observe_bird_sessions(access: LabAccess, target: str) -> list[ObservedSession]:
    return parse_bird_protocols_all(access.birdc(target, "show protocols all"))


def observe_bird_session_states(access: LabAccess, target: str) -> list[ObservedSession]:
    """Name and state of each BGP protocol (`show protocols`: no neighbour address or AS, so
    peers come from Calico's protocol names); cheap enough to poll a big reflector."""
    return parse_bird_protocols_all(access.birdc(target, "show protocols"))


def observe_frr_sessions(access: LabAccess, target: str) -> list[ObservedSession]:
    return parse_frr_summary_json(access.vtysh(target, "show bgp summary json"))


def observe_routes(access: LabAccess, target: str) -> list[KernelRoute]:
    result = access.exec(target, ["ip", "-j", "route", "show", "table", "main"])
    if result.rc != 0:  # say why (a time-out under load, a namespace gone), not "cannot read (nothing)"
        raise LabError(f"`ip route` in {target} failed (rc {result.rc}): {(result.stderr or result.stdout).strip()[:300]}")
    return parse_ip_routes(result.stdout)


def route_to(routes: list[KernelRoute], net: IPv4Network) -> KernelRoute | None:
    for r in routes:
        if r.dst == net:
            return r
    return None


_BGP_VIA = re.compile(r"via (\d+\.\d+\.\d+\.\d+) on \S+ \[(?!static|kernel|direct|device)\S+")


def bgp_next_hops(text: str) -> set[IPv4Address]:
    """Next hops of the BGP routes in BIRD `show route <prefix> all` (static/kernel routes left out)."""
    return {IPv4Address(m.group(1)) for m in _BGP_VIA.finditer(text)}


_PING_LOSS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")


def parse_ping(text: str) -> tuple[int, int]:
    """(transmitted, received) from iputils ping's summary."""
    match = _PING_LOSS.search(text)
    if not match:
        return (0, 0)
    return int(match.group(1)), int(match.group(2))
