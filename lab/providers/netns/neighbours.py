"""Permanent neighbour (ARP) entries: a lab that needs no dynamic ones for its sessions.

Why: Linux counts the dynamic neighbour entries of *every* namespace against one host-wide
limit (net.ipv4.neigh.default.gc_thresh3, 1,024 by default, settable only in the host
namespace). Every BGP session needs an entry at both ends: a 200-node mesh needs ~40,000,
a 1,000-node reflector lab ~4,000. Past the limit the kernel refuses new entries for every
lab on the host, other people's too. Permanent entries (`nud permanent`) are not counted
against gc_thresh3 (Linux >= 4.19 keeps them off the garbage-collection list).

So, a documented lab device: every interface that carries an address gets a MAC derived
from the lab's namespace prefix, namespace and interface name (locally administered,
unicast: 02:xx:xx:xx:xx:xx), set when the veth is created; and before any daemon starts,
each speaker gets a permanent entry for every address its daemon's config talks to on a
connected subnet (BIRD `neighbor A as ..`, FRR `neighbor A remote-as ..`), and for every
gateway of its static routes. On the pod side the node gets an entry for each local pod
(Felix programs the same: pod IP -> pod MAC on cali*), and the pod one for its gateway
169.254.1.1 -> ee:ee:ee:ee:ee:ee (a real pod resolves that through the node's proxy ARP;
proxy ARP stays configured).

What is left dynamic: data-plane next hops that are not session peers (with in-cluster
reflectors a node forwards to the *originating* node: N·(N-1) possible entries, created only
by traffic, so only by checks and users), and addresses no lab interface owns (an external
peerIP that does not exist). lab/headroom.py counts the latter for `up`'s refusal.

Pure: addresses, veths, routes and configs in, entries out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from typing import Iterable, Mapping

NEIGHBOUR = re.compile(r"^\s*neighbor (\d+\.\d+\.\d+\.\d+)[ ;]", re.M)
GC_THRESH3 = "net.ipv4.neigh.default.gc_thresh3"


@dataclass(frozen=True)
class Neighbour:
    ns: str
    ifname: str
    ip: str
    mac: str


def lab_mac(prefix: str, netns: str, ifname: str) -> str:
    """The MAC of a lab interface: 02 (locally administered, unicast) + 5 bytes of a hash."""
    digest = hashlib.sha256(f"{prefix}|{netns}|{ifname}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def config_peers(config: str) -> list[str]:
    """The peer addresses a BIRD or FRR config talks to, in order, each once."""
    return list(dict.fromkeys(NEIGHBOUR.findall(config)))


@dataclass(frozen=True)
class _Iface:
    ns: str
    ifname: str
    address: IPv4Interface


def plan_neighbours(addresses: Iterable, macs: Mapping[tuple[str, str], str],
                    talks_to: Mapping[str, Iterable[str]]) -> tuple[list[Neighbour], list[tuple[str, str]]]:
    """Entries for each namespace in `talks_to` (ns -> addresses it talks to), and the
    (ns, address) pairs left dynamic (no connected subnet, or no lab interface owns it).

    `addresses`: the blueprint's Address items (ns, ifname, cidr); `macs`: (ns, ifname) -> MAC.
    """
    ifaces: dict[str, list[_Iface]] = {}
    owner: dict[IPv4Address, _Iface] = {}
    for a in addresses:
        iface = _Iface(a.ns, a.ifname, IPv4Interface(a.cidr))
        ifaces.setdefault(a.ns, []).append(iface)
        if iface.address.network.prefixlen < 32:  # a pod's /32 is reached through its node
            owner[iface.address.ip] = iface
    entries: list[Neighbour] = []
    left: list[tuple[str, str]] = []
    for ns, peers in talks_to.items():
        for peer in peers:
            ip = IPv4Address(peer)
            local = next((i for i in ifaces.get(ns, ()) if ip in i.address.network and i.address.ip != ip), None)
            remote = owner.get(ip)
            mac = macs.get((remote.ns, remote.ifname)) if remote else None
            if local is None:
                continue  # not on a connected subnet: reached through a gateway, which has its own entry
            if mac is None:
                left.append((ns, peer))
                continue
            entries.append(Neighbour(ns, local.ifname, peer, mac))
    return _unique(entries), left


def _unique(entries: list[Neighbour]) -> list[Neighbour]:
    return list(dict.fromkeys(entries))
