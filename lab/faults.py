"""Faults on a running netns lab: a link down and up, a routing daemon stopped and started, netem.

The provider's methods (`NetnsProvider.link/stop/start/netem/clear_netem`) call these, and
checks, scenarios and the `lab.link/stop/start/netem` tasks call the provider, so every fault
goes through one place.

- Link up restores what the lab installed through the interface, taken from the blueprint:
  the kernel drops every route through an interface set admin-down (a node's default route,
  the 169.254.1.1 route of a node without a gateway, a pod's default route, the node's
  /32 route to a pod) and none of them comes back on its own.
- Stop/start: the daemon records in the state file keep the command line; a stopped daemon's
  record stays (marked `stopped`), so `start` runs the same argv with the config on disk and
  its new record takes the old one's place; `down` never signals a stopped record (its start
  time no longer matches a live process).
- netem goes through pyroute2 (lab/providers/netns/tc.py), inside the namespace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Sequence

from .errors import LabError

SIGKILL_DEADLINE = 0.0  # stop(kill=True): SIGKILL at once, like a crashed daemon
START_DEADLINE = 10.0  # the same readiness deadline `up` gives a daemon
MAX_DELAY_MS = 60_000.0
DAEMONS = ("bird", "zebra", "bgpd")  # the routing daemons a target can run (state record roles)


# -- pure parts ------------------------------------------------------------------------------

def parse_endpoint(text: str) -> tuple[str, str]:
    """'leaf0:eth1' -> ('leaf0', 'eth1')."""
    target, sep, iface = str(text).partition(":")
    if not sep or not target or not iface or ":" in iface:
        raise LabError(f"'{text}' is not TARGET:IFACE (e.g. leaf0:eth1)")
    return target, iface


def parse_state(text: str) -> bool:
    if text not in ("up", "down"):
        raise LabError(f"link state '{text}' is neither up nor down")
    return text == "up"


def netem_numbers(delay_ms, jitter_ms, loss_pct) -> tuple[float, float, float]:
    """Validated netem figures (milliseconds, milliseconds, percent)."""
    values = []
    for label, value, top in (("delay", delay_ms, MAX_DELAY_MS), ("jitter", jitter_ms, MAX_DELAY_MS),
                              ("loss", loss_pct, 100.0)):
        try:
            number = float(value if value is not None else 0)
        except (TypeError, ValueError):
            raise LabError(f"netem {label} '{value}' is not a number") from None
        if not 0 <= number <= top or number != number:
            raise LabError(f"netem {label} {value} is out of range (0..{top:g})")
        values.append(number)
    delay, jitter, loss = values
    if jitter > delay:
        raise LabError(f"netem jitter {jitter:g} ms is larger than the delay {delay:g} ms")
    if not (delay or loss):
        raise LabError("netem needs a delay or a loss (or --clear to remove it)")
    return delay, jitter, loss


@dataclass(frozen=True)
class Restore:
    """What a link's `up` puts back in one namespace."""

    addresses: tuple = ()
    routes: tuple = ()
    sysctls: tuple = ()  # (key, value)


def restore_plan(bp, netns: str, iface: str) -> Restore:
    """The blueprint's addresses, routes and per-interface sysctls installed through `iface`.

    A route goes through `iface` when it names it as device, or when its gateway lies in the
    subnet of an address the blueprint puts on `iface` (a node's `default via <leaf>`).
    """
    addresses = tuple(a for a in bp.addresses if a.ns == netns and a.ifname == iface)
    subnets = [IPv4Interface(a.cidr).network for a in addresses]

    def through(route) -> bool:
        if route.dev is not None:
            return route.dev == iface
        return route.gateway is not None and any(IPv4Address(route.gateway) in net for net in subnets)

    # Scope-link routes first: a route via 169.254.1.1 needs the route to 169.254.1.1.
    routes = sorted((r for r in bp.routes if r.ns == netns and through(r)), key=lambda r: not r.scope_link)
    sysctls = tuple((k, v) for k, v in bp.sysctls.get(netns, {}).items() if f".{iface}." in k)
    return Restore(addresses, tuple(routes), sysctls)


def daemon_roles(record: dict, target: str) -> bool:
    role = record.get("role", "")
    daemon, _, who = role.partition(":")
    return who == target and daemon in DAEMONS


def stopped_targets(objects: Sequence[dict], alive=lambda record: True) -> list[str]:
    """Targets with a routing daemon marked stopped (or, by `alive`, dead), in creation order."""
    seen: list[str] = []
    for o in objects:
        if o.get("kind") != "process" or o.get("role", "").partition(":")[0] not in DAEMONS:
            continue
        if o.get("stopped") or not alive(o):
            who = o.get("role", "").partition(":")[2]
            if who and who not in seen:
                seen.append(who)
    return seen


