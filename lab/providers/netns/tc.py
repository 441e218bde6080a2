"""netem on a lab interface (tc via pyroute2's netlink handle of that namespace), for faults.

Split from netlink.py. It reaches the namespace through `netlink.handle`/`netlink.index`, so
tests that replace those reach this module too.
"""

from __future__ import annotations

import errno

from pyroute2.netlink.exceptions import NetlinkError

from ...errors import LabError
from . import netlink


def set_netem(ns: str, ifname: str, delay_ms: float = 0.0, jitter_ms: float = 0.0, loss_pct: float = 0.0) -> None:
    """A netem root qdisc on `ifname` (`tc qdisc replace dev IF root netem delay .. loss ..`).

    Any root qdisc the interface had is replaced: a lab interface has none of its own.
    pyroute2 takes delay and jitter in microseconds and loss in percent.
    """
    idx = netlink.index(ns, ifname)
    clear_netem(ns, ifname)
    try:
        netlink.handle(ns).tc("add", "netem", idx, delay=int(delay_ms * 1000), jitter=int(jitter_ms * 1000), loss=loss_pct)
    except NetlinkError as exc:
        if exc.code == errno.ENOENT:  # the kernel answers "unknown qdisc kind" with ENOENT
            raise LabError("this kernel has no netem qdisc (sch_netem): load it with `modprobe sch_netem` "
                           "or use a kernel built with CONFIG_NET_SCH_NETEM") from None
        raise LabError(f"cannot set netem on {ns}:{ifname}: {exc}") from None


def clear_netem(ns: str, ifname: str) -> bool:
    """Remove the root qdisc of `ifname` (back to the default); False if there was none."""
    try:
        netlink.handle(ns).tc("del", index=netlink.index(ns, ifname), root=True)
    except NetlinkError as exc:
        if exc.code in (errno.ENOENT, errno.EINVAL):  # no root qdisc of ours to remove
            return False
        raise
    return True


def netem_of(ns: str, ifname: str) -> dict | None:
    """The netem root qdisc of `ifname` as {'delay_ms', 'jitter_ms', 'loss_pct'}, or None."""
    idx = netlink.index(ns, ifname)
    for qdisc in netlink.handle(ns).get_qdiscs(index=idx):
        if qdisc.get_attr("TCA_KIND") != "netem" or qdisc["parent"] != 0xFFFFFFFF:
            continue
        opts = qdisc.get_attr("TCA_OPTIONS") or {}
        ticks = _ticks_per_us()
        return {"delay_ms": round(opts.get("delay", 0) / ticks / 1000, 3),
                "jitter_ms": round(opts.get("jitter", 0) / ticks / 1000, 3),
                "loss_pct": round(opts.get("loss", 0) / 0xFFFFFFFF * 100, 3)}
    return None


def _ticks_per_us() -> float:
    from pyroute2.netlink.rtnl.tcmsg.common import TIME_UNITS_PER_SEC, tick_in_usec

    return tick_in_usec * TIME_UNITS_PER_SEC / 1_000_000
