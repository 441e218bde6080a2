"""Faults on a running clab lab: link down/up, a routing daemon stopped and started, netem.

Every command goes through the provider's exec interface (docker exec into the target's
container, `kubectl exec` into calico-node) or its command runner (containerlab), so
`--dry-run` prints each one and the tests record them. What each target runs, and how
it is stopped, as the real products do it:

- a Kubernetes node: BIRD runs inside the calico-node container as a runit service
  (calico-node's rc.local enables /etc/service/enabled/bird; confd reloads it with
  `sv hup bird`). `stop` = `sv stop` on that service (SIGTERM: BIRD sends a Cease);
  `stop --kill` = `sv once` (runsv will not restart it) then `sv kill` (SIGKILL, a
  crash); `start` = `sv start`, ready when `birdcl show status` answers. While BIRD is
  down, calico-node's liveness probe (`-bird-live`) fails: kubelet restarts the
  container after about a minute (the manifest's probe period x threshold), which
  starts BIRD again: say so, a workshop will see it.
- a VyOS router: FRR under systemd (`frr.service`, with watchfrr). `stop` saves FRR's
  active configuration first (`vtysh -n -w --config_dir`, what VyOS's own `restart frr`
  op-mode script does) and stops the service; `start` starts it and re-installs the
  saved configuration (`vtysh -n -b --config_dir`), ready when vtysh answers. No `--kill`:
  systemd restarts FRR after a crash (frr.service's Restart policy), so a killed FRR
  would not stay down.
- an external route-reflector host: BIRD is its container's main process
  (`bird -d`): stopping it would stop the container and drop the network namespace the
  containerlab links live in. Refused, with that reason.
- netem: `containerlab tools netem set -n <container> -i <iface> --delay .. --jitter ..
  --loss ..` (all impairments at once, as containerlab applies them), cleared with
  `containerlab tools netem reset` (containerlab >= 0.66; the pinned release has it).
  A node's server container shares the kind node's network namespace, so netem on it
  is netem on the node.
- link up on a node's or host's fabric interface re-runs what its server container's
  exec lines installed through it (address, default route via the leaf): the kernel
  drops the route when the interface goes down. A router's routes come back from FRR.
"""

from __future__ import annotations

import shlex

from ... import model as m
from ...errors import LabError
from ...faults import netem_numbers
from ...names import iface_name_problem
from ...render.clab import HOST_IFACE, SERVER_IFACE
from .access import ClabAccess
from .context import ClabContext

BIRD_SERVICE = "/etc/service/enabled/bird"  # calico-node's runit service directory for BIRD
FRR_SAVED = "/tmp/fabriclab-frr-stopped"  # in the router container: FRR's config while it is stopped