# -- the lab side --------------------------------------------------------------------------

def _netns(lab, target: str) -> str:
    targets = lab.blueprint.targets
    if target not in targets:
        raise LabError(f"unknown target '{target}' (targets: {', '.join(targets)})")
    return targets[target].netns


def _iface(lab, target: str, iface: str) -> str:
    from .providers.netns import netlink

    ns = _netns(lab, target)
    names = netlink.links(ns)
    if iface not in names:
        raise LabError(f"{target} has no interface '{iface}' (interfaces: {', '.join(n for n in names if n != 'lo')})")
    return ns


def link(lab, target: str, iface: str, up: bool) -> str:
    """Set an interface of a target down or up; `up` restores what the lab installed through it."""
    from .providers.netns import netlink

    ns = _iface(lab, target, iface)
    try:
        netlink.set_link(ns, iface, up)
        if not up:
            return f"{target} {iface} down"
        plan = restore_plan(lab.blueprint, ns, iface)
        present = {a["cidr"] for a in _addresses(ns, iface)}
        for address in plan.addresses:
            if address.cidr not in present:
                netlink.add_address(ns, iface, address.cidr)
        for route in plan.routes:
            # replace: idempotent whether the kernel kept the route (carrier loss) or dropped it.
            netlink.add_route(ns, route.dst, gateway=route.gateway, dev=route.dev, scope_link=route.scope_link,
                              replace=True)
        if plan.sysctls:
            netlink.set_sysctls(ns, dict(plan.sysctls))
        # Setting a link down flushes its neighbour entries, permanent ones too: put the lab's back.
        for n in getattr(lab.blueprint, "neighbours", ()):
            if n.ns == ns and n.ifname == iface:
                netlink.add_neighbour(ns, iface, n.ip, n.mac)
    finally:
        netlink.close_all()
    restored = [f"{r.dst}" + (f" via {r.gateway}" if r.gateway else "") + (f" dev {r.dev}" if r.dev else "")
                for r in plan.routes]
    return f"{target} {iface} up" + (f"; routes restored: {', '.join(restored)}" if restored else "")


