"""The exec interface (`LabAccess`) on a clab lab, so `lab.status` and `lab.test` run unchanged.

Targets and how they are reached:

- a Kubernetes node (control-plane, worker ...): docker SDK exec into its
  containerlab *server* container (`clab-<lab>-server-<node>`). The server
  shares the kind node's network namespace (`network-mode: container:<kind
  node>`), so it sees exactly the node's interfaces and routes, and its
  network-tools image has ping and tcpdump, which the kind node image lacks.
- a router (VyOS): docker SDK exec into `clab-<lab>-<router>` for `ip` and
  `tcpdump` (as root: the failover check sets links down, the ECMP check
  captures); `vtysh()` over SSH (paramiko) with the configured credentials,
  running FRR's own `vtysh -c` (VyOS's routing engine is FRR, and its login
  users are in the frrvty group). vtysh rather than VyOS op-mode commands
  because the checks parse FRR's output, JSON included, exactly as they do on
  the netns provider; op mode reformats or lacks some of it.
- an external route-reflector host: `birdc` by docker SDK exec in its BIRD
  container `clab-<lab>-<host>`; other commands in its network-tools sidecar
  `clab-<lab>-<host>-net`, which shares the BIRD container's network namespace
  (the BIRD image has no `ip`).
- a pod of the demo DaemonSet: `kubectl exec` (through the command runner).
- `birdc(node)` is what `calicoctl node status` reads: `birdcl` on the
  calico-node pod's BIRD socket, through `kubectl exec`.

Background processes (`spawn`) run through the docker / kubectl CLI with
stdout streamed into a host file; the in-container process records its PID
in a file, and `stop()` kills exactly that PID (never a name match).
"""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path
from typing import Callable, Sequence

from ... import model as m
from ...errors import LabError
from ...deadline import Deadline
from ...exec import Background, Result
from ...render.clab import host_sidecar_name
from ...render.names import server_name
from ...render.workload import APP
from ...runner import Runner, checked

CALICO_BIRD_SOCKET = "/var/run/calico/bird.ctl"
# Runs argv with its PID recorded in the file given as $0; argv arrives as "$@", never re-parsed.
SPAWN_SCRIPT = 'echo $$ > "$0"; exec "$@"'
KILL_SCRIPT = 'kill "$(cat "$0")" 2>/dev/null; rm -f "$0"'


def router_container(topo: m.Topology, router: str) -> str:
    return f"clab-{topo.name}-{router}"


def server_container(topo: m.Topology, node: str) -> str:
    return f"clab-{topo.name}-{server_name(node)}"


def host_container(topo: m.Topology, host: str) -> str:
    return f"clab-{topo.name}-{host}"


def host_tools_container(topo: m.Topology, host: str) -> str:
    return f"clab-{topo.name}-{host_sidecar_name(host)}"


class ContainerSpawned:
    """A background command inside a container or pod, stopped by its in-container PID."""

    def __init__(self, argv: Sequence[str], log_path: Path, outer_argv: Sequence[str], kill: Callable[[], object],
                 stderr_path: Path | None = None, exit_deadline: float = 2.0):
        self.kill, self.exit_deadline = kill, exit_deadline
        self.background = Background(argv, log_path, outer_argv, stderr_path=stderr_path)
        self.argv = self.background.argv

    def alive(self) -> bool:
        return self.background.alive()

    def stop(self) -> Result:
        try:
            self.kill()
        except LabError:
            pass  # the container may be gone; the client is stopped below either way
        end = Deadline.after(self.exit_deadline)
        while self.background.alive() and not end.expired():
            end.sleep(0.02)  # the client exits once the remote process has; this only bounds the wait
        return self.background.stop()


