"""Commands on a running clab lab: calicoctl and kubectl passed through, the demo pods, traffic, capture.

On this provider the real tools answer: `calicoctl(argv, out)` runs the real calicoctl
on the lab's own kubeconfig (Kubernetes datastore), `kubectl(argv, out)` the real
kubectl on that kubeconfig and context. Both go through the command runner, so
`--dry-run` prints them and the tests record them.

Pods: the demo DaemonSet's pods as Kubernetes reports them (`kubectl get pods -o
json`: name, node, IP), with the IPAM block and pool each address falls in (Calico
allocates blocks aligned to the pool's blockSize, so the block is the address's
network of that size). Recreating them is what a user does: `rollout restart` of
the DaemonSet (every pod), or `delete pod` on one node (the DaemonSet recreates it);
each waits with `rollout status`.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_network
from pathlib import Path
from typing import Mapping, Sequence, TextIO

from ... import traffic
from ...errors import LabError
from ...exec import Result
from ...render.workload import APP
from ..waits import wait_for_line, wait_until_quiet
from .access import ClabAccess
from .context import ClabContext

ALLOW_MISMATCH = "--allow-version-mismatch"
# calicoctl subcommands that take no --allow-version-mismatch (they do not talk to the datastore).
_NO_MISMATCH_FLAG = ("version", "help", "--help", "-h")
REMOTE_TRAFFIC = "/tmp/fabriclab-traffic.py"


def calicoctl_args(argv: Sequence[str]) -> list[str]:
    """argv with --allow-version-mismatch after the subcommand's arguments (before a `--`), once."""
    args = list(argv)
    if not args or args[0] in _NO_MISMATCH_FLAG or ALLOW_MISMATCH in args:
        return args
    if "--" in args:
        cut = args.index("--")
        return [*args[:cut], ALLOW_MISMATCH, *args[cut:]]
    return [*args, ALLOW_MISMATCH]


@dataclass(frozen=True)
class PodRow:
    name: str
    node: str  # topology node name (control-plane, worker2 ...)
    ip: str  # "" while the pod has no address
    block: str  # the IPAM block the address belongs to ("" when no pool holds it)
    pool: str
    phase: str


def _echo(result: Result, out: TextIO) -> int:
    if result.stdout:
        out.write(result.stdout if result.stdout.endswith("\n") else result.stdout + "\n")
    if result.stderr:
        out.write(result.stderr if result.stderr.endswith("\n") else result.stderr + "\n")
    return result.rc


class ClabOps:
    def __init__(self, ctx: ClabContext, access: ClabAccess):
        self.ctx, self.access = ctx, access

    # -- the real tools ----------------------------------------------------------------------

    def calicoctl(self, argv: Sequence[str], out: TextIO, stdin: str | None = None) -> int:
        ctx = self.ctx
        result = ctx.runner.run(["calicoctl", *calicoctl_args(argv)], input=stdin, check=False,
                                env=ctx.calicoctl_env(), timeout=120)
        return _echo(result, out)

    def kubectl(self, argv: Sequence[str], out: TextIO, stdin: str | None = None) -> int:
        result = self.ctx.runner.run([*self.ctx.kubectl_prefix(), *argv], input=stdin, check=False, timeout=600)
        return _echo(result, out)

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        patch = {"spec": {"serviceClusterIPs": [{"cidr": str(c)} for c in cidrs]}}
        self.ctx.calicoctl("patch", "bgpconfiguration", "default", "-p", json.dumps(patch))

    # -- pods --------------------------------------------------------------------------------

    def _pool_of(self, ip: str) -> tuple[str, str]:
        if not ip:
            return "", ""
        address = IPv4Address(ip)
        for pool in self.ctx.topo.calico.ip_pools:
            if address in pool.cidr:
                return str(ip_network(f"{ip}/{pool.block_size}", strict=False)), pool.name
        return "", ""

    def pods_list(self) -> list[PodRow]:
        ctx = self.ctx
        result = ctx.kubectl("-n", "default", "get", "pods", "-l", f"app={APP}", "-o", "json", timeout=60)
        try:
            data = json.loads(result.stdout or '{"items": []}')
        except ValueError as exc:
            raise LabError(f"kubectl get pods printed no JSON ({exc}): {result.stdout[:300]!r}") from exc
        by_k8s = {ctx.topo.cluster.k8s_name(n): n.name for n in ctx.topo.cluster.nodes}
        rows = []
        for pod in data.get("items", []):
            k8s_node = (pod.get("spec") or {}).get("nodeName", "")
            status = pod.get("status") or {}
            ip = status.get("podIP", "")
            block, pool = self._pool_of(ip)
            rows.append(PodRow(pod["metadata"]["name"], by_k8s.get(k8s_node, k8s_node), ip, block, pool,
                               status.get("phase", "")))
        return sorted(rows, key=lambda r: (r.node, r.name))

    def recreate_pods(self, node: str | None = None) -> list[PodRow]:
        """Every demo pod (rollout restart), or the one on `node` (deleted; the DaemonSet recreates it)."""
        ctx = self.ctx
        if node is None:
            ctx.kubectl("-n", "default", "rollout", "restart", f"daemonset/{APP}")
        else:
            known = {n.name for n in ctx.topo.cluster.nodes}
            if node not in known:
                raise LabError(f"unknown node '{node}' (nodes: {', '.join(sorted(known))})")
            ctx.kubectl("-n", "default", "delete", "pod", "-l", f"app={APP}",
                        "--field-selector", f"spec.nodeName={ctx.topo.cluster.k8s_name(node)}", "--wait=true")
        ctx.kubectl("-n", "default", "rollout", "status", f"daemonset/{APP}", "--timeout", f"{ctx.deadline:g}s",
                    timeout=ctx.deadline + 60)
        return [] if ctx.dry_run else self.pods_list()

    # -- traffic and capture -----------------------------------------------------------------

    def _traffic_argv(self, target: str) -> list[str]:
        """lab/traffic.py (one stdlib-only file) copied into the target; the demo image brings python3."""
        container = self.access.container_of(target)
        if container:
            self.ctx.run("docker", "cp", traffic.__file__, f"{container}:{REMOTE_TRAFFIC}")
        else:
            self.ctx.kubectl("cp", traffic.__file__, f"default/{target}:{REMOTE_TRAFFIC}")
        return ["python3", REMOTE_TRAFFIC]

    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        return self.access.exec(target, [*self._traffic_argv(target), *args], timeout=120)

    def start_traffic(self, target: str, args: Sequence[str], log_path: Path, ready: str):
        spawned = self.access.spawn(target, [*self._traffic_argv(target), *args], log_path=log_path)
        wait_for_line(spawned, log_path, ready)
        return spawned

    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping[str, Path], bpf: str):
        """tcpdump inside the target's network namespace (the leaf container for ECMP), pcap streamed to a host file."""
        access = self.access

        @contextlib.contextmanager
        def running():
            started = []
            try:
                for iface in ifaces:
                    argv = ["tcpdump", "-i", iface, "-n", "--immediate-mode", "-U", "-w", "-", *([bpf] if bpf else [])]
                    err = Path(str(pcaps[iface]) + ".log")
                    spawned = access.spawn(target, argv, log_path=pcaps[iface], stderr_path=err)
                    started.append(spawned)
                    wait_for_line(_StderrView(spawned, err), err, "listening on")
                yield
                wait_until_quiet([pcaps[i] for i in ifaces])
            finally:
                for spawned in started:
                    spawned.stop()
        return running()


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
