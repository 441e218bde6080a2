"""Bring a running netns lab to what its datastore says, as calico-node follows a cluster.

confd re-renders BIRD's config when the resources change and BIRD reloads it
(`birdc configure`: protocols whose options did not change keep their sessions and
their SINCE time); Felix adds and removes pod interfaces and routes. Here:
`plan_reconcile` (pure) compares the blueprint the lab runs with the blueprint of the
datastore's contents and says what to do and why; `apply_reconcile` does it.

What the lab runs is read back from the lab itself, not from memory: each BIRD's
config file in its work directory, each pod namespace recorded in the state. So a
command that died half way (or a BIRD that refused a config) is healed by the next
reconcile, which finds the same differences again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from ...calico.peering import Session
from ...errors import DaemonError
from . import cpushare, netlink, startup
from .blueprint import Blueprint, Pod
from .frr_delta import bgpd_delta
from .state import LabState


@dataclass(frozen=True)
class SessionDelta:
    added: tuple[Session, ...] = ()
    removed: tuple[Session, ...] = ()
    changed: tuple[tuple[Session, Session], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass
class ReconcilePlan:
    reload: dict[str, str] = field(default_factory=dict)  # BIRD target -> new config
    sessions: dict[str, SessionDelta] = field(default_factory=dict)  # BIRD target -> session changes
    blocks: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # target -> (+, -)
    pods_removed: list[Pod] = field(default_factory=list)
    pods_added: list[Pod] = field(default_factory=list)
    frr: dict[str, list[str]] = field(default_factory=dict)  # router -> vtysh commands
    frr_configs: dict[str, str] = field(default_factory=dict)  # router -> its new bgpd config

    @property
    def empty(self) -> bool:
        return not (self.reload or self.pods_removed or self.pods_added or self.frr)


def _session_delta(old: tuple[Session, ...], new: tuple[Session, ...]) -> SessionDelta:
    before = {s.protocol: s for s in old}
    after = {s.protocol: s for s in new}

    def key(s: Session):  # what BIRD's protocol block depends on
        return (s.peer_address, s.peer_as, s.local_as, s.rr_client, s.rr_cluster_id, s.passive)

    return SessionDelta(
        tuple(after[p] for p in after if p not in before),
        tuple(before[p] for p in before if p not in after),
        tuple((before[p], after[p]) for p in after if p in before and key(before[p]) != key(after[p])))


def plan_reconcile(old: Blueprint, new: Blueprint, running: dict[str, str | None],
                   running_frr: dict[str, str | None] | None = None) -> ReconcilePlan:
    """`running`: per BIRD target the config it runs now (None: unknown or not running);
    `running_frr`: per router the bgpd config it runs now. Raises NotLive for a router
    change bgpd cannot take without a restart."""
    plan = ReconcilePlan()
    for router in new.frr:
        current = (running_frr or {}).get(router.target)
        if current is not None and current != router.bgpd_conf:
            commands = bgpd_delta(current, router.bgpd_conf)
            plan.frr_configs[router.target] = router.bgpd_conf
            if commands:
                plan.frr[router.target] = commands
    for daemon in new.bird:
        if running.get(daemon.target) != daemon.config:
            plan.reload[daemon.target] = daemon.config
        if daemon.k8s_name:
            delta = _session_delta(old.sessions.get(daemon.k8s_name, ()), new.sessions.get(daemon.k8s_name, ()))
            if delta:
                plan.sessions[daemon.target] = delta
            was = {b.cidr for b in old.ipam.blocks.get(daemon.k8s_name, ()) if b.export}
            now = {b.cidr for b in new.ipam.blocks.get(daemon.k8s_name, ()) if b.export}
            if was != now:
                plan.blocks[daemon.target] = (tuple(sorted(now - was)), tuple(sorted(was - now)))
    old_pods = {p.name: p for p in old.pods}
    new_pods = {p.name: p for p in new.pods}
    plan.pods_removed = [p for name, p in old_pods.items() if new_pods.get(name) != p]
    plan.pods_added = [p for name, p in new_pods.items() if old_pods.get(name) != p]
    return plan


def describe(plan: ReconcilePlan) -> list[str]:
    """One line per node (and per pod change) saying what changed, for the audience."""
    lines = []
    for router, commands in sorted(plan.frr.items()):
        changes = [c for c in commands if c not in ("configure terminal", "end", "address-family ipv4 unicast",
                                                    "exit-address-family") and not c.startswith("router bgp")]
        lines.append(f"  {router} (FRR): {'; '.join(changes)}")
    for target in sorted(set(plan.reload) | set(plan.sessions) | set(plan.blocks)):
        parts = []
        delta = plan.sessions.get(target, SessionDelta())
        parts += [f"+{s.protocol} ({s.peer_type}, AS {s.peer_as}{', rr client' if s.rr_client else ''})"
                  for s in delta.added]
        parts += [f"-{s.protocol}" for s in delta.removed]
        parts += [f"~{b.protocol} ({_what_changed(a, b)})" for a, b in delta.changed]
        added, removed = plan.blocks.get(target, ((), ()))
        parts += [f"+block {c}" for c in added] + [f"-block {c}" for c in removed]
        if target in plan.reload and not parts:
            parts.append("sessions unchanged; export filter or settings changed")
        verb = "reloaded" if target in plan.reload else "unchanged config"
        lines.append(f"  {target}: {verb}" + (f": {', '.join(parts)}" if parts else ""))
    for pod in plan.pods_removed:
        lines.append(f"  pod {pod.name} on {pod.node}: removed ({pod.ip})")
    for pod in plan.pods_added:
        lines.append(f"  pod {pod.name} on {pod.node}: {pod.ip}")
    return lines


def _what_changed(a: Session, b: Session) -> str:
    out = []
    for attr in ("peer_as", "local_as", "rr_client", "rr_cluster_id", "passive"):
        if getattr(a, attr) != getattr(b, attr):
            out.append(f"{attr.replace('_', ' ')} {getattr(a, attr)} -> {getattr(b, attr)}")
    return ", ".join(out)


# -- side effects ---------------------------------------------------------------------------

def _pod_part(bp: Blueprint, pod: Pod) -> Blueprint:
    """The items of `bp` that make one pod: its namespace, veth, address, routes, sysctls."""
    pns = bp.prefix + pod.name
    nns = bp.netns_of(pod.node)
    return replace(
        bp,
        namespaces=tuple(n for n in bp.namespaces if n.netns == pns),
        veths=tuple(v for v in bp.veths if v.ns_b == pns),
        bridges=(),
        addresses=tuple(a for a in bp.addresses if a.ns == pns),
        routes=tuple(r for r in bp.routes if r.ns == pns or (r.ns == nns and r.dev == pod.cali)),
        sysctls={pns: bp.sysctls[pns],
                 nns: {k: v for k, v in bp.sysctls[nns].items() if f".{pod.cali}." in k}},
        neighbours=tuple(n for n in bp.neighbours if n.ns == pns or (n.ns == nns and n.ifname == pod.cali)),
    )


def remove_pod(state: LabState, bp: Blueprint, pod: Pod) -> None:
    """Delete the pod's veth (from the node's side: both ends and the node's route through it
    go at once; a deleted namespace's interfaces go later, in the kernel's cleanup work, and a
    new pod of the same name would find the old cali* still there), then its namespace."""
    pns = bp.prefix + pod.name
    node_ns = bp.netns_of(pod.node)
    if pod.cali in netlink.links(node_ns):
        netlink.delete_link(node_ns, pod.cali)
    netlink.delete_netns(pns)
    state.forget(lambda o: o.get("kind") == "netns" and o.get("name") == pns)


def add_pod(state: LabState, bp: Blueprint, pod: Pod) -> None:
    part = _pod_part(bp, pod)
    for ns in part.namespaces:
        state.record_netns(ns.netns)  # intent first, as at `up`
        netlink.create_netns(ns.netns)
        netlink.set_sysctls(ns.netns, part.sysctls[ns.netns])
    for veth in part.veths:
        netlink.add_veth(veth.ns_a, veth.if_a, veth.ns_b, veth.if_b, up=True, mac_a=veth.mac_a, mac_b=veth.mac_b)
    for address in part.addresses:
        netlink.add_address(address.ns, address.ifname, address.cidr)
    for route in part.routes:
        netlink.add_route(route.ns, route.dst, gateway=route.gateway, dev=route.dev, scope_link=route.scope_link,
                          proto=route.proto, metric=route.metric)
    for n in part.neighbours:  # the pod's and Felix's permanent entries, as at `up`
        netlink.add_neighbour(n.ns, n.ifname, n.ip, n.mac)
    nns = bp.netns_of(pod.node)
    if part.sysctls.get(nns):
        netlink.set_sysctls(nns, part.sysctls[nns])


def running_configs(bp: Blueprint, workdir_of, daemons: str = "bird") -> dict[str, str | None]:
    """The config files each BIRD (or each router's bgpd) was last started or reloaded with."""
    out: dict[str, str | None] = {}
    for daemon in bp.bird if daemons == "bird" else bp.frr:
        path = Path(workdir_of(daemon.target)) / ("bird.conf" if daemons == "bird" else "bgpd.conf")
        try:
            out[daemon.target] = path.read_text()
        except OSError:
            out[daemon.target] = None
    return out


def apply_reconcile(plan: ReconcilePlan, bp: Blueprint, state: LabState, bird_of, out: TextIO,
                    frr_of=None) -> None:
    """Pods first (a new pod's route exists before its block is advertised), then BIRD reloads.
    A BIRD that refuses its config keeps the old one (BIRD's own rule); the next reconcile
    tries again. Failures are collected and raised together after every node was tried."""
    for pod in plan.pods_removed:
        remove_pod(state, bp, pod)
    for pod in plan.pods_added:
        add_pod(state, bp, pod)
    problems = []
    for router, config in plan.frr_configs.items():
        frr = frr_of(router)
        try:
            if plan.frr.get(router):
                frr.vtysh(*plan.frr[router])
            frr.conf_path("bgpd").write_text(config)  # what it runs now, for the next reconcile
        except DaemonError as exc:
            problems.append(str(exc))
    refused: dict[str, str] = {}

    def reload(item: tuple[str, str]) -> None:
        try:
            bird_of(item[0]).reload(item[1])
        except DaemonError as exc:
            refused[item[0]] = str(exc)

    # A few at a time: each is a `bird -p` dry run (a process) and a `configure` (1,000 nodes in
    # turn took minutes); every node is tried, the failures are collected in node order.
    startup.in_parallel(sorted(plan.reload.items()), reload)
    problems += [refused[target] for target in sorted(refused)]
    if plan.reload or plan.frr_configs:
        cpushare.apply(state, bp)  # the busiest speakers may be others now (cpushare.py)
    for line in describe(plan):
        out.write(line + "\n")
    if problems:
        raise DaemonError("; ".join(problems) + " (the datastore keeps the change: fix it and run any "
                          "lab.calicoctl command, or `invoke lab.up`, to reconcile again)")