def _addresses(ns: str, iface: str) -> list[dict]:
    from .providers.netns import netlink

    h = netlink.handle(ns)
    idx = netlink.index(ns, iface)
    return [{"cidr": f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"} for a in h.get_addr(index=idx)]


def _daemon_records(lab, target: str) -> list[dict]:
    from .providers.netns.state import LabState

    _netns(lab, target)
    state = LabState(lab.state_path)
    found = [o for o in state.processes() if daemon_roles(o, target)]
    if not found:
        runs = sorted({o["role"].partition(":")[2] for o in state.processes()
                       if o.get("role", "").partition(":")[0] in DAEMONS})
        raise LabError(f"{target} runs no routing daemon (routers, nodes and route-reflector hosts do: {', '.join(runs)})")
    return found


def stop(lab, target: str, kill: bool = False) -> str:
    """Stop the routing daemon(s) of a target by PID (SIGTERM; `kill`: SIGKILL, a crash)."""
    from .providers.netns import procs
    from .providers.netns.state import LabState, _remove_tmpdir

    records = _daemon_records(lab, target)
    if all(_down(r) for r in records) and all(r.get("stopped") for r in records):
        return f"{target}: {', '.join(r['role'].partition(':')[0] for r in records)} already stopped"
    state = LabState(lab.state_path)
    stopped = []
    # bgpd before zebra, as FRR stops them: the reverse of the start order.
    for record in reversed(records):
        if record.get("stopped"):
            continue
        # A daemon that died by itself is marked stopped too, so `start` brings it back.
        procs.stop(record["pid"], record.get("starttime"), SIGKILL_DEADLINE if kill else 5.0)
        if procs.pid_alive(record["pid"], record.get("starttime")):
            raise LabError(f"{record['role']} (pid {record['pid']}) did not stop")
        if record.get("tmpdir"):
            _remove_tmpdir(record["tmpdir"], record.get("starttime"))
        state.replace(record["pid"], {**record, "stopped": True})
        stopped.append(f"{record['role'].partition(':')[0]} (pid {record['pid']})")
    how = "killed" if kill else "stopped"
    return f"{target}: {', '.join(reversed(stopped))} {how}; `invoke lab.start --name {lab.lab_name} {target}` starts it again"


def _alive(record: dict) -> bool:
    from .providers.netns import procs

    return procs.pid_alive(record["pid"], record.get("starttime"))


def _down(record: dict) -> bool:
    return bool(record.get("stopped")) or not _alive(record)


class _Replacing:
    """A state for procs.start whose new record takes the stopped record's place."""

    def __init__(self, state, old_pid: int):
        self.state, self.old_pid = state, old_pid

    def record_process(self, pid, starttime, netns, argv, role, **extra) -> None:
        self.state.replace(self.old_pid, dict(kind="process", pid=pid, starttime=starttime, netns=netns,
                                              argv=list(argv), role=role, **extra))


def start(lab, target: str) -> str:
    """Start a stopped target's daemon(s) with the recorded command line; wait until ready."""
    from .providers.netns import procs
    from .providers.netns.daemons import FRR_TMP
    from .providers.netns.state import LabState

    records = _daemon_records(lab, target)
    if not any(_down(r) for r in records):
        return f"{target}: already running"
    state = LabState(lab.state_path)
    started = time.monotonic()
    deadline = started + START_DEADLINE
    running: dict[str, procs.Proc] = {}
    for record in records:
        daemon = record["role"].partition(":")[0]
        if not _down(record):
            continue
        if daemon == "zebra":
            _unlink_stale_socket(record["argv"], "-z")
        if daemon == "bgpd":
            _wait_zserv(record["argv"], deadline, target)
        extra = {"tmpdir": f"{FRR_TMP}/{daemon}.{{pid}}"} if record.get("tmpdir") else None
        offset = record.get("clock_offset_ns")
        running[daemon] = procs.start(_Replacing(state, record["pid"]), record["netns"], record["argv"],
                                      log_path=record["log"], role=record["role"], extra=extra,
                                      clock_offset_ns=int(offset) if offset is not None else None,
                                      nice=int(record.get("nice", 0)))
    _wait_ready(lab, target, running, deadline)
    names = ", ".join(f"{d} (pid {p.pid})" for d, p in running.items())
    return f"{target}: {names} started, ready in {time.monotonic() - started:.2f}s"


def _arg(argv: Sequence[str], flag: str) -> str | None:
    argv = list(argv)
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def _unlink_stale_socket(argv: Sequence[str], flag: str) -> None:
    # A killed zebra leaves its zserv socket: bgpd would race to a dead socket.
    path = _arg(argv, flag)
    if path and Path(path).is_socket():
        Path(path).unlink()


def _wait_zserv(argv: Sequence[str], deadline: float, target: str) -> None:
    path = _arg(argv, "-z")
    while path and not Path(path).exists():
        if time.monotonic() >= deadline:
            raise LabError(f"zebra of {target} did not open {path} in time")
        time.sleep(0.02)


def _wait_ready(lab, target: str, running: dict, deadline: float) -> None:
    """The readiness probes `up` uses: vty `show version` for FRR, `birdc show status` for BIRD."""
    for daemon in lab.blueprint.frr:
        if daemon.target == target:
            router = lab._frr(daemon)
            router.procs = dict(running)
            router.wait_ready(deadline)
    for daemon in lab.blueprint.bird:
        if daemon.target == target:
            node = lab._bird(daemon)
            node.proc = running.get("bird")
            node.wait_ready(deadline)


def stopped_hint(lab) -> str | None:
    """One line for `lab.up` on a lab with stopped daemons: which, and how to start them."""
    from .providers.netns.state import LabState

    if not lab.is_up():
        return None
    targets = stopped_targets(LabState(lab.state_path).objects, _alive)
    if not targets:
        return None
    starts = "; ".join(f"invoke lab.start --name {lab.lab_name} {t}" for t in targets)
    return f"stopped routing daemons in lab {lab.lab_name}: {', '.join(targets)} (start them: {starts})"


def netem(lab, target: str, iface: str, delay_ms=0.0, jitter_ms=0.0, loss_pct=0.0) -> str:
    from .providers.netns import netlink, tc

    delay, jitter, loss = netem_numbers(delay_ms, jitter_ms, loss_pct)
    ns = _iface(lab, target, iface)
    try:
        tc.set_netem(ns, iface, delay, jitter, loss)
        shown = tc.netem_of(ns, iface)
    except LabError as exc:
        # One line that names the fault asked for; e.g. a kernel without sch_netem (ENOENT).
        raise LabError(f"netem on {target}:{iface}: {exc}") from None
    finally:
        netlink.close_all()
    if shown is None:
        raise LabError(f"{target} {iface}: the netem qdisc is not there after setting it")
    return (f"{target} {iface}: netem delay {shown['delay_ms']:g} ms jitter {shown['jitter_ms']:g} ms "
            f"loss {shown['loss_pct']:g} %")


def clear_netem(lab, target: str, iface: str) -> str:
    from .providers.netns import netlink, tc

    ns = _iface(lab, target, iface)
    try:
        removed = tc.clear_netem(ns, iface)
    finally:
        netlink.close_all()
    return f"{target} {iface}: netem removed" if removed else f"{target} {iface}: no netem to remove"
