"""The exec interface on a clab lab: docker exec into kind nodes and containerlab containers,
kubectl exec into pods and calico-node; the same checks run unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ... import model as m
from ...errors import LabError
from ...exec import Background, Result
from ...render.clab import server_name  # noqa: F401  (servers share the kind node's namespace)
from ...render.workload import APP
from ...runner import Runner

CALICO_SOCKET = "/var/run/calico/bird.ctl"


class ClabAccess:
    def __init__(self, topo: m.Topology, runner: Runner):
        self.topo, self.runner = topo, runner
        self.nodes = {n.name: topo.cluster.k8s_name(n) for n in topo.cluster.nodes}
        self.routers = {r.name: f"clab-{topo.name}-{r.name}" for r in topo.routers}
        self.hosts = {h.name: f"clab-{topo.name}-{h.name}" for h in topo.hosts}
        self.context = f"kind-{topo.cluster.name}"

    def _argv(self, target: str, argv: Sequence[str]) -> list[str]:
        container = self.nodes.get(target) or self.routers.get(target) or self.hosts.get(target)
        if container:
            return ["docker", "exec", container, *argv]
        if target.startswith(APP):
            return ["kubectl", "--context", self.context, "exec", target, "--", *argv]
        raise LabError(f"unknown lab target '{target}'")

    def exec(self, target: str, argv: Sequence[str], *, timeout: float = 10.0, check: bool = False) -> Result:
        return self.runner.run(self._argv(target, argv), timeout=timeout, check=check)

    def spawn(self, target: str, argv: Sequence[str], *, log_path: str | Path) -> Background:
        return Background(argv, log_path, self._argv(target, argv))

    def _calico_node_pod(self, node: str) -> str:
        result = self.runner.run(["kubectl", "--context", self.context, "-n", "kube-system", "get", "pods",
                                  "-l", "k8s-app=calico-node", "--field-selector", f"spec.nodeName={self.nodes[node]}",
                                  "-o", "jsonpath={.items[0].metadata.name}"], check=True)
        return result.stdout.strip() or "calico-node-pod-on-" + self.nodes[node]

    def birdc(self, node: str, command: str) -> str:
        if node in self.hosts:
            return self.runner.run(["docker", "exec", self.hosts[node], "birdc", *command.split()], check=True).stdout
        if node not in self.nodes:
            raise LabError(f"'{node}' runs no BIRD")
        pod = self._calico_node_pod(node)
        return self.runner.run(["kubectl", "--context", self.context, "-n", "kube-system", "exec", pod, "-c", "calico-node",
                                "--", "birdcl", "-s", CALICO_SOCKET, *command.split()], check=True).stdout

    def vtysh(self, router: str, command: str) -> str:
        if router not in self.routers:
            raise LabError(f"'{router}' is not a router")
        # VyOS's routing engine is FRR: its vtysh answers inside the container.
        return self.runner.run(["docker", "exec", self.routers[router], "vtysh", "-c", command], check=True).stdout
