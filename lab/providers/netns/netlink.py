"""Namespace-scoped network operations (pyroute2 0.9 API), nothing in the host namespace.

Every function takes the name of a namespace the lab created and acts inside it
only. Nothing here reads a topology: the provider says what to create.

How it is done, and why. Figures: `sudo .venv/bin/python bench/primitives.py`
(2 cores, kernel 6.18, pyroute2 0.9.7, medians of 10):

- Namespaces are created in-process: the calling *thread* does
  unshare(CLONE_NEWNET), bind-mounts /proc/thread-self/ns/net onto
  /run/netns/NAME (what `ip netns add` does) and setns()es back; with the
  namespace's handle and `lo` up: ~2.2-3.5 ms (unshare 0.5, handle 0.85, lo up
  0.7). pyroute2's `netns.create` forks a helper for the bare namespace:
  ~3.5-8 ms, and that helper can outlive a kill -9 of the caller and finish the
  namespace after teardown looked. Nothing here forks.
- One netlink handle per namespace, opened once and reused: `IPRoute(groups=0)`
  created while this thread is inside the namespace (a netlink socket belongs
  to the namespace it is created in): ~0.86 ms. `NetNS(name)` /
  `IPRoute(netns=name)` fork a child to make the socket: ~8.7 ms each (and both
  default to flags=O_CREAT: they silently *create* a missing namespace).
  groups=0: the handle does not subscribe to events it would have to read and
  drop. A request on an open handle costs 0.5-0.8 ms (pyroute2 0.9 runs each
  through an asyncio loop), a veth pair ~1.5 ms.
- Interface indexes are cached per (namespace, name): a lookup costs a request.
- A veth pair is created from inside namespace A with the peer's
  IFLA_NET_NS_FD pointing at namespace B: the kernel creates each end directly
  in its namespace, so both ends can be called eth1 and no interface exists in
  the host namespace, not even for a moment (the tests watch the host's link
  events while building).
- The A end gets an explicit index >= 1000 so the ends never share one (see
  `add_veth`): with equal indexes a veth into a bridge passes traffic ~1 s late.
- `up=True` creates interfaces up (veth peer brought up by name right after):
  the reference shape below builds in ~160 ms that way against ~245 ms when
  everything is created down and `set_all_up` dumps each namespace.
- Sysctls are written to /proc/sys while this thread is inside the namespace
  (/proc/sys/net follows the opener's network namespace): 4 keys ~0.3 ms. Only
  per-namespace keys are accepted (see `_sysctl_path`), and every entry into a
  namespace verifies the thread really left the namespace it came from, so a
  sysctl meant for the lab can never land on the host.
- The reference lab's shape (4 router, 2 bridge, 4 node, 4 pod namespaces, 14
  veth pairs, 2 bridges, 22 addresses, 16 routes, sysctls, each namespace
  recorded durably in a LabState first) is built in ~160 ms; the first pings
  across a veth and a bridge answer ~5-10 ms later; deleting its 14 namespaces
  takes ~4 ms (the kernel frees them in the background).

Not thread-safe: call from one thread (the handles and the namespace switching
are per thread, and pyroute2 sync handles are bound to their creator's loop).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import socket
from typing import Iterable, Mapping, Sequence

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ...errors import LabError
# Re-exported: callers use netlink.inside, netlink.set_sysctls ... (split into nsenter.py, sysctls.py).
from .nsenter import (_MNT_DETACH, _MS_BIND, CLONE_NEWNET, NETNS_DIR, _check_mac, _libc,  # noqa: F401
                      _prepare_rundir, _setns, check_ifname, check_netns_name, inside, list_netns, netns_exists)
from .sysctls import (FORWARDING_SYSCTLS, NETNS_SYSCTLS, proxy_arp_sysctls, read_sysctl,  # noqa: F401
                      set_sysctls)

RT_SCOPE_LINK = 253
NUD_PERMANENT = 0x80

_handles: dict[str, IPRoute] = {}
_indexes: dict[tuple[str, str], int] = {}
_next_index: dict[str, int] = {}


# -- namespaces --------------------------------------------------------------------------

def create_netns(name: str) -> None:
    """Create namespace `name` (visible in `ip netns list`) with `lo` up; no child process.

    The caller records its intent in the lab state *before* calling: a crash half-way leaves
    at most an empty /run/netns/NAME, which `delete_netns` removes.
    """
    check_netns_name(name)
    if netns_exists(name):
        raise LabError(f"network namespace {name} already exists but this lab's state does not list it "
                       f"(left by another program or a removed state file): delete it with `ip netns del {name}`")
    _prepare_rundir()
    path = NETNS_DIR / name
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            os.unlink(path)
            raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
        try:
            if _libc.mount(b"/proc/thread-self/ns/net", str(path).encode(), b"none", _MS_BIND, None) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"bind-mount of the new namespace on {path}: {os.strerror(err)}")
            # The socket of a netlink handle belongs to the namespace it is created in.
            handle = _handles[name] = IPRoute(groups=0)
            handle.link("set", index=1, state="up")  # lo is always index 1
            _next_index[name] = HIGH_INDEX + 1  # nothing else exists yet in a new namespace
        finally:
            _setns(home)
    except BaseException:
        delete_netns(name)
        raise
    finally:
        os.close(home)


def delete_netns(name: str) -> bool:
    """Delete a namespace (its veths, bridges and routes go with it). False if it did not exist."""
    handle = _handles.pop(name, None)
    if handle is not None:
        handle.close()
    for key in [k for k in _indexes if k[0] == name]:
        del _indexes[key]
    _next_index.pop(name, None)
    path = NETNS_DIR / check_netns_name(name)
    if not os.path.lexists(path):
        return False
    _libc.umount2(str(path).encode(), _MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True


def close_all() -> None:
    """Close every open handle (they keep their namespace alive while open)."""
    while _handles:
        _, handle = _handles.popitem()
        handle.close()
    _indexes.clear()
    _next_index.clear()


def handle(ns: str) -> IPRoute:
    """The (cached) pyroute2 handle of namespace `ns`, for operations this module lacks."""
    found = _handles.get(ns)
    if found is None:
        with inside(ns):
            found = _handles[ns] = IPRoute(groups=0)
    return found


def index(ns: str, ifname: str) -> int:
    key = (ns, ifname)
    found = _indexes.get(key)
    if found is None:
        found_list = handle(ns).link_lookup(ifname=ifname)
        if not found_list:
            raise LabError(f"no interface {ifname} in namespace {ns}")
        found = _indexes[key] = found_list[0]
    return found


def _forget(ns: str, ifname: str) -> None:
    _indexes.pop((ns, ifname), None)


# -- links -------------------------------------------------------------------------------

def add_veth(ns_a: str, if_a: str, ns_b: str, if_b: str, *, mac_a: str | None = None,
             mac_b: str | None = None, mtu: int | None = None, up: bool = False) -> None:
    """A veth pair: `if_a` in `ns_a`, `if_b` in `ns_b` (each created directly there).

    Both ends are down unless `up`: then `if_a` is created up and `if_b` brought up by name
    right after (2 requests instead of the 2 lookups + 2 requests a later `set_all_up` costs).

    The `ns_a` end gets an explicit interface index from a high range (`_high_index`), so the
    two ends never share an index. The kernel's linkwatch treats a state change of a stacked
    device whose index equals its peer's (ifindex == iflink, which two fresh namespaces give
    all the time: both ends are index 2) as non-urgent and applies it at most once a second;
    until then that end is not "running" (operstate DOWN): a bridge does not forward on it,
    the bridge has no carrier, routing daemons see the link down. Measured (bench): a veth
    into a bridge with an address answers its first ping ~1030 ms after being brought up with
    equal indexes, ~9 ms with different ones. (Reading the interface with RTM_GETLINK makes
    the kernel apply its pending event at once, which hides the delay from anyone polling.)
    """
    check_ifname(if_a), check_ifname(if_b)
    peer: dict = {"ifname": if_b}
    spec: dict = {"ifname": if_a, "kind": "veth"}
    if mac_a:
        spec["address"] = _check_mac(mac_a)
    if mac_b:
        peer["address"] = _check_mac(mac_b)
    if mtu:
        spec["mtu"] = peer["mtu"] = int(mtu)
    if up:
        spec["state"] = "up"
    h = handle(ns_a)
    fd = None
    if ns_b != ns_a:
        fd = peer["net_ns_fd"] = os.open(NETNS_DIR / check_netns_name(ns_b), os.O_RDONLY | os.O_CLOEXEC)
    try:
        for attempt in (1, 2):
            spec["index"] = _high_index(ns_a, refresh=attempt == 2)
            try:
                h.link("add", **spec, peer=peer)
                break
            except NetlinkError as exc:
                # EBUSY: the index was taken behind our back (another process); retry once, fresh.
                if exc.code != errno.EBUSY or attempt == 2:
                    raise LabError(f"cannot create veth {ns_a}:{if_a} <-> {ns_b}:{if_b}: {exc}") from exc
    finally:
        if fd is not None:
            os.close(fd)
    if spec["index"]:
        _indexes[(ns_a, if_a)] = spec["index"]
    if up:
        handle(ns_b).link("set", ifname=if_b, state="up")


HIGH_INDEX = 1000  # automatic indexes in a lab namespace stay far below this


def _high_index(ns: str, refresh: bool = False) -> int:
    """An unused interface index >= HIGH_INDEX in `ns` (one link dump per namespace, then counted)."""
    if refresh or ns not in _next_index:
        used = [link["index"] for link in handle(ns).get_links()]
        _next_index[ns] = max([HIGH_INDEX, *used]) + 1
    found = _next_index[ns]
    _next_index[ns] = found + 1
    return found


def add_bridge(ns: str, name: str, ports: Iterable[str] = (), *, mac: str | None = None, up: bool = False) -> None:
    """A Linux bridge (STP off: ports forward at once) inside `ns`, with `ports` enslaved."""
    spec: dict = {"ifname": check_ifname(name), "kind": "bridge"}
    if up:
        spec["state"] = "up"
    if mac:
        spec["address"] = _check_mac(mac)
    handle(ns).link("add", **spec)
    for port in ports:
        enslave(ns, port, name)


def enslave(ns: str, port: str, bridge: str) -> None:
    handle(ns).link("set", index=index(ns, port), master=index(ns, bridge))


def delete_link(ns: str, ifname: str) -> None:
    """Delete an interface (a veth takes its peer with it, wherever the peer is)."""
    handle(ns).link("del", index=index(ns, ifname))
    _forget(ns, ifname)


def set_link(ns: str, ifname: str, up: bool) -> None:
    handle(ns).link("set", index=index(ns, ifname), state="up" if up else "down")


def set_all_up(ns: str) -> None:
    """Bring up every interface of `ns` that is down (one dump, then one request each)."""
    h = handle(ns)
    for link in h.get_links():
        _indexes[(ns, link.get_attr("IFLA_IFNAME"))] = link["index"]
        if not link.get("flags", 0) & 1:  # IFF_UP
            h.link("set", index=link["index"], state="up")


def set_mac(ns: str, ifname: str, mac: str) -> None:
    handle(ns).link("set", index=index(ns, ifname), address=_check_mac(mac))


def link_info(ns: str, ifname: str) -> dict:
    """State of one interface: up (admin), carrier, operstate ('UP' once the kernel's linkwatch
    has processed the carrier change: only then does the interface pass traffic), mac, master
    (index) and mtu."""
    (link,) = handle(ns).link("get", index=index(ns, ifname))
    return {"up": bool(link["flags"] & 1), "carrier": link.get_attr("IFLA_CARRIER") == 1,
            "operstate": link.get_attr("IFLA_OPERSTATE"),
            "mac": link.get_attr("IFLA_ADDRESS"), "master": link.get_attr("IFLA_MASTER"),
            "mtu": link.get_attr("IFLA_MTU")}


def links(ns: str) -> list[str]:
    return [link.get_attr("IFLA_IFNAME") for link in handle(ns).get_links()]


# -- addresses, routes, neighbours ---------------------------------------------------------

def add_address(ns: str, ifname: str, cidr: str) -> None:
    address, _, prefix = cidr.partition("/")
    handle(ns).addr("add", index=index(ns, ifname), address=address, prefixlen=int(prefix or 32))


def add_route(ns: str, dst: str, gateway: str | None = None, dev: str | None = None,
              scope_link: bool = False, blackhole: bool = False,
              nexthops: Sequence[Mapping[str, str]] | None = None, metric: int | None = None,
              replace: bool = False, proto: int | None = None) -> None:
    """One IPv4 route in `ns`.

    dst: "a.b.c.d/len" or "default". Kinds:
      gateway (optionally with dev):        `ip route add DST via GW [dev DEV]`
      dev + scope_link:                     `ip route add DST dev DEV scope link`
      blackhole:                            `ip route add blackhole DST`
      nexthops=[{"gateway":..., "dev":...}, ...]: ECMP `nexthop via .. nexthop via ..`
    """
    spec: dict = {"dst": "0.0.0.0/0" if dst == "default" else dst}
    if blackhole:
        if gateway or dev or nexthops:
            raise LabError(f"blackhole route {dst} in {ns} takes no gateway, dev or nexthops")
        spec["type"] = "blackhole"
    if gateway:
        spec["gateway"] = gateway
    if dev:
        spec["oif"] = index(ns, dev)
    if scope_link:
        spec["scope"] = RT_SCOPE_LINK
    if nexthops:
        spec["multipath"] = [{k: v for k, v in (("gateway", hop.get("gateway")),
                                                ("oif", index(ns, hop["dev"]) if hop.get("dev") else None))
                              if v is not None} for hop in nexthops]
    if metric is not None:
        spec["priority"] = int(metric)
    if proto is not None:  # e.g. 3 (boot), what Felix uses for pod routes: `ip route` does not print it
        spec["proto"] = int(proto)
    handle(ns).route("replace" if replace else "add", **spec)


def add_neighbour(ns: str, ifname: str, ip: str, mac: str) -> None:
    """A permanent ARP entry (`ip neigh replace IP lladdr MAC dev IF nud permanent`)."""
    handle(ns).neigh("replace", dst=ip, lladdr=_check_mac(mac), ifindex=index(ns, ifname), state=NUD_PERMANENT)


def neighbours(ns: str) -> list[dict]:
    """IPv4 neighbour entries of `ns` as {'ip', 'dev', 'mac', 'state'} (state: NUD name, lower case)."""
    h = handle(ns)
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in h.get_links()}
    out = []
    for n in h.get_neighbours(family=socket.AF_INET):
        state = n["state"]
        out.append({"ip": n.get_attr("NDA_DST"), "dev": names.get(n["ifindex"]), "mac": n.get_attr("NDA_LLADDR"),
                    "state": next((name for bit, name in _NUD if state & bit), f"0x{state:x}")})
    return out


_NUD = ((0x80, "permanent"), (0x40, "noarp"), (0x02, "reachable"), (0x04, "stale"), (0x08, "delay"),
        (0x10, "probe"), (0x01, "incomplete"), (0x20, "failed"))


def routes(ns: str) -> list[dict]:
    """IPv4 main-table routes of `ns` as {'dst', 'gateway', 'dev', 'proto', 'type', 'nexthops'}."""
    h = handle(ns)
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in h.get_links()}
    out = []
    for r in h.get_routes(family=socket.AF_INET, table=254):
        dst = r.get_attr("RTA_DST")
        hops = [{"gateway": hop.get_attr("RTA_GATEWAY"), "dev": names.get(hop["oif"])}
                for hop in (r.get_attr("RTA_MULTIPATH") or [])]
        out.append({"dst": f"{dst}/{r['dst_len']}" if dst else "default", "gateway": r.get_attr("RTA_GATEWAY"),
                    "dev": names.get(r.get_attr("RTA_OIF")), "proto": r["proto"], "type": r["type"],
                    "nexthops": hops})
    return out
