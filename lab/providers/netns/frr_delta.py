"""The vtysh commands that turn one running bgpd configuration into another (pure).

A leaf's neighbours follow the Calico plan (a BGPPeer added or removed changes them), so
a live change must reach FRR too, without restarting bgpd (that would reset every
session of the router, fabric ones included). FRR ships frr-reload.py for this, but it
wants FRR's integrated single-file configuration and a vtysh.conf, which the lab's
per-daemon files are not; the configs fabriclab renders have one small shape (one
`router bgp`, one `address-family ipv4 unicast`), so the difference is computed here:
- a neighbour that went: `no neighbor X` (FRR drops its address-family lines with it);
- a neighbour that came, or whose lines changed: (`no neighbor X`, then) all its lines;
- any other line under `router bgp` or the address family: `no <line>` / `<line>`.
Anything else that differs (another AS, the zebra file) cannot be applied live: the
caller restarts the daemons instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Bgp:
    asn: str = ""
    router: list[str] = field(default_factory=list)  # lines under `router bgp` (stripped)
    family: list[str] = field(default_factory=list)  # lines under `address-family ipv4 unicast`
    outside: list[str] = field(default_factory=list)  # everything else (header, other blocks)


def _parse(text: str) -> _Bgp:
    bgp = _Bgp()
    where = "outside"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "!":
            continue
        if line.startswith("router bgp "):
            bgp.asn, where = line.split()[2], "router"
        elif where == "router" and line == "address-family ipv4 unicast":
            where = "family"
        elif where == "family" and line == "exit-address-family":
            where = "router"
        elif where == "router" and line == "exit":
            where = "outside"
        else:
            getattr(bgp, where).append(line)
    return bgp


def _neighbour(line: str) -> str | None:
    parts = line.split()
    return parts[1] if len(parts) > 2 and parts[0] == "neighbor" else None


def _split(lines: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    by_peer: dict[str, list[str]] = {}
    other = []
    for line in lines:
        peer = _neighbour(line)
        if peer is None:
            other.append(line)
        else:
            by_peer.setdefault(peer, []).append(line)
    return by_peer, other


class NotLive(Exception):
    """The difference cannot be applied to a running bgpd."""


def bgpd_delta(old: str, new: str) -> list[str]:
    """vtysh `-c` commands (from `configure terminal` on) that make `old` into `new`; [] if equal."""
    a, b = _parse(old), _parse(new)
    if a.outside != b.outside or a.asn != b.asn:
        raise NotLive("the router's AS or the lines outside `router bgp` changed")
    a_router, a_other = _split(a.router)
    b_router, b_other = _split(b.router)
    a_family, a_fother = _split(a.family)
    b_family, b_fother = _split(b.family)
    peers_before = set(a_router) | set(a_family)
    peers_after = set(b_router) | set(b_family)
    changed = {p for p in peers_before & peers_after
               if a_router.get(p) != b_router.get(p) or a_family.get(p) != b_family.get(p)}
    router_cmds = [f"no {line}" for line in a_other if line not in b_other]
    router_cmds += [line for line in b_other if line not in a_other]
    router_cmds += [f"no neighbor {p}" for p in sorted(peers_before - peers_after) + sorted(changed)]
    fresh = sorted(peers_after - peers_before) + sorted(changed)
    router_cmds += [line for p in fresh for line in b_router.get(p, [])]
    family_cmds = [f"no {line}" for line in a_fother if line not in b_fother]
    family_cmds += [line for line in b_fother if line not in a_fother]
    family_cmds += [line for p in fresh for line in b_family.get(p, [])]
    if not router_cmds and not family_cmds:
        return []
    cmds = ["configure terminal", f"router bgp {b.asn}", *router_cmds]
    if family_cmds:
        cmds += ["address-family ipv4 unicast", *family_cmds, "exit-address-family"]
    return cmds + ["end"]
