"""The clab provider: kind + containerlab + VyOS + the real Calico manifest.

`up` is the ordered list of steps the reference lab's authors ran by hand. All
external commands go through a `Runner` (argv lists); host bridges, docker exec
and SSH go through small injectable seams, so `--dry-run` prints the complete
plan and the tests replay it with fakes. The tools it drives are not on our CI
machines: this provider is tested by contract (recorded commands, golden plan),
not end to end.
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
from ...render.workload import APP, render_workload
from ...runner import DryRunRunner, Runner, SubprocessRunner
from ..base import Provider, Step, run_steps
from .manifest import set_pool_env, verify_sha256
from .seams import (BridgeOps, DryRunBridges, HostBridges, NodeExec, SshProbe, docker_node_exec, dry_run_probe,
                    paramiko_probe)

TOOLS = ("docker", "kind", "containerlab", "kubectl", "calicoctl")
CALICO_SOCKET = "/var/run/calico/bird.ctl"


class ClabProvider(Provider):
    name = "clab"

    def __init__(self, topo: m.Topology, lab_name: str | None = None, out_dir=None, *, runner: Runner | None = None,
                 bridges: BridgeOps | None = None, node_exec: NodeExec | None = None, ssh: SshProbe | None = None,
                 dry_run: bool = False, out: TextIO = sys.stdout, deadline: float = 600.0, interval: float = 2.0,
                 which: Callable[[str], str | None] | None = None, sleep=time.sleep):
        super().__init__(topo, lab_name, out_dir)
        self.dry_run = dry_run
        self.runner = runner or (DryRunRunner(out) if dry_run else SubprocessRunner(out))
        self.bridges = bridges or (DryRunBridges(self.runner) if dry_run else HostBridges())
        self.node_exec = node_exec or docker_node_exec(self.runner)
        # VyOS login for SSH: the image's default unless the user says otherwise.
        user = os.environ.get("FABRICLAB_VYOS_USER", "vyos")
        password = os.environ.get("FABRICLAB_VYOS_PASSWORD", "vyos")
        self.ssh = ssh or (dry_run_probe(self.runner, user) if dry_run else paramiko_probe(user, password))
        self.deadline, self.interval, self.sleep = deadline, interval, sleep
        import shutil

        self.which = which or shutil.which
        self.state_path = self.out_dir / "clab-state.json"
        self.cluster = topo.cluster.name
        self.context = f"kind-{self.cluster}"
        self.env = {"DATASTORE_TYPE": "kubernetes", "KUBECONFIG": str(Path.home() / ".kube" / "config")}

    # -- state (which steps ran, which bridges we made) ------------------------------------

    def _state(self) -> dict:
        if self.state_path.is_file():
            return json.loads(self.state_path.read_text())
        return {"done": [], "bridges": []}

    def _save(self, state: dict) -> None:
        if self.dry_run:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state, indent=1))

    def _mark(self, what: str) -> None:
        state = self._state()
        state["done"].append(what)
        self._save(state)

    def is_up(self) -> bool:
        return "workload" in self._state()["done"]

    # -- helpers ---------------------------------------------------------------------------

    def _run(self, *argv: str, check: bool = True, env: Mapping[str, str] | None = None) -> Result:
        return self.runner.run(list(argv), check=check, env=env)

    def _kubectl(self, *args: str, check: bool = True) -> Result:
        return self._run("kubectl", "--context", self.context, *args, check=check)

    def _calicoctl(self, *args: str, check: bool = True) -> Result:
        return self._run("calicoctl", "--allow-version-mismatch", *args, check=check, env=self.env)

    def _poll(self, what: str, probe: Callable[[], bool]) -> None:
        """Probe until it says yes or the deadline passes; a dry run shows the probe once."""
        end = time.monotonic() + self.deadline
        while True:
            if probe() or self.runner.dry_run:
                return
            if time.monotonic() >= end:
                raise LabError(f"{what}: not ready after {self.deadline:.0f}s")
            self.sleep(self.interval)

    # -- up --------------------------------------------------------------------------------

    def up(self, out: TextIO, dry_run: bool | None = None) -> None:
        if self.is_up() and not self.dry_run:
            out.write(f"lab {self.lab_name} is already up (clab); `invoke lab.down --provider clab` removes it\n")
            return
        steps = [
            Step("pre-flight: docker, kind, containerlab, kubectl, calicoctl", self._preflight),
            Step(f"render kind config, clab file, VyOS configs, Calico resources into {self.out_dir}", self._render),
            Step(f"kind create cluster {self.cluster}", self._kind_create),
            Step("remove the control-plane taint", self._untaint),
            Step(f"create rack bridges {', '.join(r.bridge for r in self.topo.racks)}", self._create_bridges),
            Step("containerlab deploy", self._clab_deploy),
            Step("wait for VyOS routers and node addresses", self._wait_fabric),
            Step(f"install Calico {self.topo.calico.version} (IPIP/VXLAN Never)", self._install_calico),
            Step("apply BGPConfiguration, Node settings, BGPPeers, IPPools", self._apply_calico_resources),
            Step(f"deploy the demo workload ({APP} DaemonSet + NodePort Service)", self._workload),
            Step("wait until every planned BGP peer is Established", self._wait_sessions),
        ]
        if self.dry_run:
            out.write(f"# dry run of `lab.up --provider clab` for lab {self.lab_name}: nothing below is executed\n")
        run_steps(steps, out if not self.dry_run else _Quiet(out))
        if not self.dry_run:
            out.write(f"lab {self.lab_name} is up (clab)\n")

    def _preflight(self) -> None:
        missing = [t for t in TOOLS if self.which(t) is None]
        if missing and not self.dry_run:
            raise EnvironmentProblem(f"{', '.join(missing)} not found: the clab provider needs Docker, kind, "
                                     "containerlab, kubectl and calicoctl (run `invoke lab.doctor` for details)")
        for tool in missing:
            self.runner.note(f"pre-flight: {tool} not found on this host (a real run stops here)")

    def _render(self) -> None:
        for path in write_all(self.topo, self.out_dir):
            self.runner.note(f"wrote {path}")
        workload = self.out_dir / "workload.yaml"
        workload.write_text(render_workload(self.topo))
        self.runner.note(f"wrote {workload}")

    def _kind_create(self) -> None:
        existing = self._run("kind", "get", "clusters").stdout.split()
        if self.cluster not in existing:
            self._run("kind", "create", "cluster", "--name", self.cluster, "--image", self.topo.cluster.kind_image,
                      "--config", str(self.out_dir / "kind.yaml"))
        self._mark("kind")

    def _untaint(self) -> None:
        for node in self.topo.cluster.nodes:
            if node.role != m.CONTROL_PLANE:
                continue
            for taint in ("node-role.kubernetes.io/control-plane:NoSchedule-", "node-role.kubernetes.io/master:NoSchedule-"):
                result = self._kubectl("taint", "nodes", self.topo.cluster.k8s_name(node), taint, check=False)
                # kubectl refuses to remove a taint the node does not have: that is fine.
                if result.rc != 0 and "not found" not in result.stderr:
                    raise LabError(f"removing {taint} failed: {result.stderr.strip()}")

    def _create_bridges(self) -> None:
        state = self._state()
        for rack in self.topo.racks:
            if self.bridges.create(rack.bridge):
                state["bridges"].append(rack.bridge)
                self._save(state)

    def _clab_deploy(self) -> None:
        self._run("containerlab", "deploy", "-t", str(self.out_dir / "clab.yaml"), "--reconfigure")
        self._mark("containerlab")

    def _wait_fabric(self) -> None:
        for router in self.topo.routers:
            container = f"clab-{self.topo.name}-{router.name}"
            self._poll(f"VyOS {router.name}", lambda c=container: self.ssh(c, "show ip bgp summary"))
        for node in self.topo.cluster.nodes:
            name = self.topo.cluster.k8s_name(node)
            self._poll(f"address {node.ip} on {name}",
                       lambda n=name, ip=str(node.ip): ip in self.node_exec(n, ["ip", "-4", "-o", "addr", "show", "net0"]))

    def _install_calico(self) -> None:
        upstream = self.out_dir / "calico" / "calico-upstream.yaml"
        manifest = self.out_dir / "calico" / "calico-manifest.yaml"
        self._run("curl", "-fsSL", "-o", str(upstream), self.topo.calico.manifest_url)
        if self.dry_run:
            self.runner.note(f"verify sha256 of {upstream} (pinned: {self.topo.calico.manifest_sha256 or 'not pinned'}), "
                             f"set CALICO_IPV4POOL_IPIP/VXLAN=Never and CIDR {self.topo.cluster.pod_subnet}, write {manifest}")
        else:
            digest = verify_sha256(upstream.read_bytes(), self.topo.calico.manifest_sha256, self.topo.calico.manifest_url)
            if not self.topo.calico.manifest_sha256:
                sys.stderr.write(f"warning: the Calico manifest is not pinned; it had sha256 {digest} "
                                 "(set calico.manifest_sha256 in the topology to pin it)\n")
            manifest.write_text(set_pool_env(upstream.read_text(), str(self.topo.cluster.pod_subnet)))
        self._kubectl("apply", "-f", str(manifest))
        self._kubectl("-n", "kube-system", "rollout", "status", "daemonset/calico-node", "--timeout", f"{int(self.deadline)}s")

    def _apply_calico_resources(self) -> None:
        docs = [d for d in yaml.safe_load_all((self.out_dir / "calico" / "resources.yaml").read_text()) if d]
        cluster_docs = [d for d in docs if d["kind"] != "Node"]
        path = self.out_dir / "calico" / "cluster-resources.yaml"
        path.write_text(yaml.safe_dump_all(cluster_docs, sort_keys=False, explicit_start=True))
        self._calicoctl("apply", "-f", str(path))
        # Node objects belong to calico-node: patch the BGP fields, label through Kubernetes.
        for doc in (d for d in docs if d["kind"] == "Node"):
            name = doc["metadata"]["name"]
            self._calicoctl("patch", "node", name, "-p", json.dumps({"spec": {"bgp": doc["spec"]["bgp"]}}))
            extra = {k: v for k, v in doc["metadata"].get("labels", {}).items() if k != m.RACK_LABEL}
            if extra:
                self._kubectl("label", "node", name, "--overwrite", *[f"{k}={v}" for k, v in sorted(extra.items())])
        for extra_file in sorted((self.out_dir / "calico").glob("extra-*")):
            self._calicoctl("apply", "-f", str(extra_file))

    def _workload(self) -> None:
        self._kubectl("apply", "-f", str(self.out_dir / "workload.yaml"))
        self._kubectl("rollout", "status", f"daemonset/{APP}", "--timeout", f"{int(self.deadline)}s")
        self._mark("workload")

    def _wait_sessions(self) -> None:
        plan = plan_peering(self.resources())
        for node in self.topo.cluster.nodes:
            k8s = self.topo.cluster.k8s_name(node)
            want = {s.peer_address for s in plan.get(k8s, ())}

            def established(node_name=node.name) -> bool:
                rows = parse_birdc_protocols(self.access().birdc(node_name, "show protocols"))
                return {r.peer_address for r in rows if r.info.startswith("Established")} >= want
            self._poll(f"BGP peers of {k8s}", established)

    # -- down ------------------------------------------------------------------------------

    def down(self, out: TextIO, dry_run: bool | None = None) -> None:
        state = self._state()
        clab = self.out_dir / "clab.yaml"
        if clab.is_file() or self.dry_run:
            self._run("containerlab", "destroy", "-t", str(clab), "--cleanup", check=False)
        if self.cluster in self._run("kind", "get", "clusters", check=False).stdout.split() or self.dry_run:
            self._run("kind", "delete", "cluster", "--name", self.cluster)
        for bridge in reversed(state["bridges"]):
            self.bridges.delete(bridge)
        if self.state_path.is_file():
            self.state_path.unlink()
        out.write(f"lab {self.lab_name} removed (clab)\n" if not self.dry_run else "")

    # -- what status and checks need -------------------------------------------------------

    def resources(self):
        path = self.out_dir / "calico" / "resources.yaml"
        from ...render.calico import render_calico

        text = path.read_text() if path.is_file() else render_calico(self.topo)
        return parse_resources(text, str(path))

    def access(self):
        from .access import ClabAccess

        return ClabAccess(self.topo, self.runner)

    def pods(self):
        from ...checks.base import PodInfo

        data = json.loads(self._kubectl("get", "pods", "-l", f"app={APP}", "-o", "json").stdout or '{"items": []}')
        by_k8s = {self.topo.cluster.k8s_name(n): n.name for n in self.topo.cluster.nodes}
        return [PodInfo(p["metadata"]["name"], by_k8s.get(p["spec"].get("nodeName"), p["spec"].get("nodeName")),
                        p["status"].get("podIP", "")) for p in data.get("items", [])]

    def planned_blocks(self):
        return None  # Calico's IPAM decides in a real cluster

    def exported_blocks(self):
        return None

    def _traffic_in_pod(self, target: str) -> list[str]:
        # The demo image brings python3; the traffic tool is one stdlib-only file.
        from ... import traffic

        self._kubectl("cp", traffic.__file__, f"default/{target}:/tmp/fabriclab-traffic.py")
        return ["python3", "/tmp/fabriclab-traffic.py"]

    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        return self.access().exec(target, [*self._traffic_in_pod(target), *args], timeout=60)

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str):
        from ..netns.provider import _wait_for_line

        spawned = self.access().spawn(target, [*self._traffic_in_pod(target), *args], log_path=log_path)
        _wait_for_line(spawned, log_path, ready)
        return spawned

    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str):
        import contextlib

        from ...exec import Background
        from ..netns.provider import _wait_for_line, _wait_until_quiet

        access = self.access()

        @contextlib.contextmanager
        def running():
            started = []
            try:
                for iface in ifaces:
                    # tcpdump inside the container writes the pcap to stdout, straight into a host file.
                    argv = ["tcpdump", "-i", iface, "-n", "--immediate-mode", "-U", "-w", "-", bpf]
                    err = Path(str(pcaps[iface]) + ".log")
                    spawned = Background(argv, pcaps[iface], access._argv(target, argv), stderr_path=err)
                    started.append(spawned)
                    _wait_for_line(_ErrView(spawned, err), err, "listening on")
                yield
                _wait_until_quiet([pcaps[i] for i in ifaces])
            finally:
                for spawned in started:
                    spawned.stop()
        return running()

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        patch = {"spec": {"serviceClusterIPs": [{"cidr": c} for c in cidrs]}}
        self._calicoctl("patch", "bgpconfiguration", "default", "-p", json.dumps(patch))


class _ErrView:
    """A Background process seen through its stderr file (for readiness lines)."""

    def __init__(self, spawned, err_path: Path):
        self.spawned, self.err_path = spawned, err_path

    def alive(self) -> bool:
        return self.spawned.alive()

    def stop(self):
        result = self.spawned.stop()
        return Result(result.argv, result.rc, self.err_path.read_text(errors="replace"), "")


class _Quiet:
    """In a dry run the step lines would interleave with the plan: print them as comments."""

    def __init__(self, out: TextIO):
        self.out = out

    def write(self, text: str) -> None:
        if text.startswith("["):
            self.out.write(f"\n# step {text.strip()}\n")

    def flush(self) -> None:
        self.out.flush()
