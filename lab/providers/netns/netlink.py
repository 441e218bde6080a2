"""Namespace-scoped network operations through pyroute2 (0.9 API).

One `NetNS` handle per namespace is opened once and reused (opening costs ~10 ms,
an operation on an open handle well under 1 ms), and closed by `close_all()` or
when its namespace is deleted. Veth pairs are created from inside one namespace
with the peer placed straight into the other, so no interface ever appears in
the host namespace. Sysctls are written from inside the namespace (setns on this
thread), never on the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from pyroute2 import NetNS, netns as _netns

NETNS_DIR = Path("/var/run/netns")
_handles: dict[str, NetNS] = {}


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create_netns(name: str) -> None:
    if netns_exists(name):
        from ...errors import LabError

        raise LabError(f"network namespace {name} already exists but this lab's state does not list it "
                       f"(left by another program or a removed state file): delete it with `ip netns del {name}`")
    _netns.create(name)
    handle = _ns(name)
    handle.link("set", index=handle.link_lookup(ifname="lo")[0], state="up")


def delete_netns(name: str) -> bool:
    handle = _handles.pop(name, None)
    if handle is not None:
        handle.close()
    if not netns_exists(name):
        return False
    _netns.remove(name)
    return True


def close_all() -> None:
    while _handles:
        _, handle = _handles.popitem()
        handle.close()


def _ns(name: str) -> NetNS:
    handle = _handles.get(name)
    if handle is None:
        handle = _handles[name] = NetNS(name)
    return handle


def _index(ns: str, ifname: str) -> int:
    found = _ns(ns).link_lookup(ifname=ifname)
    if not found:
        raise LookupError(f"no interface {ifname} in namespace {ns}")
    return found[0]


def add_veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    _ns(ns_b)  # the peer's namespace must exist and be open before the pair is made
    _ns(ns_a).link("add", ifname=if_a, kind="veth", peer={"ifname": if_b, "net_ns_fd": ns_b})


def add_bridge(ns: str, name: str, ports: Iterable[str]) -> None:
    handle = _ns(ns)
    handle.link("add", ifname=name, kind="bridge")
    bridge = _index(ns, name)
    for port in ports:
        handle.link("set", index=_index(ns, port), master=bridge)


def add_address(ns: str, ifname: str, cidr: str) -> None:
    address, prefix = cidr.split("/")
    _ns(ns).addr("add", index=_index(ns, ifname), address=address, prefixlen=int(prefix))


def set_link(ns: str, ifname: str, up: bool) -> None:
    _ns(ns).link("set", index=_index(ns, ifname), state="up" if up else "down")


def set_all_up(ns: str) -> None:
    handle = _ns(ns)
    for link in handle.get_links():
        if not link.get("flags", 0) & 1:  # IFF_UP
            handle.link("set", index=link["index"], state="up")


def add_route(ns: str, dst: str, gateway: str | None = None, dev: str | None = None,
              scope_link: bool = False, blackhole: bool = False) -> None:
    spec: dict = {"dst": "0.0.0.0/0" if dst == "default" else dst}
    if blackhole:
        spec["type"] = "blackhole"
    if gateway:
        spec["gateway"] = gateway
    if dev:
        spec["oif"] = _index(ns, dev)
    if scope_link:
        spec["scope"] = 253  # RT_SCOPE_LINK
    _ns(ns).route("add", **spec)


def set_sysctls(ns: str, values: Mapping[str, str]) -> None:
    """Write sysctls inside `ns`: /proc/sys/net follows the writer's network namespace."""
    if not values:
        return
    _netns.pushns(ns)
    try:
        for key, value in values.items():
            Path("/proc/sys", *key.split(".")).write_text(str(value))
    finally:
        _netns.popns()


def read_sysctl(ns: str, key: str) -> str:
    _netns.pushns(ns)
    try:
        return Path("/proc/sys", *key.split(".")).read_text().strip()
    finally:
        _netns.popns()
