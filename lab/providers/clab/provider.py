"""The clab provider: kind + containerlab + VyOS + the real Calico manifest.

`up` is the ordered list of steps the reference lab's authors ran by hand,
each a `Step` run by `run_steps` (one status line each, the first failure stops
the run naming the step). Every external command goes through a `Runner`
(argv lists); host bridges, docker exec and SSH go through the seams in
`seams.py`. So `--dry-run` prints the complete plan, and the tests replay it
with a recording runner, a fake docker client and fake bridges.

A state file (`clab-state.json` in the output directory) records what this lab
created, written *before* each creating action: `down` removes exactly that
(the kind cluster, the containerlab lab, the bridges it created; never a
bridge, cluster or lab that was there before), works after a failure at any
step, and is idempotent.

The tools it drives are not on our CI machines: this provider is tested by
contract (recorded commands, golden plan), not end to end.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence, TextIO

import yaml

from ... import model as m
from ...calico.peering import plan_peering
from ...calico.resources import parse_resources
from ...calico.status import parse_birdc_protocols
from ...errors import EnvironmentProblem, LabError
from ...exec import Result
from ...render import write_all
from ...render.clab import render_clab
from ...render.workload import APP, render_workload
from ...runner import DryRunRunner, Runner, SubprocessRunner
from ..base import Provider, Step, run_steps
from .access import ClabAccess, router_container
from .manifest import set_pool_env, sha256_hex, verify_sha256
from .seams import (BridgeOps, Docker, DryRunBridges, DryRunDocker, DryRunSsh, HostBridges, VyosSsh)

STATE_FILE = "clab-state.json"
TAINTS = ("node-role.kubernetes.io/control-plane:NoSchedule-", "node-role.kubernetes.io/master:NoSchedule-")
# What `show ip bgp summary` prints once bgpd runs with its configuration loaded.
VYOS_READY_MARKER = "BGP router identifier"
CREATING, CREATED = "creating", "created"
LONG_COMMAND = 1800.0  # seconds a single command may take (image pulls on first use)


def vyos_credentials() -> tuple[str, str]:
    """The VyOS login for SSH: the image's default vyos/vyos unless FABRICLAB_VYOS_USER/PASSWORD say otherwise."""
    return os.environ.get("FABRICLAB_VYOS_USER", "vyos"), os.environ.get("FABRICLAB_VYOS_PASSWORD", "vyos")


def clab_present(result: Result) -> bool | None:
    """Whether `containerlab inspect --format json` lists containers (None: cannot tell).

    Older containerlab prints a JSON list (or nothing, logging "no containers
    found"); newer prints {"<lab>": [...]} or "{}".
    """
    text = result.stdout.strip()
    if result.rc != 0:
        return None
    if not text:
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, list):
        return bool(data)
    if isinstance(data, dict):
        return any(bool(v) for v in data.values() if isinstance(v, list)) or \
            bool(data.get("containers"))
    return None


