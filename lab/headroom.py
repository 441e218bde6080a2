"""Shared host limits a netns lab draws on, and whether a lab fits in what is left.

- The kernel's IPv4 neighbour (ARP) table is one table for every namespace: dynamic
  entries of all labs count against `net.ipv4.neigh.default.gc_thresh3` (1,024 by
  default, settable only in the host namespace). Past it the kernel refuses new
  entries ("neighbor table overflow"): BGP sessions of every lab on the host stay in
  Connect and pings are lost. The count in use and the times the table was full come
  from /proc/net/stat/arp_cache (host-wide figures, whatever namespace reads them).
  That count includes permanent entries, which do not count against the limit (Linux
  >= 4.19 exempts them; labs that program them can hold thousands), and the kernel
  exports no figure without them: so `up` refuses only a lab that cannot fit even in
  an empty table, and says when it may not fit beside what is there.
- Open files: `up` holds one pyroute2 IPRoute per namespace while it wires the lab
  (4 descriptors each, measured), and every daemon inherits `up`'s RLIMIT_NOFILE (a
  reflector with N clients holds N sockets). The soft limit is raised up to the hard
  one for this process only; beyond the hard limit `up` refuses.
- inotify: no netns daemon uses it (0 inotify descriptors in any bird, bgpd or zebra of
  a running reference lab); the clab part of `lab.doctor` checks it for kind and VyOS.

Reading is injectable (`proc` root, `rlimit`), so tests describe any host.
"""

from __future__ import annotations

import re
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

GC_THRESH3 = "net.ipv4.neigh.default.gc_thresh3"
FDS_PER_NAMESPACE = 4  # one IPRoute(groups=0) per namespace while `up` wires it: 4 descriptors
FDS_BASE = 64  # the interpreter, state and log files, pipes to daemons
# A daemon before its peers (measured in the reference lab: zebra 35, bgpd 22-24 with 2-4 peers, BIRD 9).
FDS_PER_DAEMON_BASE = 64
_NEIGHBOR = re.compile(r"^\s*neighbor (\d+\.\d+\.\d+\.\d+)[ ;]", re.M)


@dataclass(frozen=True)
class HostLimits:
    neigh_entries: int | None  # IPv4 neighbour entries on the host (all namespaces, permanent ones too)
    gc_thresh3: int | None
    table_fulls: int | None  # times the kernel found the table full since boot
    nofile_soft: int
    nofile_hard: int

    @property
    def neigh_free(self) -> int | None:
        """Free entries at least (the count in use includes permanent entries)."""
        if self.neigh_entries is None or self.gc_thresh3 is None:
            return None
        return max(0, self.gc_thresh3 - self.neigh_entries)


def _arp_cache(proc: Path) -> tuple[int | None, int | None]:
    """(entries, table_fulls) from /proc/net/stat/arp_cache (hex columns under a header line)."""
    try:
        header, values = Path(proc, "net/stat/arp_cache").read_text().split("\n")[:2]
        row = dict(zip(header.split(), (int(v, 16) for v in values.split())))
    except (OSError, ValueError):
        return None, None
    return row.get("entries"), row.get("table_fulls")