class ClabFaults:
    def __init__(self, ctx: ClabContext, access: ClabAccess):
        self.ctx, self.access = ctx, access
        self.topo: m.Topology = ctx.topo

    # -- targets ---------------------------------------------------------------------------

    def _kind(self, target: str) -> str:
        if target in self.access.nodes:
            return "node"
        if target in self.access.routers:
            return "router"
        if target in self.access.hosts:
            return "host"
        known = [*self.access.nodes, *self.access.routers, *self.access.hosts]
        raise LabError(f"unknown target '{target}' (targets: {', '.join(known)})")

    @staticmethod
    def _iface(iface: str) -> str:
        problem = iface_name_problem(iface)
        if problem:
            raise LabError(problem)
        return iface

    def _exec(self, target: str, argv: list[str]) -> str:
        return self.access.exec(target, argv, timeout=30, check=True).stdout

    # -- link ------------------------------------------------------------------------------

    def _uplink(self, target: str) -> tuple[str, m.Rack, object] | None:
        """(fabric interface, rack, address) of a node or host, as its server container set them."""
        for node in self.topo.cluster.nodes:
            if node.name == target:
                return SERVER_IFACE, self.topo.rack(node.rack), node.ip
        for host in self.topo.hosts:
            if host.name == target:
                return HOST_IFACE, self.topo.rack(host.rack), host.ip
        return None

    def link(self, target: str, iface: str, up: bool) -> str:
        kind = self._kind(target)
        iface = self._iface(iface)
        self._exec(target, ["ip", "link", "set", iface, "up" if up else "down"])
        if not up:
            return f"{target} {iface} down"
        uplink = self._uplink(target) if kind != "router" else None
        if not uplink or uplink[0] != iface:
            return f"{target} {iface} up"
        _, rack, address = uplink
        restored = []
        # `replace`: idempotent whether the kernel kept the address/route or dropped it.
        self._exec(target, ["ip", "addr", "replace", str(address), "dev", iface])
        if rack.gateway is not None:
            self._exec(target, ["ip", "route", "replace", "default", "via", str(rack.gateway)])
            restored.append(f"default via {rack.gateway}")
        return f"{target} {iface} up" + (f"; routes restored: {', '.join(restored)}" if restored else "")

    # -- stop / start ------------------------------------------------------------------------

    def _calico_node(self, node: str, argv: list[str]) -> str:
        pod = self.access.calico_node_pod(node)
        return self.ctx.kubectl("-n", "kube-system", "exec", pod, "-c", "calico-node", "--", *argv,
                                timeout=60).stdout

    def stop(self, target: str, kill: bool = False) -> str:
        kind = self._kind(target)
        if kind == "host":
            raise LabError(f"lab.stop {target}: BIRD is the main process of its container ({self.access.hosts[target]}); "
                           "stopping it would remove the container's network namespace and its containerlab links "
                           "(not available on the clab provider)")
        if kind == "router":
            if kill:
                raise LabError(f"lab.stop --kill {target}: systemd restarts a crashed FRR on VyOS (frr.service), "
                               "so a kill would not stay down; use lab.stop without --kill")
            # VyOS's own `restart frr` keeps the active config this way; `start` re-installs it.
            self._exec(target, ["mkdir", "-p", FRR_SAVED])
            self._exec(target, ["vtysh", "-n", "-w", "--config_dir", FRR_SAVED])
            self._exec(target, ["systemctl", "stop", "frr"])
            return (f"{target}: FRR stopped (config saved in {FRR_SAVED}); "
                    f"`invoke lab.start --provider clab{self._name()} {target}` starts it again")
        if kill:
            self._calico_node(target, ["sv", "once", BIRD_SERVICE])  # runsv must not restart it
            self._calico_node(target, ["sv", "kill", BIRD_SERVICE])
        else:
            self._calico_node(target, ["sv", "stop", BIRD_SERVICE])
        return (f"{target}: BIRD in calico-node {'killed' if kill else 'stopped'}; "
                f"`invoke lab.start --provider clab{self._name()} {target}` starts it again "
                "(calico-node's liveness probe restarts the container after about a minute if nobody does)")

    def start(self, target: str) -> str:
        kind = self._kind(target)
        if kind == "host":
            raise LabError(f"lab.start {target}: its BIRD is never stopped by the lab on the clab provider")
        started = self.ctx.clock()
        if kind == "router":
            self._exec(target, ["systemctl", "start", "frr"])
            self.ctx.poll(f"FRR on {target} answers vtysh", lambda: self._answers(target, ["vtysh", "-c", "show version"]))
            self._exec(target, ["vtysh", "-n", "-b", "--config_dir", FRR_SAVED])
            self._exec(target, ["rm", "-rf", FRR_SAVED])
            return f"{target}: FRR started with the saved config, ready in {self.ctx.clock() - started:.2f}s"
        self._calico_node(target, ["sv", "start", BIRD_SERVICE])
        self.ctx.poll(f"BIRD in calico-node on {target} answers", lambda: self._bird_answers(target))
        return f"{target}: BIRD in calico-node started, ready in {self.ctx.clock() - started:.2f}s"

    def _answers(self, target: str, argv: list[str]) -> bool:
        return self.access.exec(target, argv, timeout=10).ok

    def _bird_answers(self, node: str) -> bool:
        try:
            return "BIRD" in self.access.birdc(node, "show status") or self.ctx.dry_run
        except LabError:
            return False

    def _name(self) -> str:
        return f" --name {self.topo.name}" if self.ctx.port_scope else ""

    # -- netem -----------------------------------------------------------------------------

    def _container(self, target: str) -> str:
        kind = self._kind(target)
        return {"node": self.access.nodes, "router": self.access.routers, "host": self.access.hosts}[kind][target]

    def netem(self, target: str, iface: str, delay_ms=0.0, jitter_ms=0.0, loss_pct=0.0) -> str:
        delay, jitter, loss = netem_numbers(delay_ms, jitter_ms, loss_pct)
        argv = ["containerlab", "tools", "netem", "set", "-n", self._container(target), "-i", self._iface(iface),
                "--delay", f"{delay:g}ms", "--jitter", f"{jitter:g}ms", "--loss", f"{loss:g}"]
        self.ctx.run(*argv, timeout=60)
        return f"{target} {iface}: netem delay {delay:g} ms jitter {jitter:g} ms loss {loss:g} % ({shlex.join(argv[:4])})"

    def clear_netem(self, target: str, iface: str) -> str:
        self.ctx.run("containerlab", "tools", "netem", "reset", "-n", self._container(target), "-i", self._iface(iface),
                     timeout=60)
        return f"{target} {iface}: netem removed"
