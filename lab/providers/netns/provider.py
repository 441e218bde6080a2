"""The netns provider: a lab of namespaces, veths, bridges, FRR and BIRD on this host.

`up` applies a `Blueprint` as an ordered list of steps. Every object is recorded
in the lab's state file before or as it is created, so `down` removes everything
after a crash at any point. The topology and Calico resources in force are kept
in the lab's run directory, so later commands (status, test, down) see the lab
as it was built even if the topology file has changed since.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from ipaddress import IPv4Network
from pathlib import Path
from typing import Iterator, Mapping, Sequence, TextIO

import yaml

from ... import model as m
from ... import traffic
from ...calico.bird import BgpTimers, render_bird
from ...calico.resources import ResourceSet, parse_resources
from ...checks.base import PodInfo
from ...errors import DaemonError, LabError
from ...exec import NetnsAccess, Result
from ...loader import load_topology
from ...preflight import require_binaries, require_root
from ..base import Provider, Step, run_steps
# Shared with the clab provider through a public module.
from ..waits import wait_for_line as _wait_for_line, wait_until_quiet as _wait_until_quiet
from . import netlink
from .blueprint import Blueprint, build_blueprint, calico_resources
from .daemons import BirdNode, FrrRouter
from .state import LabState, teardown

RUN_ROOT = Path("/run/fabriclab")
BINARIES = ("ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping")
CONVERGE_DEADLINE = 30.0


class NetnsProvider(Provider):
    name = "netns"

    def __init__(self, topo: m.Topology, lab_name: str | None = None, out_dir=None, run_root: Path = RUN_ROOT):
        super().__init__(topo, lab_name, out_dir)
        self.run_dir = Path(run_root) / self.lab_name
        self.state_path = self.run_dir / "state.json"
        self._blueprint: Blueprint | None = None
        self._rs: ResourceSet | None = None

    # -- lab identity --------------------------------------------------------------------

    @classmethod
    def attach(cls, lab_name: str, run_root: Path = RUN_ROOT, out_dir=None) -> "NetnsProvider":
        """The provider of a lab that was built before, with the topology it was built from."""
        saved = Path(run_root) / lab_name / "topology.yaml"
        if not saved.is_file():
            raise LabError(f"no netns lab named '{lab_name}' is up (nothing in {saved.parent})")
        return cls(load_topology(saved), lab_name, out_dir, run_root)

    @staticmethod
    def exists(lab_name: str, run_root: Path = RUN_ROOT) -> bool:
        return (Path(run_root) / lab_name / "state.json").is_file()

    def is_up(self) -> bool:
        return self.state_path.is_file()

    def is_complete(self) -> bool:
        return self.is_up() and LabState(self.state_path).meta.get("phase") == "up"

    @property
    def blueprint(self) -> Blueprint:
        if self._blueprint is None:
            self._blueprint = build_blueprint(self.topo, self.lab_name, self.resources())
        return self._blueprint

    def resources(self) -> ResourceSet:
        if self._rs is None:
            saved = self.run_dir / "calico" / "resources.yaml"
            if saved.is_file():
                self._rs = parse_resources(saved.read_text(), str(saved))
            else:
                self._rs, _ = calico_resources(self.topo)
        return self._rs

    # -- daemons -------------------------------------------------------------------------

    def _frr(self, daemon) -> FrrRouter:
        return FrrRouter(daemon.target, daemon.ns, self.run_dir / daemon.target, daemon.zebra_conf, daemon.bgpd_conf)

    def _bird(self, daemon) -> BirdNode:
        return BirdNode(daemon.target, daemon.ns, self.run_dir / daemon.target, daemon.config)

    # -- up ------------------------------------------------------------------------------

    def up(self, out: TextIO) -> None:
        if self.is_up():
            if self.is_complete():
                out.write(f"lab {self.lab_name} is already up (netns); `invoke lab.down` removes it\n")
                return
            raise LabError(f"lab {self.lab_name} is partly built (an earlier `up` did not finish): "
                           f"run `invoke lab.down --name {self.lab_name}` first")
        require_root()
        require_binaries(BINARIES)
        bp = build_blueprint(self.topo, self.lab_name)
        # Configs are checked before anything exists: a refused config changes nothing on the host.
        self._check_configs(bp)
        started = self._started = time.monotonic()
        self.timings: dict[str, float] = {}
        state = LabState(self.state_path)
        state.set_meta(lab=self.lab_name, provider=self.name, topology=str(self.topo.source), phase="building")
        steps = [
            Step(f"save topology and Calico resources to {self.run_dir}", lambda: self._save(state, bp)),
            Step(f"create {len(bp.namespaces)} namespaces", lambda: self._namespaces(state, bp)),
            Step(f"wire {len(bp.veths)} veth pairs and {len(bp.bridges)} bridges", lambda: self._links(bp)),
            # BIRD first: its sessions wait out Calico's 2 s connect delay while FRR starts.
            Step(f"start BIRD on {len(bp.bird)} nodes/hosts", lambda: self._start_bird(state, bp)),
            Step(f"start FRR on {len(bp.frr)} routers", lambda: self._start_frr(state, bp)),
            Step("wait for every planned BGP session and pod route", lambda: self._converge(bp)),
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

    def _check_configs(self, bp: Blueprint) -> None:
        with tempfile.TemporaryDirectory(prefix="fabriclab-check-") as tmp:
            Path(tmp).chmod(0o755)  # FRR reads its config as user frr
            for daemon in bp.frr:
                FrrRouter(daemon.target, daemon.ns, Path(tmp) / daemon.target, daemon.zebra_conf, daemon.bgpd_conf).check()
            for daemon in bp.bird:
                BirdNode(daemon.target, daemon.ns, Path(tmp) / daemon.target, daemon.config).check()

    def _save(self, state: LabState, bp: Blueprint) -> None:
        state.record_dir(self.run_dir)
        (self.run_dir / "calico").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.topo.source, self.run_dir / "topology.yaml")
        (self.run_dir / "calico" / "resources.yaml").write_text(bp.resources_yaml)

    def _namespaces(self, state: LabState, bp: Blueprint) -> None:
        for ns in bp.namespaces:
            state.record_netns(ns.netns)  # intent first: a crash right after creation is still cleaned
            netlink.create_netns(ns.netns)
            # Before any interface exists, so new interfaces inherit rp_filter/IPv6 defaults.
            netlink.set_sysctls(ns.netns, {k: v for k, v in bp.sysctls[ns.netns].items() if ".cali" not in k})

    def _links(self, bp: Blueprint) -> None:
        for veth in bp.veths:
            netlink.add_veth(veth.ns_a, veth.if_a, veth.ns_b, veth.if_b)
        for bridge in bp.bridges:
            netlink.add_bridge(bridge.ns, bridge.name, bridge.ports)
        for address in bp.addresses:
            netlink.add_address(address.ns, address.ifname, address.cidr)
        for ns in bp.namespaces:
            netlink.set_all_up(ns.netns)
        for route in bp.routes:
            netlink.add_route(route.ns, route.dst, gateway=route.gateway, dev=route.dev, scope_link=route.scope_link)
        for ns, values in bp.sysctls.items():
            per_iface = {k: v for k, v in values.items() if ".cali" in k}
            if per_iface:
                netlink.set_sysctls(ns, per_iface)

    def _start_frr(self, state: LabState, bp: Blueprint) -> None:
        routers = [self._frr(d) for d in bp.frr]
        deadline = time.monotonic() + 10
        for router in routers:
            router.start(state, deadline)
        for router in routers:
            router.wait_ready(deadline)

    def _start_bird(self, state: LabState, bp: Blueprint) -> None:
        nodes = [self._bird(d) for d in bp.bird]
        for node in nodes:
            node.start(state)
        deadline = time.monotonic() + 10
        for node in nodes:
            node.wait_ready(deadline)

    def _converge(self, bp: Blueprint, deadline: float = CONVERGE_DEADLINE) -> None:
        # The same probes lab.test uses: sessions on both ends, then every pod route.
        from ...checks import routes, sessions
        from ...checks.base import Context

        ctx = Context(self, deadline=deadline, interval=0.05)
        for name, check in (("sessions_established", sessions.run), ("routes_present", routes.run)):
            result = check(ctx)
            if not result.ok:
                detail = "\n  ".join(result.details[:20])
                raise DaemonError(f"not converged after {deadline:.0f}s: {result.observed}\n  {detail}")
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

    def _traffic_argv(self, args: Sequence[str]) -> list[str]:
        return [sys.executable, traffic.__file__, *args]

    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        return self.access().exec(target, self._traffic_argv(args), timeout=60)

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str):
        spawned = self.access().spawn(target, self._traffic_argv(args), log_path=log_path)
        _wait_for_line(spawned, log_path, ready)
        return spawned

    @contextlib.contextmanager
    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str) -> Iterator[None]:
        access = self.access()
        running = []
        try:
            for iface in ifaces:
                log = Path(str(pcaps[iface]) + ".log")
                # Immediate mode + per-packet flush: nothing waits in a buffer when the capture stops.
                argv = ["tcpdump", "-i", iface, "-n", "--immediate-mode", "-U", "-B", "8192",
                        "-w", str(pcaps[iface]), bpf]
                spawned = access.spawn(target, argv, log_path=log)
                running.append(spawned)
                _wait_for_line(spawned, log, "listening on")
            yield
            _wait_until_quiet([pcaps[i] for i in ifaces])
        finally:
            for spawned in running:
                spawned.stop()

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        """Edit BGPConfiguration default as a user would, re-render every node's BIRD, reload it."""
        saved = self.run_dir / "calico" / "resources.yaml"
        docs = list(yaml.safe_load_all(saved.read_text()))
        for doc in docs:
            if doc and doc.get("kind") == "BGPConfiguration" and doc["metadata"]["name"] == "default":
                if cidrs:
                    doc["spec"]["serviceClusterIPs"] = [{"cidr": c} for c in cidrs]
                else:
                    doc["spec"].pop("serviceClusterIPs", None)
        text = yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
        rs = parse_resources(text, str(saved))
        saved.write_text(text)
        self._rs, self._blueprint = rs, None
        bp = self.blueprint
        for daemon in bp.bird:
            if daemon.k8s_name is not None:
                self._bird(daemon).reload(daemon.config)


def remove_lab(lab_name: str, out: TextIO, run_root: Path = RUN_ROOT) -> None:
    """Remove a lab from its state file alone: works whatever `up` got to before it died."""
    run_dir = Path(run_root) / lab_name
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
