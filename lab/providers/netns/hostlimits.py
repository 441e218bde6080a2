"""Host-wide limits a big lab runs into, read (never changed) before anything is built.

- The kernel's IPv4 neighbour table is one for every namespace on the host: its entries and
  its gc_thresh3 come from the host's /proc (neighbours.py says why a lab needs head-room).
- This process's open-file limit: the netns provider keeps one netlink handle per namespace
  open while it builds a lab (netlink.py), a few descriptors each.
"""

from __future__ import annotations

import resource
from pathlib import Path

from ...errors import LabError

FDS_PER_HANDLE = 4  # a pyroute2 0.9 handle: its netlink socket, an epoll and the event loop's self-pipe


def ensure_descriptors(namespaces: int, margin: int = 256) -> None:
    """Make room for one open handle per namespace (they stay open while a lab is built):
    raise this process's soft RLIMIT_NOFILE up to its hard limit if needed, else LabError
    naming the limit (a raw EMFILE traceback half-way through the build otherwise)."""
    need = namespaces * FDS_PER_HANDLE + margin
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard == resource.RLIM_INFINITY or hard >= need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        else:
            raise LabError(f"this lab has {namespaces} namespaces and needs about {need} open files while it is "
                           f"built; the limit is {soft} (hard {hard}): raise it (`ulimit -n {need}`) and run again")


def host_neighbour_table() -> tuple[int, int]:
    """(entries, gc_thresh3) of the kernel's IPv4 neighbour table, read (never written) from
    the host's /proc: the table and its limit are shared by every namespace. `entries` counts
    permanent entries too (the kernel reports no other figure), so it is an upper bound of
    what counts against the limit."""
    try:
        lines = Path("/proc/net/stat/arp_cache").read_text().split("\n")
        entries = int(lines[1].split()[0], 16)
        limit = int(Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3").read_text())
    except (OSError, IndexError, ValueError):
        return 0, 1 << 30  # unknown: nothing to refuse on
    return entries, limit
