"""VyOS config.boot for a fabric router, from the same BGP intent as the FRR renderer.

VyOS 1.4 (sagitta) puts the AS under `protocols bgp { system-as N }`; VyOS 1.2
(crux) writes `protocols bgp N { ... }`. The tree is built as nested dicts and
printed in VyOS's brace syntax, children sorted as VyOS itself prints them.
The version footer matters: without it VyOS would run every config migration
on the file at boot.
"""

from __future__ import annotations

from typing import Any

from .. import model as m
from ..fabric import router_bgp

VYOS_1_4_FOOTER = (
    "// Warning: Do not remove the following line.\n"
    '// vyos-config-version: "bgp@4:broadcast-relay@1:cluster@1:config-management@1:conntrack@3:conntrack-sync@2:'
    "container@1:dhcp-relay@2:dhcp-server@6:dhcpv6-server@1:dns-dynamic@1:dns-forwarding@4:firewall@10:"
    "flow-accounting@1:https@4:ids@1:interfaces@29:ipoe-server@1:ipsec@12:isis@3:l2tp@4:lldp@1:mdns@1:"
    "monitoring@1:nat@5:nat66@1:ntp@2:openconnect@2:ospf@2:policy@5:pppoe-server@6:pptp@2:qos@2:quagga@11:"
    "rip@1:rpki@1:salt@1:snmp@3:ssh@2:sstp@4:system@26:vrf@3:vrrp@3:vyos-accel-ppp@2:wanloadbalance@3:"
    'webproxy@2"\n'
    "// Release version: 1.4-rolling-202307070317\n"
)
VYOS_1_2_FOOTER = (
    "/* Warning: Do not remove the following line. */\n"
    '/* === vyatta-config-version: "broadcast-relay@1:cluster@1:config-management@1:conntrack@1:conntrack-sync@1:'
    "dhcp-relay@2:dhcp-server@5:dns-forwarding@1:firewall@5:ipsec@5:l2tp@1:mdns@1:nat@4:ntp@1:pppoe-server@2:"
    'pptp@1:qos@1:quagga@7:snmp@1:ssh@1:system@10:vrrp@2:wanloadbalance@3:webgui@1:webproxy@1:zone-policy@1" === */\n'
    "/* Release version: 1.2.8 */\n"
)
# The image's own login, so the clab provider can reach the router over SSH.
DEFAULT_USER, DEFAULT_PASSWORD = "vyos", "vyos"

LEAF = None  # marker: a valueless node such as `route-reflector-client`


def _bgp_body(topo: m.Topology, router: m.Router, modern: bool) -> dict:
    bgp = router_bgp(topo, router)
    unicast: dict[str, Any] = {"maximum-paths": {"ebgp": str(bgp.maximum_paths), "ibgp": str(bgp.maximum_paths)}}
    for net in bgp.networks:
        unicast[f"network {net}"] = {}
    neighbors: dict[str, Any] = {}
    for n in bgp.neighbors:
        af: dict[str, Any] = {}
        if n.rr_client:
            af["route-reflector-client"] = LEAF
        if n.next_hop_self:
            af["nexthop-self"] = {}
        body: dict[str, Any] = {
            "address-family": {"ipv4-unicast": af},
            "description": n.description.replace(":", "-"),
            "remote-as": str(n.remote_as),
            # Retry a refused connection after 1 s instead of 120 s.
            "timers": {"connect": "1"},
        }
        if n.passive:
            body["passive"] = LEAF
        neighbors[f"neighbor {n.address}"] = body
    parameters: dict[str, Any] = {"router-id": str(bgp.router_id)}
    if bgp.multipath_relax:
        parameters["bestpath"] = {"as-path": {"multipath-relax": LEAF}}
    body = {"address-family": {"ipv4-unicast": unicast}, **neighbors, "parameters": parameters,
            "timers": {"holdtime": str(bgp.timers.hold), "keepalive": str(bgp.timers.keepalive)}}
    if modern:
        body["system-as"] = str(bgp.asn)
    return body


def vyos_tree(topo: m.Topology, router: m.Router) -> dict:
    modern = topo.vyos_version != "1.2"
    interfaces = {f"ethernet {i.name}": {"address": str(i.address)} for i in router.interfaces}
    interfaces["loopback lo"] = {}
    bgp = _bgp_body(topo, router, modern)
    protocols = {"bgp": bgp} if modern else {f"bgp {router.asn}": bgp}
    auth = {"plaintext-password": f'"{DEFAULT_PASSWORD}"'}
    system: dict[str, Any] = {
        "host-name": router.name,
        "login": {f"user {DEFAULT_USER}": {"authentication": auth}},
    }
    # L4 hashing, so different flows between two pods can take different spines.
    if modern:
        system["sysctl"] = {"parameter net.ipv4.fib_multipath_hash_policy": {"value": "1"}}
    else:
        system["sysctl"] = {"custom net.ipv4.fib_multipath_hash_policy": {"value": "1"}}
    return {"interfaces": interfaces, "protocols": protocols, "service": {"ssh": {"port": "22"}}, "system": system}


def _print(tree: dict, depth: int = 0) -> list[str]:
    pad = "    " * depth
    lines = []
    for key in sorted(tree, key=_order):
        value = tree[key]
        if value is LEAF:
            lines.append(f"{pad}{key}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            lines += _print(value, depth + 1)
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{key} {value}")
    return lines


def _order(key: str) -> tuple:
    # VyOS prints tag nodes (neighbor X, network X) by their value; keep addresses in numeric order.
    head, _, tail = key.partition(" ")
    parts = tail.replace("/", ".").split(".")
    numeric = tuple(int(p) for p in parts) if tail and all(p.isdigit() for p in parts) else ()
    return (head, numeric, tail)


def render_vyos(topo: m.Topology, router: m.Router) -> str:
    footer = VYOS_1_4_FOOTER if topo.vyos_version != "1.2" else VYOS_1_2_FOOTER
    return "\n".join(_print(vyos_tree(topo, router))) + "\n\n\n" + footer