def read_host_limits(proc: Path | str = "/proc",
                     rlimit: Callable[[int], tuple[int, int]] = resource.getrlimit) -> HostLimits:
    entries, fulls = _arp_cache(Path(proc))
    try:
        thresh: int | None = int(Path(proc, "sys/net/ipv4/neigh/default/gc_thresh3").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        thresh = None
    soft, hard = rlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    return HostLimits(entries, thresh, fulls, 1 << 30 if soft == infinity else soft, 1 << 30 if hard == infinity else hard)


@dataclass(frozen=True)
class LabNeeds:
    namespaces: int
    neighbours: int  # dynamic neighbour entries its sessions and pods need
    open_files: int  # in the `up` process (and so in every daemon, which inherits the limit)
    busiest: str  # the speaker with the most peers, for the message
    busiest_peers: int


def lab_needs(bp) -> LabNeeds:
    """What a lab (its Blueprint) needs from the shared limits. Neighbour entries: only those
    that stay dynamic (`dynamic_neighbours`: session peers the lab owns no address of); every
    other peer, gateway and pod gets a permanent entry, which gc_thresh3 does not count."""
    peers = {d.target: set(_NEIGHBOR.findall(d.config)) for d in bp.bird}
    peers.update({d.target: set(_NEIGHBOR.findall(d.bgpd_conf)) for d in bp.frr})
    neighbours = len(set(bp.dynamic_neighbours))
    busiest, most = max(peers.items(), key=lambda kv: len(kv[1]), default=("", set()))
    open_files = max(FDS_BASE + FDS_PER_NAMESPACE * len(bp.namespaces), FDS_PER_DAEMON_BASE + len(most))
    return LabNeeds(len(bp.namespaces), neighbours, open_files, busiest, len(most))


def sysctl_advice(limits: HostLimits, needs: LabNeeds) -> str:
    raise_to = _round_up((limits.neigh_entries or 0) + needs.neighbours)
    return (f"raise it in the host namespace: sysctl -w {GC_THRESH3}={raise_to} "
            f"(and gc_thresh2 to about half of that)")


def neighbour_problem(needs: LabNeeds, limits: HostLimits) -> str | None:
    """The lab cannot fit even in an empty table."""
    if limits.gc_thresh3 is None or needs.neighbours <= limits.gc_thresh3:
        return None
    return (f"the host's neighbour table is too small for this lab: it needs {needs.neighbours} dynamic entries "
            f"and {GC_THRESH3} is {limits.gc_thresh3} for all namespaces together; {sysctl_advice(limits, needs)}")


def neighbour_warning(needs: LabNeeds, limits: HostLimits) -> str | None:
    """The lab may not fit beside the entries other labs hold (some may be permanent ones)."""
    free = limits.neigh_free
    if free is None or needs.neighbours <= free or neighbour_problem(needs, limits):
        return None
    return (f"this lab needs {needs.neighbours} dynamic neighbour entries and the host's table holds "
            f"{limits.neigh_entries} of {GC_THRESH3}={limits.gc_thresh3} (permanent ones included, which do not "
            f"count): if sessions stay in Connect, {sysctl_advice(limits, needs)}")


def open_files_problem(needs: LabNeeds, limits: HostLimits) -> str | None:
    if needs.open_files <= limits.nofile_hard:
        return None
    return (f"this lab needs about {needs.open_files} open files ({needs.namespaces} namespaces, "
            f"{needs.busiest_peers} peers on {needs.busiest}) and the hard limit is {limits.nofile_hard}: "
            f"raise it (`ulimit -Hn {_round_up(needs.open_files)}` as root, LimitNOFILE= for a service, "
            f"or nofile in /etc/security/limits.conf)")


def overflow_hint(before: HostLimits, after: HostLimits) -> str | None:
    """Why a failed `up` failed, if the kernel's neighbour table was full meanwhile."""
    if before.table_fulls is None or after.table_fulls is None or after.table_fulls <= before.table_fulls:
        return None
    return (f"the kernel's neighbour table overflowed during `up` ({after.table_fulls - before.table_fulls} times; "
            f"{after.neigh_entries} entries, {GC_THRESH3}={after.gc_thresh3}): sessions cannot resolve their peers. "
            f"Raise {GC_THRESH3} in the host namespace or remove other labs")


def require(bp, limits: HostLimits | None = None, set_soft: Callable[[int], None] | None = None) -> list[str]:
    """Before `up` creates anything: EnvironmentProblem if the lab cannot fit; raises this
    process's soft open-files limit (up to the hard one) when the lab needs more. Returns
    notes for the user (the lab may not fit beside other labs)."""
    from .errors import EnvironmentProblem

    limits = limits or read_host_limits()
    needs = lab_needs(bp)
    problem = neighbour_problem(needs, limits) or open_files_problem(needs, limits)
    if problem:
        raise EnvironmentProblem(problem + "; nothing was created")
    if needs.open_files > limits.nofile_soft:
        (set_soft or _set_soft)(min(limits.nofile_hard, _round_up(needs.open_files)))
    warning = neighbour_warning(needs, limits)
    return [warning] if warning else []


def _set_soft(soft: int) -> None:
    """This process's soft limit (daemons started later inherit it); the hard one is kept."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _round_up(value: int) -> int:
    """The next power of two at or above value (sysctl and ulimit advice in round figures)."""
    return 1 << max(0, int(value) - 1).bit_length()


def doctor_lines(limits: HostLimits, topo=None, needs: LabNeeds | None = None) -> list[tuple[str, str, str, str]]:
    """`lab.doctor`'s netns head-room items as (OK|WARN|MISSING, item, found, fix). `needs`:
    what `topo` needs (`lab_needs` of its blueprint, built by the caller: the blueprint belongs
    to the provider layer, above this one)."""
    found = (f"{limits.neigh_entries} of {limits.gc_thresh3} entries in use by all namespaces (permanent ones "
             f"included, which do not count)" if limits.neigh_free is not None else "unknown (no /proc/net/stat/arp_cache)")
    if needs:
        found += f"; {topo.name} needs {needs.neighbours} dynamic ones"
    if limits.table_fulls:
        found += f"; the table was full {limits.table_fulls} times since boot"
    problem = needs and neighbour_problem(needs, limits)
    warning = needs and neighbour_warning(needs, limits)
    status = "MISSING" if problem else "WARN" if warning or limits.table_fulls else "OK"
    fix = (sysctl_advice(limits, needs) if needs and (problem or warning) else
           f"sysctl -w {GC_THRESH3}=4096 in the host namespace gives every lab on this host room")
    lines = [(status, f"neighbour table ({GC_THRESH3})", found, fix)]
    if needs:
        problem = open_files_problem(needs, limits)
        lines.append(("MISSING" if problem else "OK", "open files (RLIMIT_NOFILE)",
                      f"soft {limits.nofile_soft}, hard {limits.nofile_hard}; {topo.name} needs about "
                      f"{needs.open_files} (`up` raises the soft limit itself)", problem or ""))
    return lines
