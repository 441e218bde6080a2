"""Per-namespace sysctls: written inside a lab namespace, never on the host.

Split from netlink.py (which re-exports these names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ...errors import LabError
from .nsenter import _IFNAME, check_ifname, inside

# Sysctls that belong to a network namespace (writing them inside one never touches the host):
# net.ipv4/ipv6 conf.<if>.* and neigh.<if>.*, plus these. net.core.* is left out on purpose:
# several of its keys (netdev_max_backlog, rmem_max ...) are host-wide even written from inside.
NETNS_SYSCTLS = frozenset({
    "net.ipv4.ip_forward", "net.ipv4.fib_multipath_hash_policy", "net.ipv4.fib_multipath_hash_fields",
    "net.ipv4.fib_multipath_use_neigh", "net.ipv4.ip_nonlocal_bind", "net.ipv4.ping_group_range",
    "net.ipv4.icmp_ratelimit", "net.ipv4.icmp_echo_ignore_broadcasts", "net.ipv4.ip_local_port_range",
    "net.ipv6.fib_multipath_hash_policy", "net.ipv6.fib_multipath_hash_fields",
})
_SYSCTL_LEAF = re.compile(r"^[a-z0-9_]+$")

# The sysctls every forwarding namespace (router, node, RR host) gets. A new namespace starts with
# fib_multipath_hash_policy=0, and ip_forward/rp_filter may be inherited from the host
# (devconf_inherit_init_net): set them explicitly.
FORWARDING_SYSCTLS: Mapping[str, str] = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.fib_multipath_hash_policy": "1",  # L4 hash: different flows may take different paths
    "net.ipv4.conf.all.rp_filter": "0",  # asymmetric ECMP paths are normal in the lab
    "net.ipv4.conf.default.rp_filter": "0",
}


def _sysctl_path(key: str) -> Path:
    parts = key.split("/") if "/" in key else key.split(".")
    per_iface = (len(parts) == 5 and parts[:2] in (["net", "ipv4"], ["net", "ipv6"])
                 and parts[2] in ("conf", "neigh") and _IFNAME.match(parts[3]) and _SYSCTL_LEAF.match(parts[4]))
    if not (per_iface or ".".join(parts) in NETNS_SYSCTLS):
        raise LabError(f"sysctl {key} is not a per-namespace network setting this lab may change")
    return Path("/proc/sys", *parts)


def set_sysctls(ns: str, values: Mapping[str, str]) -> None:
    """Write sysctls inside `ns` (keys like net.ipv4.conf.eth0.proxy_arp), never on the host.

    Interface names containing dots are written with '/' separators (net/ipv4/conf/eth0.10/...).
    """
    if not values:
        return
    paths = [(_sysctl_path(key), str(value)) for key, value in values.items()]
    with inside(ns):
        for path, value in paths:
            with open(path, "w") as f:
                f.write(value)


def read_sysctl(ns: str, key: str) -> str:
    path = _sysctl_path(key)
    with inside(ns):
        return path.read_text().strip()


def proxy_arp_sysctls(ifname: str) -> dict[str, str]:
    """Answer ARP for any address routed elsewhere on `ifname`, at once (Calico's cali* side)."""
    check_ifname(ifname)
    return {f"net.ipv4.conf.{ifname}.proxy_arp": "1", f"net.ipv4.neigh.{ifname}.proxy_delay": "0"}
