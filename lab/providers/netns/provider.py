"""The netns provider: a lab of namespaces, veths, bridges, FRR and BIRD on this host.

`up` applies a `Blueprint` as an ordered list of steps. Every object is recorded
in the lab's state file before or as it is created, so `down` removes everything
after a crash at any point. The topology and Calico resources in force are kept
in the lab's run directory, so later commands (status, test, down) see the lab
as it was built even if the topology file has changed since.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import time
from ipaddress import IPv4Network
from pathlib import Path
from typing import Sequence, TextIO

from ... import headroom, model as m
from ...calico.resources import ResourceSet
from ...calico.ipam_state import IpamState
from ...calico.store import Store, decode
from ...contract import LabProvider, PodInfo
from ...errors import DaemonError, LabError
from ...exec import NetnsAccess
from ...loader import load_topology
from ...paths import run_root as resolve_run_root
from ...preflight import require_binaries, require_root
from ..base import Provider, Step, run_steps
from ...names import check_lab_name
from . import live, netlink, startup
from .activity import LabActivity
from .blueprint import LEGACY_PREFIX, Blueprint, build_blueprint, calico_resources, lab_prefix, seed_documents
from .frr_delta import NotLive
from .reconcile import ReconcilePlan, apply_reconcile, plan_reconcile, running_configs
# RUN_ROOT (below) only for callers that import it from here; this module resolves lab.paths.run_root().
from .daemons import BirdNode, FrrRouter
from .lock import RUN_ROOT  # noqa: F401 -- re-exported, see above
from .state import LabState, teardown
BINARIES = ("ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping")
# Sessions active at both ends (Calico's Node_, a reflector host's) can collide at start and
# retry on BIRD's error wait (5 s doubling to 30 s); each BIRD has its own clock phase
# (timens.py), so they rarely collide twice, but a saturated host can need a few retries.
CONVERGE_DEADLINE = 120.0


class NetnsProvider(LabActivity, Provider):
    name = "netns"

    def __init__(self, topo: m.Topology, lab_name: str | None = None, out_dir=None, run_root: Path | None = None):
        super().__init__(topo, lab_name, out_dir)
        check_lab_name(self.lab_name)
        self.run_dir = resolve_run_root(run_root) / self.lab_name
        self.state_path = self.run_dir / "state.json"
        self._blueprint: Blueprint | None = None
        self._bp_revision = -1
        self._seed: tuple[list[dict], IpamState] | None = None
        self.converge_deadline = CONVERGE_DEADLINE  # `lab.up --wait`

    # -- lab identity --------------------------------------------------------------------

    @classmethod
    def attach(cls, lab_name: str, run_root: Path | None = None, out_dir=None) -> "NetnsProvider":
        """The provider of a lab that was built before, with the topology it was built from."""
        saved = resolve_run_root(run_root) / lab_name / "topology.yaml"
        if not saved.is_file():
            raise LabError(f"no netns lab named '{lab_name}' is up (nothing in {saved.parent})")
        # Its Calico resources are in its datastore: the saved copy's `calico.resources` files
        # (relative to where the topology was) are not needed, and not looked for here.
        return cls(load_topology(saved, lenient_resources=True), lab_name, out_dir, run_root)

    @staticmethod
    def exists(lab_name: str, run_root: Path | None = None) -> bool:
        return (resolve_run_root(run_root) / lab_name / "state.json").is_file()

    def is_up(self) -> bool:
        return self.state_path.is_file()

    def is_complete(self) -> bool:
        return self.is_up() and LabState(self.state_path).meta.get("phase") == "up"

    def store(self) -> Store:
        """The lab's datastore: the Calico resources in force and its IPAM state."""
        return Store(self.run_dir / "calico", self.topo.calico.version)

    @property
    def blueprint(self) -> Blueprint:
        """What the lab is made of now: built from the datastore (the topology only seeded it)."""
        store = self.store()
        revision = store.revision() if store.exists() else 0
        if self._blueprint is None or self._bp_revision != revision:
            if revision:
                self._blueprint = build_blueprint(self.topo, self.lab_name, store.resources(), store.ipam(),
                                                  prefix=self.ns_prefix())
            else:
                self._blueprint = build_blueprint(self.topo, self.lab_name, prefix=self.ns_prefix())
            self._bp_revision = revision
        return self._blueprint

    def ns_prefix(self) -> str:
        """The namespace prefix of this lab: as recorded when it was built (a lab of the old
        `fl-<lab>-` scheme has none recorded), else the current scheme."""
        if self.state_path.is_file():
            return LabState(self.state_path).meta.get("ns_prefix") or LEGACY_PREFIX.format(lab=self.lab_name)
        return lab_prefix(self.lab_name)

    def resources(self) -> ResourceSet:
        """The Calico resources in force: the datastore's, or the topology's before `up`."""
        store = self.store()
        if store.exists():
            return store.resources()
        return calico_resources(self.topo)[0]

    # -- daemons -------------------------------------------------------------------------

    def _frr(self, daemon) -> FrrRouter:
        return FrrRouter(daemon.target, daemon.ns, self.run_dir / daemon.target, daemon.zebra_conf, daemon.bgpd_conf,
                         nice=daemon.nice)

    def _bird(self, daemon) -> BirdNode:
        return BirdNode(daemon.target, daemon.ns, self.run_dir / daemon.target, daemon.config,
                        clock_offset_ns=daemon.clock_offset_ns, nice=daemon.nice)

    # -- up ------------------------------------------------------------------------------

    def up(self, out: TextIO, seed: tuple[list[dict], IpamState] | None = None) -> None:
        """`seed`: the datastore's first documents and IPAM state instead of the topology's
        (a replayed bug bundle starts from the state its lab started from)."""
        if self.is_up():
            self._refuse_other_topology()
            if self.is_complete():
                out.write(f"lab {self.lab_name} is already up (netns); "
                          f"`invoke lab.down --name {self.lab_name}` removes it\n")
                return
            raise LabError(f"lab {self.lab_name} is partly built (an earlier `up` did not finish): "
                           f"run `invoke lab.down --name {self.lab_name}` first")
        require_root()
        require_binaries(BINARIES)
        self._seed = seed
        bp = build_blueprint(self.topo, self.lab_name, decode(seed[0], "the seed", self.topo.calico.version) if seed else None,
                             seed[1] if seed else None)
        # Configs are checked before anything exists: a refused config changes nothing on the host.
        self._check_configs(bp)
        for note in headroom.require(bp):  # the host's shared neighbour table and open files
            out.write(f"note: {note}\n")
        started = self._started = time.monotonic()
        self.timings: dict[str, float] = {}
        state = LabState(self.state_path)
        state.set_meta(lab=self.lab_name, provider=self.name, topology=str(self.topo.source), phase="building",
                       ns_prefix=bp.prefix)
        self.built_something = True  # from here on, a failure leaves objects `down` must remove
        steps = [
            Step(f"save topology and Calico resources to {self.run_dir}", lambda: self._save(state, bp)),
            Step(f"create {len(bp.namespaces)} namespaces", lambda: self._namespaces(state, bp)),
            Step(f"wire {len(bp.veths)} veth pairs and {len(bp.bridges)} bridges", lambda: self._links(bp)),
            Step(f"program {len(bp.neighbours)} permanent neighbour entries ({len(set(bp.dynamic_neighbours))} dynamic ones left for "
                 "sessions)", lambda: self._neighbours(bp)),
            *self._daemon_steps(state, bp),
            Step("wait for every planned BGP session and pod route", lambda: self._converge(bp, self.converge_deadline)),
        ]
        try:
            run_steps(steps, out)
        finally:
            netlink.close_all()
        state.set_meta(phase="up")
        self._blueprint = bp
        self.timings["up"] = time.monotonic() - started
        out.write(f"lab {self.lab_name} is up in {self.timings['up']:.1f}s "
                  f"({len(bp.frr)} routers, {len(bp.bird)} BIRD speakers, {len(bp.pods)} pods; "
                  f"all BGP sessions Established after {self.timings['sessions_established']:.1f}s)\n")

    def _refuse_other_topology(self) -> None:
        """`up --name EXISTING` with another topology (or the file changed since): say so."""
        saved = self.run_dir / "topology.yaml"
        try:
            same = saved.read_bytes() == Path(self.topo.source).read_bytes()
        except OSError:
            return  # partly built before the copy was saved: the partly-built message follows
        if not same:
            built_from = LabState(self.state_path).meta.get("topology", "?")
            raise LabError(f"lab {self.lab_name} exists with a different topology (built from {built_from}; "
                           f"{self.topo.source} differs): `invoke lab.down --name {self.lab_name}` first, "
                           f"or choose another --name")

    def _check_configs(self, bp: Blueprint) -> None:
        with tempfile.TemporaryDirectory(prefix="fabriclab-check-") as tmp:
            Path(tmp).chmod(0o755)  # FRR reads its config as user frr
            # One dry run per daemon (a process each): a few at a time (1,000 in turn took ~15 s).
            startup.in_parallel([FrrRouter(r.target, r.ns, Path(tmp) / r.target, r.zebra_conf, r.bgpd_conf)
                                 for r in bp.frr], lambda router: router.check())
            startup.in_parallel([BirdNode(b.target, b.ns, Path(tmp) / b.target, b.config) for b in bp.bird],
                                lambda node: node.check())

    def _save(self, state: LabState, bp: Blueprint) -> None:
        state.record_dir(self.run_dir)
        (self.run_dir / "calico").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.topo.source, self.run_dir / "topology.yaml")
        documents = self._seed[0] if self._seed else seed_documents(self.topo)
        self.store().seed(documents, bp.ipam_state, str(self.topo.source))
        # The datastore now holds exactly what `bp` was built from: keep it (building it again
        # from the store for the convergence probes cost a whole second plan).
        self._blueprint, self._bp_revision = bp, self.store().revision()

    def _namespaces(self, state: LabState, bp: Blueprint) -> None:
        # Intent first, in one durable write for all of them: a crash right after any creation
        # is still cleaned (teardown skips recorded namespaces that never came to exist).
        state.record_netns_many(ns.netns for ns in bp.namespaces)
        for ns in bp.namespaces:
            netlink.create_netns(ns.netns)
            # Before any interface exists, so new interfaces inherit rp_filter/IPv6 defaults.
            netlink.set_sysctls(ns.netns, {k: v for k, v in bp.sysctls[ns.netns].items() if ".cali" not in k})

    def _links(self, bp: Blueprint) -> None:
        for veth in bp.veths:
            # Created up (two requests a pair): bringing everything up afterwards cost a dump
            # and a request per interface of every namespace (~5 s at 200 nodes).
            netlink.add_veth(veth.ns_a, veth.if_a, veth.ns_b, veth.if_b, mac_a=veth.mac_a, mac_b=veth.mac_b,
                             up=True)
        for bridge in bp.bridges:
            netlink.add_bridge(bridge.ns, bridge.name, bridge.ports, up=True)
        for address in bp.addresses:
            netlink.add_address(address.ns, address.ifname, address.cidr)
        for route in bp.routes:
            netlink.add_route(route.ns, route.dst, gateway=route.gateway, dev=route.dev, scope_link=route.scope_link,
                              proto=route.proto, metric=route.metric)
        for netns, values in bp.sysctls.items():
            per_iface = {k: v for k, v in values.items() if ".cali" in k}
            if per_iface:
                netlink.set_sysctls(netns, per_iface)

    def _neighbours(self, bp: Blueprint) -> None:
        # Before any daemon starts: its first packets to a peer find the peer's MAC already.
        for n in bp.neighbours:
            netlink.add_neighbour(n.ns, n.ifname, n.ip, n.mac)

    def _daemon_steps(self, state: LabState, bp: Blueprint) -> list[Step]:
        bird = Step(f"start BIRD on {len(bp.bird)} nodes/hosts", lambda: self._start_bird(state, bp))
        frr = Step(f"start FRR on {len(bp.frr)} routers", lambda: self._start_frr(state, bp))
        return startup.daemon_order(bird, frr, len(bp.bird))

    def _start_frr(self, state: LabState, bp: Blueprint) -> None:
        startup.start_frr(state, [self._frr(d) for d in bp.frr])

    def _start_bird(self, state: LabState, bp: Blueprint) -> None:
        startup.start_bird(state, [self._bird(d) for d in bp.bird])

    def _converge(self, bp: Blueprint, deadline: float = CONVERGE_DEADLINE) -> None:
        # The same probes lab.test uses: sessions on both ends, then every pod route.
        from ...checks import routes, sessions
        from ...checks.base import Context

        # One deadline for the whole wait: the per-speaker wait, then each full check gets what
        # is left (at least 10 s, so a lab that just converged is still confirmed).
        end = time.monotonic() + deadline
        startup.wait_each_speaker(self, Context(self, deadline=deadline, interval=0.05), end)
        for name, check in (("sessions_established", sessions.run), ("routes_present", routes.run)):
            result = check(Context(self, deadline=max(10.0, end - time.monotonic()), interval=0.05))
            if not result.ok:
                detail = "\n  ".join(result.details[:20])
                raise DaemonError(f"not converged after {deadline:.0f}s (`lab.up --wait SECONDS` waits longer): "
                                  f"{result.observed}\n  {detail}")
            self.timings[name] = time.monotonic() - self._started

    # -- down ----------------------------------------------------------------------------

    def down(self, out: TextIO) -> None:
        remove_lab(self.lab_name, out, self.run_dir.parent)

    # -- what checks and status need -----------------------------------------------------

    def access(self) -> NetnsAccess:
        bp = self.blueprint
        return NetnsAccess(
            netns={ns.target: ns.netns for ns in bp.namespaces},
            birdc_sockets={d.target: self._bird(d).socket for d in bp.bird},
            vty_dirs={d.target: self._frr(d).vty_dir for d in bp.frr},
        )

    def pods(self) -> list[PodInfo]:
        return [PodInfo(p.name, p.node, p.ip) for p in self.blueprint.pods]

    def planned_blocks(self) -> dict[str, set[IPv4Network]]:
        ipam = self.blueprint.ipam
        return {n.name: {IPv4Network(b.cidr) for b in ipam.blocks.get(self.topo.cluster.k8s_name(n), ())}
                for n in self.topo.cluster.nodes}

    def exported_blocks(self) -> set[IPv4Network]:
        return {IPv4Network(b.cidr) for blocks in self.blueprint.ipam.blocks.values() for b in blocks if b.export}

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        """`calicoctl patch bgpconfiguration default` as a user would; the reconcile reloads
        the nodes whose config changed."""
        patch = {"spec": {"serviceClusterIPs": [{"cidr": c} for c in cidrs] if cidrs else None}}
        self.calicoctl(["patch", "bgpconfiguration", "default", "-p", json.dumps(patch)], io.StringIO())

    # -- live changes --------------------------------------------------------------------

    def calicoctl(self, argv: Sequence[str], out: TextIO, stdin: TextIO = sys.stdin,
                  files: dict[str, str] | None = None) -> int:
        """calicoctl's verbs against this lab's datastore, reconciled at once (live.py)."""
        return live.calicoctl(self, argv, out, stdin, files)

    def change_pods(self, **options) -> int:
        """List, recreate, add or delete pods (live.py `pods`)."""
        return live.pods(self, **options)

    def reconcile(self, out: TextIO, before: Blueprint | None = None) -> ReconcilePlan:
        """Make the running lab what the datastore says (see reconcile.py); `before` is the
        blueprint the lab ran, for the per-node report of what changed."""
        old = before if before is not None else self.blueprint
        self._blueprint = None
        new = self.blueprint
        workdir = lambda target: self.run_dir / target  # noqa: E731
        try:
            plan = plan_reconcile(old, new, running_configs(new, workdir), running_configs(new, workdir, "frr"))
        except NotLive as exc:
            raise LabError(f"this change would need FRR restarted ({exc}); the datastore has it: "
                           f"`invoke lab.down --name {self.lab_name}` and `lab.up` to rebuild") from None
        if plan.empty:
            out.write("  no node's configuration changed\n")
            return plan
        birds = {d.target: d for d in new.bird}
        routers = {d.target: d for d in new.frr}
        try:
            apply_reconcile(plan, new, LabState(self.state_path), lambda t: self._bird(birds[t]), out,
                            lambda r: self._frr(routers[r]))
        finally:
            netlink.close_all()
        return plan


    # -- faults on the running lab (the work is in lab/faults.py) -------------------------

    FAULTS = ("link", "stop", "start", "netem", "clear_netem")

    def apply_fault(self, method: str, *args, **kwargs) -> str:
        """A fault a user asked for (lab.link/stop/start/netem, a scenario step, a replay):
        done, then logged in the datastore's history so a bug bundle replays it. The checks'
        own temporary faults call the methods directly and are not logged."""
        if method not in self.FAULTS:
            raise LabError(f"unknown fault '{method}' (faults: {', '.join(self.FAULTS)})")
        text = getattr(self, method)(*args, **kwargs)
        words = [method, *map(str, args), *(f"--{k}={v}" for k, v in kwargs.items())]
        self.store().record(" ".join(words), [text.splitlines()[0] if text else method],
                            {"kind": "fault", "method": method, "args": list(args), "kwargs": dict(kwargs)})
        return text

    def link(self, target: str, iface: str, up: bool) -> str:
        """Set an interface down or up; up restores the lab's addresses, routes and sysctls through it."""
        from ... import faults

        return faults.link(self, target, iface, up)

    def stop(self, target: str, kill: bool = False) -> str:
        """Stop the routing daemon(s) of a router, node or route-reflector host (kill: SIGKILL)."""
        from ... import faults

        return faults.stop(self, target, kill)

    def start(self, target: str) -> str:
        """Start a stopped target's daemon(s) with the recorded command line, ready as at `up`."""
        from ... import faults

        return faults.start(self, target)

    def netem(self, target: str, iface: str, delay_ms: float = 0.0, jitter_ms: float = 0.0,
              loss_pct: float = 0.0) -> str:
        from ... import faults

        return faults.netem(self, target, iface, delay_ms, jitter_ms, loss_pct)

    def clear_netem(self, target: str, iface: str) -> str:
        from ... import faults

        return faults.clear_netem(self, target, iface)


def remove_lab(lab_name: str, out: TextIO, run_root: Path | None = None) -> None:
    """Remove a lab from its state file alone: works whatever `up` got to before it died."""
    run_dir = resolve_run_root(run_root) / lab_name
    state_path = run_dir / "state.json"
    if not state_path.is_file():
        out.write(f"lab {lab_name} is not up (netns): nothing to remove\n")
        return
    require_root()
    started = time.monotonic()
    netlink.close_all()
    removed = teardown(LabState(state_path))
    shutil.rmtree(run_dir, ignore_errors=True)
    out.write(f"lab {lab_name} removed in {time.monotonic() - started:.2f}s ({removed})\n")


def _contract(lab: NetnsProvider) -> LabProvider:
    """Never called: mypy checks here that NetnsProvider satisfies the whole provider contract."""
    return lab
