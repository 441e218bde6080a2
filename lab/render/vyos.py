"""VyOS config.boot for a fabric router, from the same BGP intent as the FRR renderer.

Every routing fact (neighbours, remote AS, reflection, next-hop-self, passive,
networks, timers, multipath) comes from `lab.fabric.router_bgp`; this module
only spells it in VyOS's curly-brace config tree. Three dialects, checked
against VyOS's own CLI definitions:

- 1.4 / 1.5 (sagitta, circinus incl. 1.5 Stream; vyos/vyos-1x `interface-definitions/include/bgp/
  protocol-common-config.xml.i`): `protocols bgp { system-as N; ... }`,
  `maximum-paths` under `address-family ipv4-unicast`. VyOS 1.4 always writes
  `no bgp default ipv4-unicast`, so every neighbour carries an (empty)
  `address-family ipv4-unicast` node: that node is its `activate`.
- 1.3 (equuleus, vyos/vyatta-cfg-quagga branch equuleus): `protocols bgp <AS> { ... }`,
  `maximum-paths` under the address family.
- 1.2 (crux, vyatta-cfg-quagga branch crux): `protocols bgp <AS> { ... }`,
  `maximum-paths` directly under `bgp <AS>`.
  1.2 and 1.3 accept a BGP hold time of 0 or 4..65535 s only (`timers holdtime`
  node.def): a shorter hold time is refused here rather than silently changed.

ECMP hashing on L4 (`net.ipv4.fib_multipath_hash_policy=1`) is VyOS's
`system ip multipath layer4-hashing` in every dialect (vyos-1x `system_ip.xml.in`
since 1.3, vyatta-cfg-system `templates/system/ip/multipath` in 1.2). VyOS writes
0 when the node is absent, so it must be in the config rather than set from outside.

Every fabric interface carries `mtu 1500`, the MTU containerlab's links are given in
clab.yaml (containerlab's veths default to 9500 while VyOS writes 1500 for an ethernet without
`mtu`: a mismatch drops every frame over 1500 bytes silently at the router). eth0, the
management interface Docker addresses, is left as containerlab's own VyOS template leaves it.

Leaves that are a rack's gateway masquerade the rack subnet out of eth0 (`nat source`, 1.4+
spelling `outbound-interface name eth0`, before `outbound-interface eth0`, as VyOS's NAT docs
give it): a kind node's default route goes through its leaf, and without this nothing
behind the leaf reaches a registry or anything outside the lab (Docker masquerades only the
management network, and the host has no route back to the fabric). Traffic inside the fabric
never leaves by eth0, so it is not translated.

The version footer matters: without it VyOS treats the file as pre-versioning
and runs every config migration on it at boot. The footers are those of the
first release of each series (1.4.0: component versions from vyos-1x tag 1.4.0
`interface-definitions/include/version/*.xml.i`; 1.3.0 and 1.2.8: the examples
in vyos-1x `python/vyos/component_version.py`; 1.5: those of 1.5-stream-2025-Q1, the
release containerlab's VyOS kind is tested with, as its startup template records them). A later image of the series
migrates from there, which is what its migrations are written for.

Login: user `vyos` with password `vyos` (the VyOS image's own default; VyOS
hashes a `plaintext-password` on its first commit). SSH on port 22.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from .. import model as m
from ..errors import LabError
from ..fabric import Neighbor, RouterBgp, router_bgp

DEFAULT_USER, DEFAULT_PASSWORD = "vyos", "vyos"
# The MTU of every fabric link (clab.yaml) and every VyOS fabric interface.
FABRIC_MTU = 1500
MGMT_IFACE = "eth0"
NAT_RULE_BASE = 100


class Valueless:
    """A valueless leaf such as `route-reflector-client`: printed as its bare name."""


VALUELESS = Valueless()
# A config subtree: a child is a subtree, a leaf value, or VALUELESS.
Tree = dict[str, Union["Tree", str, Valueless]]

_VYOS_1_4_VERSIONS = (
    "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:conntrack-sync@2:container@2:"
    "dhcp-relay@2:dhcp-server@8:dhcpv6-server@1:dns-dynamic@4:dns-forwarding@4:firewall@15:flow-accounting@1:"
    "https@6:ids@1:interfaces@32:ipoe-server@3:ipsec@13:isis@3:l2tp@9:lldp@2:mdns@1:monitoring@1:nat@8:"
    "nat66@3:ntp@3:openconnect@3:ospf@2:pim@1:policy@8:pppoe-server@10:pptp@5:qos@2:quagga@11:"
    "reverse-proxy@1:rip@1:rpki@2:salt@1:snmp@3:ssh@2:sstp@6:system@27:vrf@3:vrrp@4:vyos-accel-ppp@2:"
    "wanloadbalance@3:webproxy@2"
)
_VYOS_1_5_VERSIONS = (
    "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:conntrack-sync@2:container@2:"
    "dhcp-relay@2:dhcp-server@11:dhcpv6-server@5:dns-dynamic@4:dns-forwarding@4:firewall@16:flow-accounting@1:"
    "https@6:ids@1:interfaces@33:ipoe-server@4:ipsec@13:isis@3:l2tp@9:lldp@2:mdns@1:monitoring@1:nat@8:"
    "nat66@3:ntp@3:openconnect@3:openvpn@4:ospf@2:pim@1:policy@8:pppoe-server@11:pptp@5:qos@2:quagga@11:"
    "reverse-proxy@1:rip@1:rpki@2:salt@1:snmp@3:ssh@2:sstp@6:system@27:vrf@3:vrrp@4:vyos-accel-ppp@2:"
    "wanloadbalance@3:webproxy@2"
)
_VYOS_1_3_VERSIONS = (
    "broadcast-relay@1:cluster@1:config-management@1:conntrack@3:conntrack-sync@2:dhcp-relay@2:dhcp-server@6:"
    "dhcpv6-server@1:dns-forwarding@3:firewall@5:https@2:interfaces@22:ipoe-server@1:ipsec@5:isis@1:l2tp@3:"
    "lldp@1:mdns@1:nat@5:ntp@1:pppoe-server@5:pptp@2:qos@1:quagga@8:rpki@1:salt@1:snmp@2:ssh@2:sstp@3:"
    "system@21:vrrp@2:vyos-accel-ppp@2:wanloadbalance@3:webproxy@2:zone-policy@1"
)
_VYOS_1_2_VERSIONS = (
    "broadcast-relay@1:cluster@1:config-management@1:conntrack-sync@1:conntrack@1:dhcp-relay@2:dhcp-server@5:"
    "dns-forwarding@1:firewall@5:ipsec@5:l2tp@1:mdns@1:nat@4:ntp@1:pppoe-server@2:pptp@1:qos@1:quagga@7:"
    "snmp@1:ssh@1:system@10:vrrp@2:wanloadbalance@3:webgui@1:webproxy@2:zone-policy@1"
)


def _vyos_footer(versions: str, release: str) -> str:
    return ("// Warning: Do not remove the following line.\n"
            f'// vyos-config-version: "{versions}"\n'
            f"// Release version: {release}\n")


def _vyatta_footer(versions: str, release: str) -> str:
    return ("/* Warning: Do not remove the following line. */\n"
            f'/* === vyatta-config-version: "{versions}" === */\n'
            f"/* Release version: {release} */\n")


@dataclass(frozen=True)
class Dialect:
    series: str
    system_as: bool  # 1.4+: `bgp { system-as N }`; before: `bgp N { }`
    maximum_paths_in_af: bool  # 1.3+: under address-family ipv4-unicast; 1.2: under bgp
    min_hold: int  # smallest non-zero BGP hold time the CLI accepts
    footer: str
    nat_iface_named: bool  # 1.4+: `outbound-interface { name eth0 }`; before: `outbound-interface eth0`


DIALECTS = {
    "1.2": Dialect("1.2", False, False, 4, _vyatta_footer(_VYOS_1_2_VERSIONS, "1.2.8"), False),
    "1.3": Dialect("1.3", False, True, 4, _vyos_footer(_VYOS_1_3_VERSIONS, "1.3.0"), False),
    "1.4": Dialect("1.4", True, True, 3, _vyos_footer(_VYOS_1_4_VERSIONS, "1.4.0"), True),
    # circinus keeps 1.4's BGP, interface and NAT syntax; its footer is its own.
    "1.5": Dialect("1.5", True, True, 3, _vyos_footer(_VYOS_1_5_VERSIONS, "1.5-stream-2025-Q1"), True),
}


def dialect(version: str) -> Dialect:
    try:
        return DIALECTS[version]
    except KeyError:
        raise LabError(f"VyOS {version} is not supported (supported: {', '.join(DIALECTS)})") from None


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _neighbor(n: Neighbor) -> Tree:
    af: Tree = {}
    if n.rr_client:
        af["route-reflector-client"] = VALUELESS
    if n.next_hop_self:
        af["nexthop-self"] = {}
    body: Tree = {
        # An empty ipv4-unicast node still matters: it activates the family for this peer.
        "address-family": {"ipv4-unicast": af},
        "description": _quoted(n.description),
        "remote-as": str(n.remote_as),
        # Retry a refused connection after 1 s instead of 120 s.
        "timers": {"connect": "1"},
    }
    if n.passive:
        body["passive"] = VALUELESS
    return body


def _bgp(bgp: RouterBgp, d: Dialect) -> Tree:
    hold, keepalive = bgp.timers.hold, bgp.timers.keepalive
    if 0 < hold < d.min_hold:
        raise LabError(f"VyOS {d.series} accepts a BGP hold time of 0 or {d.min_hold}..65535 s, the topology asks "
                       f"for {hold} s (router {bgp.router.name}): set fabric.timers in the topology, e.g. "
                       f"timers: {{keepalive: {keepalive}, hold: {d.min_hold}}}")
    unicast: Tree = {f"network {net}": {} for net in bgp.networks}
    paths: Tree = {"ebgp": str(bgp.maximum_paths), "ibgp": str(bgp.maximum_paths)}
    parameters: Tree = {"router-id": str(bgp.router_id)}
    if bgp.multipath_relax:
        # The spines sit in different ASes: their paths differ in AS path, which plain
        # multipath refuses to treat as equal.
        parameters["bestpath"] = {"as-path": {"multipath-relax": VALUELESS}}
    body: Tree = {
        "address-family": {"ipv4-unicast": unicast},
        **{f"neighbor {n.address}": _neighbor(n) for n in bgp.neighbors},
        "parameters": parameters,
        "timers": {"holdtime": str(hold), "keepalive": str(keepalive)},
    }
    if d.maximum_paths_in_af:
        unicast["maximum-paths"] = paths
    else:
        body["maximum-paths"] = paths
    if d.system_as:
        body["system-as"] = str(bgp.asn)
    return body


def _nat(topo: m.Topology, router: m.Router, d: Dialect) -> Tree:
    """Masquerade of the racks this router is the gateway of, out of the management interface."""
    racks = [r for r in topo.racks if r.leaf == router.name]
    outbound: Tree | str = {"name": MGMT_IFACE} if d.nat_iface_named else MGMT_IFACE
    rules: Tree = {
        f"rule {NAT_RULE_BASE + index}": {
            "description": _quoted(f"{rack.name}-to-outside"),
            "outbound-interface": outbound,
            "source": {"address": str(rack.subnet)},
            "translation": {"address": "masquerade"},
        }
        for index, rack in enumerate(racks)
    }
    return {"source": rules} if rules else {}


def vyos_tree(topo: m.Topology, router: m.Router) -> Tree:
    d = dialect(topo.vyos_version)
    bgp = _bgp(router_bgp(topo, router), d)
    interfaces: Tree = {f"ethernet {i.name}": {"address": str(i.address), "mtu": str(FABRIC_MTU)}
                        for i in router.interfaces}
    interfaces["loopback lo"] = {}
    nat = _nat(topo, router, d)
    return {
        "interfaces": interfaces,
        **({"nat": nat} if nat else {}),
        "protocols": {"bgp": bgp} if d.system_as else {f"bgp {router.asn}": bgp},
        "service": {"ssh": {"port": "22"}},
        "system": {
            "host-name": router.name,
            # L4 hashing, so different flows between two pods can take different spines.
            "ip": {"multipath": {"layer4-hashing": VALUELESS}},
            "login": {f"user {DEFAULT_USER}": {"authentication": {"plaintext-password": _quoted(DEFAULT_PASSWORD)}}},
        },
    }


def _order(key: str) -> tuple:
    # Tag nodes (neighbor X, network X) sort by their value; addresses in numeric order.
    head, _, tail = key.partition(" ")
    parts = tail.replace("/", ".").split(".")
    numeric = tuple(int(p) for p in parts) if tail and all(p.isdigit() for p in parts) else ()
    return (head, numeric, tail)


def _print(tree: Tree, depth: int = 0) -> list[str]:
    pad = "    " * depth
    lines = []
    for key in sorted(tree, key=_order):
        value: Any = tree[key]
        if value is VALUELESS:
            lines.append(f"{pad}{key}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            lines += _print(value, depth + 1)
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{key} {value}")
    return lines


def render_vyos(topo: m.Topology, router: m.Router) -> str:
    footer = dialect(topo.vyos_version).footer
    return "\n".join(_print(vyos_tree(topo, router))) + "\n\n\n" + footer