class ClabProvider(Provider):
    name = "clab"

    def __init__(self, topo: m.Topology, lab_name: str | None = None, out_dir=None, *, dry_run: bool = False,
                 out: TextIO | None = None, runner: Runner | None = None, bridges: BridgeOps | None = None,
                 docker=None, ssh=None, preflight: Callable[[], list] | None = None,
                 vyos_user: str | None = None, vyos_password: str | None = None,
                 deadline: float = 600.0, interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, verbose: bool = False):
        super().__init__(topo, lab_name, out_dir)
        self.dry_run = dry_run
        self.out = out = out or sys.stdout
        self.runner = runner or (DryRunRunner(out) if dry_run else SubprocessRunner(out, verbose=verbose))
        self.bridges = bridges or (DryRunBridges(self.runner) if dry_run else HostBridges())
        self.docker = docker or (DryRunDocker(self.runner) if dry_run else Docker())
        default_user, default_password = vyos_credentials()
        self.vyos_user = vyos_user or default_user
        vyos_password = vyos_password or default_password
        self.ssh = ssh or (DryRunSsh(self.runner, self.vyos_user) if dry_run
                           else VyosSsh(self.docker, self.vyos_user, vyos_password))
        self._preflight_checks = preflight
        self.deadline, self.interval, self.clock, self.sleep = deadline, interval, clock, sleep
        self.state_path = self.out_dir / STATE_FILE
        self.cluster = topo.cluster.name
        self.context = f"kind-{self.cluster}"
        self.kubeconfig = self.out_dir / "kubeconfig"
        self.clab_file = self.out_dir / "clab.yaml"
        self.calico_dir = self.out_dir / "calico"
        self._access: ClabAccess | None = None
        self._warnings: list[str] = []

    # -- state: what this lab created --------------------------------------------------------

    def _state(self) -> dict:
        state = {"lab": self.lab_name, "kind": None, "containerlab": None, "bridges": [],
                 "preexisting_bridges": [], "done": [], "complete": False}
        if self.state_path.is_file():
            try:
                state.update(json.loads(self.state_path.read_text()))
            except ValueError as exc:
                raise LabError(f"{self.state_path} is damaged ({exc}): remove what the lab created by hand "
                               f"(containerlab destroy -t {self.clab_file}; kind delete cluster --name {self.cluster})")
        return state

    def _save(self, state: dict) -> None:
        if self.dry_run:
            return  # a dry run records nothing
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.replace(self.state_path)

    def _update(self, **changes) -> None:
        state = self._state()
        state.update(changes)
        self._save(state)

    def _done(self, step: str) -> None:
        state = self._state()
        if step not in state["done"]:
            state["done"].append(step)
        self._save(state)

    def is_up(self) -> bool:
        """Whether anything of this lab exists (so status and checks can look at a partial lab too)."""
        state = self._state()
        return bool(state["kind"] or state["containerlab"] or state["bridges"])

    # -- helpers -------------------------------------------------------------------------------

    def _run(self, *argv: str, check: bool = True, env: Mapping[str, str] | None = None,
             timeout: float = 600.0) -> Result:
        return self.runner.run(list(argv), check=check, env=env, timeout=timeout)

    def kubectl_prefix(self) -> list[str]:
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", self.context]

    def _kubectl(self, *args: str, check: bool = True, timeout: float = 600.0) -> Result:
        return self._run(*self.kubectl_prefix(), *args, check=check, timeout=timeout)

    def _calicoctl(self, *args: str, check: bool = True) -> Result:
        # --allow-version-mismatch is an option of each calicoctl subcommand: it goes after the arguments.
        env = {"DATASTORE_TYPE": "kubernetes", "KUBECONFIG": str(self.kubeconfig)}
        return self._run("calicoctl", *args, "--allow-version-mismatch", check=check, env=env)

    def _poll(self, what: str, probe: Callable[[], bool]) -> None:
        """Probe until it says yes or the deadline passes (a dry run shows the probe once)."""
        end = self.clock() + self.deadline
        while True:
            if probe() or self.dry_run:
                return
            if self.clock() >= end:
                raise LabError(f"{what}: not ready after {self.deadline:g}s")
            self.sleep(self.interval)

    def _warn(self, text: str) -> None:
        if self.dry_run:
            self.runner.note(f"WARNING: {text}")
        else:
            self._warnings.append(text)  # printed under the step's status line

    def _wrote(self, path: Path) -> None:
        self.runner.note(f"wrote {path}")

    def kind_nodes(self) -> list[str]:
        return [self.topo.cluster.k8s_name(n) for n in self.topo.cluster.nodes]

    # -- up ------------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        racks = ", ".join(r.bridge for r in self.topo.racks)
        return [
            Step("pre-flight: root, kernel, docker engine, kind, containerlab, kubectl, calicoctl, VyOS image, "
                 "inotify limits", self._preflight),
            Step(f"render kind config, clab file, VyOS configs, Calico resources, demo workload into {self.out_dir}",
                 self._render),
            Step(f"kind create cluster {self.cluster}", self._kind_create),
            Step("remove the control-plane taint", self._untaint),
            Step(f"create rack bridges {racks}", self._create_bridges),
            Step(f"containerlab deploy {self.clab_file.name}", self._clab_deploy),
            Step("wait for VyOS routers (SSH) and node addresses (docker exec)", self._wait_fabric),
            Step(f"install Calico {self.topo.calico.version} (IPIP/VXLAN Never), wait for calico-node",
                 self._install_calico),
            Step("apply Node settings, BGPPeers, IPPools, BGPConfiguration (mesh off last)", self._apply_calico),
            Step(f"deploy the demo workload ({APP} DaemonSet + NodePort Service)", self._workload),
            Step("wait until every planned BGP peer is Established", self._wait_sessions),
        ]

    def up(self, out: TextIO | None = None) -> None:
        out = out or self.out
        self.out = out
        if not self.dry_run and self._state()["complete"]:
            out.write(f"lab {self.lab_name} is already up (clab); `invoke lab.down --provider clab` removes it\n")
            return
        if self.dry_run:
            out.write(f"# dry run of `lab.up --provider clab` for lab {self.lab_name}: every command below, in order; "
                      "nothing is executed, only the files are written\n")
        try:
            run_steps(self.steps(), _Comments(out) if self.dry_run else _Progress(out, self._warnings),
                      clock=self.clock)
        except LabError:
            if not self.dry_run and self.is_up():
                out.write(f"`up` stopped; what it created is recorded in {self.state_path}: "
                          f"`invoke lab.down --provider clab` removes it\n")
            raise
        if not self.dry_run:
            self._update(complete=True)
            out.write(f"lab {self.lab_name} is up (clab): kubectl --kubeconfig {self.kubeconfig} get nodes -o wide\n")

    def preflight_items(self) -> list:
        if self._preflight_checks is not None:
            return list(self._preflight_checks())
        from ...doctor import CLAB, HostProbes, collect

        # Read-only probes of the real host, in a dry run too (its plan then says what a real run would lack).
        probes = HostProbes() if self.dry_run else HostProbes(docker_factory=lambda: self.docker)
        return collect(CLAB, topology=self.topo, probes=probes)

    def _preflight(self) -> None:
        from ...doctor import MISSING, OK

        items = self.preflight_items()
        self.runner.note("pre-flight: " + ", ".join(i.name for i in items))
        problems = [i for i in items if i.status == MISSING]
        for item in items:
            if item.status == OK:
                continue
            if self.dry_run:
                self.runner.note(f"pre-flight: {item.line()}" + (" (a real run stops here)" if item in problems else ""))
            elif item not in problems:
                self._warn(item.line())
        if problems and not self.dry_run:
            raise EnvironmentProblem("the clab provider cannot run on this host:\n" +
                                     "\n".join(f"  {i.line()}" for i in problems) +
                                     "\n  (`invoke lab.doctor --provider clab` explains every item)")

    def _render(self) -> None:
        for path in write_all(self.topo, self.out_dir):
            self._wrote(path)
        workload = self.out_dir / "workload.yaml"
        workload.write_text(render_workload(self.topo))
        self._wrote(workload)
        for path in self._split_calico_resources():
            self._wrote(path)

    def _calico_docs(self) -> list[dict]:
        return [d for d in yaml.safe_load_all((self.calico_dir / "resources.yaml").read_text()) if d]

    def _split_calico_resources(self) -> list[Path]:
        """Node documents become patches; BGPConfiguration (which turns the mesh off) is applied last."""
        docs = self._calico_docs()
        written = []
        for name, chosen in (("cluster-resources.yaml", [d for d in docs if d["kind"] not in ("Node", "BGPConfiguration")]),
                             ("bgp-configuration.yaml", [d for d in docs if d["kind"] == "BGPConfiguration"])):
            path = self.calico_dir / name
            path.write_text(yaml.safe_dump_all(chosen, sort_keys=False, explicit_start=True) if chosen else "")
            written.append(path)
        return written

    def _kind_create(self) -> None:
        state = self._state()
        existing = self._run("kind", "get", "clusters").stdout.split()
        if self.cluster in existing and not state["kind"]:
            raise LabError(f"a kind cluster named {self.cluster} already exists and this lab did not create it: "
                           f"delete it (`kind delete cluster --name {self.cluster}`) or rename the topology")
        if self.cluster not in existing:
            self._update(kind=CREATING)
            # Pulling the node image on first use takes minutes: a generous bound, not a wait.
            self._run("kind", "create", "cluster", "--name", self.cluster, "--image", self.topo.cluster.kind_image,
                      "--config", str(self.out_dir / "kind.yaml"), timeout=LONG_COMMAND)
        self._update(kind=CREATED)
        # A kubeconfig of this lab alone: kubectl and calicoctl never depend on the user's current context.
        self._run("kind", "export", "kubeconfig", "--name", self.cluster, "--kubeconfig", str(self.kubeconfig))
        self._done("kind")

    def _untaint(self) -> None:
        for node in self.topo.cluster.nodes:
            if node.role != m.CONTROL_PLANE:
                continue
            for taint in TAINTS:
                result = self._kubectl("taint", "nodes", self.topo.cluster.k8s_name(node), taint, check=False)
                # kubectl refuses to remove a taint the node does not carry ("not found"): that is the goal anyway.
                if result.rc != 0 and "not found" not in (result.stderr + result.stdout):
                    raise LabError(f"removing taint {taint} from {self.topo.cluster.k8s_name(node)} failed: "
                                   f"{(result.stderr or result.stdout).strip()[:300]}")
        self._done("untaint")

    def _create_bridges(self) -> None:
        for rack in self.topo.racks:
            state = self._state()
            if rack.bridge in state["bridges"]:
                if not self.bridges.exists(rack.bridge):
                    self.bridges.create(rack.bridge)
                continue
            if self.bridges.exists(rack.bridge):
                # Not ours: containerlab uses it, `down` leaves it alone.
                if rack.bridge not in state["preexisting_bridges"]:
                    state["preexisting_bridges"].append(rack.bridge)
                    self._save(state)
                self.runner.note(f"bridge {rack.bridge} already exists (not created by this lab): used, never deleted")
                continue
            state["bridges"].append(rack.bridge)
            self._save(state)  # recorded before it exists: a crash in between leaves nothing unrecorded
            self.bridges.create(rack.bridge)
        self._done("bridges")

    def _clab_inspect(self) -> bool | None:
        return clab_present(self._run("containerlab", "inspect", "-t", str(self.clab_file), "--format", "json",
                                      check=False))

    def _clab_deploy(self) -> None:
        state = self._state()
        if self._clab_inspect() and not state["containerlab"]:
            raise LabError(f"containerlab lab {self.topo.name} is already deployed and this lab did not deploy it: "
                           f"`containerlab destroy -t <its topology file>` first, or rename the topology")
        self._update(containerlab=CREATING)
        self._run("containerlab", "deploy", "-t", str(self.clab_file), "--reconfigure", timeout=LONG_COMMAND)
        self._update(containerlab=CREATED)
        self._done("containerlab")

    def _wait_fabric(self) -> None:
        for router in self.topo.routers:
            container = router_container(self.topo, router.name)
            self._poll(f"VyOS {router.name} ({container}) answering `show ip bgp summary` over SSH",
                       lambda c=container: self.ssh.probe(c, "show ip bgp summary", VYOS_READY_MARKER))
        for node in self.topo.cluster.nodes:
            name = self.topo.cluster.k8s_name(node)
            want = f"inet {node.ip}"

            def has_address(container=name, want=want) -> bool:
                try:
                    result = self.docker.exec(container, ["ip", "-4", "-o", "addr", "show", "dev", "net0"], timeout=10)
                except LabError:
                    return False
                return result.rc == 0 and want in result.stdout
            self._poll(f"node-ip {node.ip} on net0 inside {name}", has_address)
        self._done("fabric")

    def _install_calico(self) -> None:
        upstream = self.calico_dir / "calico-upstream.yaml"
        manifest = self.calico_dir / "calico-manifest.yaml"
        pinned = self.topo.calico.manifest_sha256
        url = self.topo.calico.manifest_url
        autodetect = sorted({str(self.topo.rack(n.rack).subnet) for n in self.topo.cluster.nodes})
        self._run("curl", "-fsSL", "--retry", "3", "-o", str(upstream), url)
        if self.dry_run:
            self.runner.note(f"verify sha256 of {upstream.name} against calico.manifest_sha256 "
                             f"({pinned or 'not pinned: a real run records the computed digest and warns'})")
            self.runner.note(f"edit the calico-node DaemonSet env: CALICO_IPV4POOL_IPIP=Never, CALICO_IPV4POOL_VXLAN=Never, "
                             f"CALICO_IPV4POOL_CIDR={self.topo.cluster.pod_subnet}, "
                             f"IP_AUTODETECTION_METHOD=cidr={','.join(autodetect)}; write {manifest}")
            if not pinned:
                self._warn(f"calico.manifest_sha256 is not set: the manifest {url} is not pinned")
        else:
            try:
                data = upstream.read_bytes()
            except OSError as exc:
                raise LabError(f"the Calico manifest was not downloaded to {upstream}: {exc}") from exc
            digest = verify_sha256(data, pinned, url)
            if not pinned:
                record = self.calico_dir / "calico-upstream.sha256"
                record.write_text(f"{digest}  {url}\n")
                self._warn(f"the Calico manifest is not pinned (calico.manifest_sha256 is not set); this download has "
                           f"sha256 {digest}, recorded in {record}. Pin it in the topology after checking it.")
            manifest.write_text(set_pool_env(data.decode(), str(self.topo.cluster.pod_subnet), autodetect))
        self._kubectl("apply", "-f", str(manifest))
        self._kubectl("-n", "kube-system", "rollout", "status", "daemonset/calico-node",
                      "--timeout", f"{self.deadline:g}s", timeout=self.deadline + 60)
        self._done("calico")

    def _apply_calico(self) -> None:
        # Peers and node settings first, the mesh off last: no moment without routes (DESIGN §3 migration order).
        for doc in (d for d in self._calico_docs() if d["kind"] == "Node"):
            name = doc["metadata"]["name"]
            self._calicoctl("patch", "node", name, "-p", json.dumps({"spec": {"bgp": doc["spec"]["bgp"]}}))
            # Node labels live on the Kubernetes node (calico-node syncs them); rack= comes from the kind config.
            extra = {k: v for k, v in (doc["metadata"].get("labels") or {}).items() if k != m.RACK_LABEL}
            if extra:
                self._kubectl("label", "node", name, "--overwrite", *[f"{k}={v}" for k, v in sorted(extra.items())])
        for name in ("cluster-resources.yaml", "bgp-configuration.yaml"):
            path = self.calico_dir / name
            if self.dry_run or path.read_text().strip():
                self._calicoctl("apply", "-f", str(path))
        for extra_file in sorted(self.calico_dir.glob("extra-*")):
            self._calicoctl("apply", "-f", str(extra_file))
        self._done("calico-resources")

    def _workload(self) -> None:
        self._kubectl("apply", "-f", str(self.out_dir / "workload.yaml"))
        self._kubectl("-n", "default", "rollout", "status", f"daemonset/{APP}", "--timeout", f"{self.deadline:g}s",
                      timeout=self.deadline + 60)
        self._done("workload")

    def planned_peers(self) -> dict[str, set[str]]:
        """Per topology node, the peer addresses `calicoctl node status` must show Established."""
        plan = plan_peering(self.resources(), self.topo.calico.version)
        return {n.name: {s.peer_address for s in plan.get(self.topo.cluster.k8s_name(n), ())}
                for n in self.topo.cluster.nodes}

    def _wait_sessions(self) -> None:
        access = self.access()
        for node, want in self.planned_peers().items():
            def established(node=node, want=want) -> bool:
                try:
                    rows = parse_birdc_protocols(access.birdc(node, "show protocols"))
                except LabError:
                    return False
                return {r.peer_address for r in rows if "Established" in r.info.split()} >= want
            if self.dry_run:
                self.runner.note(f"poll until {node} shows {', '.join(sorted(want)) or 'no peers'} Established")
            self._poll(f"BGP peers {', '.join(sorted(want))} of {node} Established", established)
        self._done("sessions")

    # -- down ----------------------------------------------------------------------------------

    def down(self, out: TextIO | None = None) -> None:
        out = out or self.out
        state = self._state()
        problems: list[str] = []
        if self.dry_run:
            out.write(f"# dry run of `lab.down --provider clab` for lab {self.lab_name}: nothing is executed\n")

        if state["containerlab"] or self.dry_run:
            if not self.clab_file.is_file() and not self.dry_run:
                # The clab file is ours and pure: re-render it so destroy can name the lab.
                self.out_dir.mkdir(parents=True, exist_ok=True)
                self.clab_file.write_text(render_clab(self.topo))
            try:
                if self._clab_inspect() is not False or self.dry_run:
                    self._run("containerlab", "destroy", "-t", str(self.clab_file), "--cleanup", timeout=LONG_COMMAND)
                self._update(containerlab=None)
            except LabError as exc:
                problems.append(str(exc))

        if state["kind"] or self.dry_run:
            try:
                if self.cluster in self._run("kind", "get", "clusters").stdout.split() or self.dry_run:
                    self._run("kind", "delete", "cluster", "--name", self.cluster)
                self._update(kind=None)
            except LabError as exc:
                problems.append(str(exc))
        elif self.cluster in self._run("kind", "get", "clusters", check=False).stdout.split():
            out.write(f"kind cluster {self.cluster} exists but this lab did not create it: left alone "
                      f"(`kind delete cluster --name {self.cluster}` removes it)\n")

        bridges = list(state["bridges"]) if not self.dry_run else [r.bridge for r in self.topo.racks]
        for bridge in reversed(bridges):
            try:
                self.bridges.delete(bridge)
                state = self._state()
                state["bridges"] = [b for b in state["bridges"] if b != bridge]
                self._save(state)
            except LabError as exc:
                problems.append(str(exc))
        if problems:
            raise LabError(f"lab {self.lab_name}: some of it could not be removed (run `lab.down` again):\n  " +
                           "\n  ".join(problems))
        if self.state_path.is_file() and not self.dry_run:
            self.state_path.unlink()
        if self._access is not None:
            self._access.ssh.close()
        if not self.dry_run:
            out.write(f"lab {self.lab_name} removed (clab)\n")

    # -- what status and checks need -----------------------------------------------------------

    def resources(self):
        path = self.calico_dir / "resources.yaml"
        if path.is_file():
            return parse_resources(path.read_text(), str(path))
        from ...render.calico import render_calico

        return parse_resources(render_calico(self.topo), f"{self.topo.name} (rendered)")

    def access(self) -> ClabAccess:
        if self._access is None:
            self._access = ClabAccess(self.topo, self.runner, self.docker, self.ssh, self.kubectl_prefix())
        return self._access

    def pods(self):
        from ...checks.base import PodInfo

        data = json.loads(self._kubectl("-n", "default", "get", "pods", "-l", f"app={APP}", "-o", "json").stdout
                          or '{"items": []}')
        by_k8s = {self.topo.cluster.k8s_name(n): n.name for n in self.topo.cluster.nodes}
        return [PodInfo(p["metadata"]["name"], by_k8s.get(p["spec"].get("nodeName"), p["spec"].get("nodeName", "")),
                        p.get("status", {}).get("podIP", "")) for p in data.get("items", [])]

    def planned_blocks(self):
        return None  # Calico's IPAM decides in a real cluster

    def exported_blocks(self):
        return None

    def _traffic_argv(self, target: str) -> list[str]:
        """lab/traffic.py (one stdlib-only file) copied into the target; the demo image brings python3."""
        from ... import traffic

        remote = "/tmp/fabriclab-traffic.py"
        access = self.access()
        container = access.container_of(target)
        if container:
            self._run("docker", "cp", traffic.__file__, f"{container}:{remote}")
        else:
            self._kubectl("cp", traffic.__file__, f"default/{target}:{remote}")
        return ["python3", remote]

    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        return self.access().exec(target, [*self._traffic_argv(target), *args], timeout=120)

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str):
        from ..netns.provider import _wait_for_line

        spawned = self.access().spawn(target, [*self._traffic_argv(target), *args], log_path=log_path)
        _wait_for_line(spawned, log_path, ready)
        return spawned

    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str):
        """tcpdump inside the target's network namespace (the leaf container for ECMP), pcap streamed to a host file."""
        import contextlib

        from ..netns.provider import _wait_for_line, _wait_until_quiet

        access = self.access()

        @contextlib.contextmanager
        def running():
            started = []
            try:
                for iface in ifaces:
                    argv = ["tcpdump", "-i", iface, "-n", "--immediate-mode", "-U", "-w", "-", *([bpf] if bpf else [])]
                    err = Path(str(pcaps[iface]) + ".log")
                    spawned = access.spawn(target, argv, log_path=pcaps[iface], stderr_path=err)
                    started.append(spawned)
                    _wait_for_line(_StderrView(spawned, err), err, "listening on")
                yield
                _wait_until_quiet([pcaps[i] for i in ifaces])
            finally:
                for spawned in started:
                    spawned.stop()
        return running()

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        patch = {"spec": {"serviceClusterIPs": [{"cidr": str(c)} for c in cidrs]}}
        self._calicoctl("patch", "bgpconfiguration", "default", "-p", json.dumps(patch))


class _StderrView:
    """A spawned process seen through its stderr file (tcpdump prints "listening on" there)."""

    def __init__(self, spawned, err_path: Path):
        self.spawned, self.err_path = spawned, err_path

    def alive(self) -> bool:
        return self.spawned.alive()

    def stop(self) -> Result:
        result = self.spawned.stop()
        text = self.err_path.read_text(errors="replace") if self.err_path.exists() else ""
        return Result(result.argv, result.rc, text, "")


class _Progress:
    """The step status lines, each followed by the warnings its step raised."""

    def __init__(self, out: TextIO, warnings: list[str]):
        self.out, self.warnings = out, warnings

    def write(self, text: str) -> None:
        self.out.write(text)
        if text.endswith("\n"):
            for warning in self.warnings:
                self.out.write(f"    WARNING: {warning}\n")
            self.warnings.clear()

    def flush(self) -> None:
        self.out.flush()


class _Comments:
    """In a dry run the step lines would interleave with the plan: print each as a comment line."""

    def __init__(self, out: TextIO):
        self.out = out

    def write(self, text: str) -> None:
        if text.startswith("["):
            self.out.write(f"\n# step {text.strip()}\n")

    def flush(self) -> None:
        self.out.flush()