class ClabAccess:
    def __init__(self, topo: m.Topology, runner: Runner, docker, ssh, kubectl: Sequence[str]):
        """`docker` is a seams.Docker (or its dry-run form), `ssh` a seams.VyosSsh, `kubectl` the
        kubectl argv prefix that names the lab's kubeconfig and context."""
        self.topo, self.runner, self.docker, self.ssh = topo, runner, docker, ssh
        self.kubectl = list(kubectl)
        self.nodes = {n.name: server_container(topo, n.name) for n in topo.cluster.nodes}
        self.routers = {r.name: router_container(topo, r.name) for r in topo.routers}
        self.hosts = {h.name: host_container(topo, h.name) for h in topo.hosts}
        self.host_tools = {h.name: host_tools_container(topo, h.name) for h in topo.hosts}
        self._calico_pods: dict[str, str] = {}

    # -- targets -----------------------------------------------------------------------------

    def container_of(self, target: str) -> str | None:
        """The container whose network namespace (and tools) commands for target run in."""
        return self.nodes.get(target) or self.routers.get(target) or self.host_tools.get(target)

    def is_pod(self, target: str) -> bool:
        return target.startswith(APP + "-")

    def _unknown(self, target: str) -> LabError:
        known = [*self.nodes, *self.routers, *self.hosts, f"{APP}-<pod>"]
        return LabError(f"unknown lab target '{target}' (targets: {', '.join(known)})")

    def pod_argv(self, pod: str, argv: Sequence[str]) -> list[str]:
        return [*self.kubectl, "exec", "-n", "default", pod, "--", *argv]

    # -- LabAccess ---------------------------------------------------------------------------

    def exec(self, target: str, argv: Sequence[str], *, timeout: float = 10.0, check: bool = False) -> Result:
        container = self.container_of(target)
        if container:
            return checked(self.docker.exec(container, argv, timeout=timeout), check)
        if self.is_pod(target):
            return self.runner.run(self.pod_argv(target, argv), timeout=timeout, check=check)
        raise self._unknown(target)

    def spawn_argv(self, target: str, argv: Sequence[str], pidfile: str) -> tuple[list[str], Callable[[], object]]:
        """The host-side argv that starts argv in target with its PID in pidfile, and how to kill it."""
        wrapped = ["sh", "-c", SPAWN_SCRIPT, pidfile, *argv]
        kill = ["sh", "-c", KILL_SCRIPT, pidfile]
        container = self.container_of(target)
        if container:
            return (["docker", "exec", container, *wrapped],
                    lambda: self.docker.exec(container, kill, timeout=10))
        if self.is_pod(target):
            return (self.pod_argv(target, wrapped),
                    lambda: self.runner.run(self.pod_argv(target, kill), timeout=20, check=False))
        raise self._unknown(target)

    def spawn(self, target: str, argv: Sequence[str], *, log_path: str | Path,
              stderr_path: str | Path | None = None) -> ContainerSpawned:
        pidfile = f"/tmp/fabriclab-spawn-{uuid.uuid4().hex[:12]}.pid"
        outer, kill = self.spawn_argv(target, argv, pidfile)
        return ContainerSpawned(argv, Path(log_path), outer, kill, Path(stderr_path) if stderr_path else None)

    def calico_node_pod(self, node: str, refresh: bool = False) -> str:
        """The calico-node pod on a topology node (looked up once, again after a failure)."""
        if refresh or node not in self._calico_pods:
            k8s = self.topo.cluster.k8s_name(node)
            result = self.runner.run([*self.kubectl, "-n", "kube-system", "get", "pods", "-l", "k8s-app=calico-node",
                                      "--field-selector", f"spec.nodeName={k8s}",
                                      "-o", "jsonpath={.items[0].metadata.name}"], timeout=30, check=True)
            name = result.stdout.strip()
            if not name:
                if not self.runner.dry_run:
                    raise LabError(f"no calico-node pod on {k8s} (is Calico installed?)")
                name = f"<calico-node pod on {k8s}>"
            self._calico_pods[node] = name
        return self._calico_pods[node]

    def birdc(self, node: str, command: str) -> str:
        if node in self.hosts:
            result = self.docker.exec(self.hosts[node], ["birdc", *command.split()], timeout=10)
            if result.rc != 0:
                raise LabError(f"BIRD on {node} does not answer: {(result.stderr or result.stdout).strip()[:300]}")
            return result.stdout
        if node not in self.nodes:
            raise LabError(f"'{node}' runs no BIRD (BIRD runs on: {', '.join([*self.nodes, *self.hosts])})")
        argv = ["birdcl", "-s", CALICO_BIRD_SOCKET, *command.split()]
        for refresh in (False, True):
            pod = self.calico_node_pod(node, refresh=refresh)
            result = self.runner.run([*self.kubectl, "-n", "kube-system", "exec", pod, "-c", "calico-node", "--",
                                      *argv], timeout=30, check=False)
            if result.rc == 0:
                return result.stdout
        raise LabError(f"BIRD of calico-node on {node} does not answer: {(result.stderr or result.stdout).strip()[:300]}")

    def vtysh(self, router: str, command: str) -> str:
        if router not in self.routers:
            raise LabError(f"'{router}' is not a router (routers: {', '.join(self.routers)})")
        result = self.ssh.run(self.routers[router], shlex.join(["vtysh", "-c", command]))
        if result.rc != 0:
            raise LabError(f"FRR on {router} does not answer: {(result.stderr or result.stdout).strip()[:300]}")
        return result.stdout
