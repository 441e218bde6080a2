"""The clab provider: kind + containerlab + VyOS + the real Calico manifest.

`ClabProvider` is the facade the commands and checks use; the work is split by concern,
each part taking one shared `ClabContext` (context.py):

- steps.py: `up`'s ordered steps (kind's "actions": one status line each, the first
  failure stops the run naming the step);
- teardown.py: `down`, from the state file (state.py: what this lab created, written
  before each creating action);
- ops.py: commands on a running lab (calicoctl/kubectl passed through, pods, traffic,
  capture); access.py: the exec interface checks use.

Every external command goes through a `Runner` (argv lists); host bridges, docker exec
and SSH go through the seams in `seams.py`/`lab.hostseams`. So `--dry-run` prints the
complete plan, and the tests replay it with a recording runner and fakes.

`--name` renames every name the lab creates (names.py), so two clab labs of one
topology coexist.

The tools it drives are not on our CI machines: this provider is tested by contract
(recorded commands, golden plan), not end to end.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Mapping, Sequence, TextIO

from ... import model as m
from ...contract import LabProvider
from ...errors import LabError
from ...exec import Result
from ...runner import DryRunRunner, Runner, SubprocessRunner
from ..base import Provider, Step, run_steps
from .access import ClabAccess
from .context import ClabContext, clab_present, vyos_credentials  # noqa: F401  (public helpers)
from .faults import ClabFaults
from .names import lab_topology, port_scope
from .ops import ClabOps, PodRow
from .seams import BridgeOps, Docker, DryRunBridges, DryRunDocker, DryRunSsh, HostBridges, VyosSsh
from .state import STATE_FILE  # noqa: F401  (re-exported for callers and tests)
from .steps import UpSteps, planned_peers, resources
from .teardown import remove


class ClabProvider(Provider):
    name = "clab"

    def __init__(self, topo: m.Topology, lab_name: str | None = None, out_dir=None, *, dry_run: bool = False,
                 out: TextIO | None = None, runner: Runner | None = None, bridges: BridgeOps | None = None,
                 docker=None, ssh=None, preflight: Callable[[], list] | None = None,
                 vyos_user: str | None = None, vyos_password: str | None = None,
                 deadline: float = 600.0, interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, verbose: bool = False):
        scope = port_scope(topo, lab_name)
        super().__init__(lab_topology(topo, lab_name), lab_name, out_dir)
        self.dry_run = dry_run
        self.out = out = out or sys.stdout
        runner = runner or (DryRunRunner(out) if dry_run else SubprocessRunner(out, verbose=verbose))
        docker = docker or (DryRunDocker(runner) if dry_run else Docker())
        default_user, default_password = vyos_credentials()
        self.vyos_user = vyos_user or default_user
        ssh = ssh or (DryRunSsh(runner, self.vyos_user) if dry_run
                      else VyosSsh(docker, self.vyos_user, vyos_password or default_password))
        self.ctx = ClabContext(self.topo, self.out_dir, runner, docker, ssh,
                               bridges or (DryRunBridges(runner) if dry_run else HostBridges()),
                               dry_run=dry_run, port_scope=scope, deadline=deadline, interval=interval,
                               clock=clock, sleep=sleep)
        self._preflight_checks = preflight
        self._access: ClabAccess | None = None

    # -- names the commands and tests read ---------------------------------------------------

    runner = property(lambda self: self.ctx.runner)
    docker = property(lambda self: self.ctx.docker)
    ssh = property(lambda self: self.ctx.ssh)
    bridges = property(lambda self: self.ctx.bridges)
    cluster = property(lambda self: self.ctx.cluster)
    context = property(lambda self: self.ctx.context)
    kubeconfig = property(lambda self: self.ctx.kubeconfig)
    clab_file = property(lambda self: self.ctx.clab_file)
    calico_dir = property(lambda self: self.ctx.calico_dir)
    state_path = property(lambda self: self.ctx.state.path)

    def kubectl_prefix(self) -> list[str]:
        return self.ctx.kubectl_prefix()

    def kind_nodes(self) -> list[str]:
        return self.ctx.kind_nodes()

    def is_up(self) -> bool:
        return self.ctx.state.is_up()

    # -- lifecycle ---------------------------------------------------------------------------

    def preflight_items(self) -> list:
        if self._preflight_checks is not None:
            return list(self._preflight_checks())
        from ...doctor import CLAB, HostProbes, collect

        # Read-only probes of the real host, in a dry run too (its plan then says what a real run would lack).
        probes = HostProbes() if self.dry_run else HostProbes(docker_factory=lambda: self.ctx.docker)
        return collect(CLAB, topology=self.topo, probes=probes)

    def steps(self) -> list[Step]:
        return UpSteps(self.ctx, self.preflight_items, self.access()).steps()

    def up(self, out: TextIO | None = None) -> None:
        out = self.out = out or self.out
        ctx = self.ctx
        if not self.dry_run and ctx.state.load()["complete"]:
            out.write(f"lab {self.lab_name} is already up (clab); `invoke lab.down --provider clab` removes it\n")
            return
        if self.dry_run:
            out.write(f"# dry run of `lab.up --provider clab` for lab {self.lab_name}: every command below, in order; "
                      "nothing is executed, only the files are written\n")
        try:
            run_steps(self.steps(), _Comments(out) if self.dry_run else _Progress(out, ctx.warnings), clock=ctx.clock)
        except LabError:
            if not self.dry_run and self.is_up():
                out.write(f"`up` stopped; what it created is recorded in {self.state_path}: "
                          f"`invoke lab.down --provider clab{self._name_option()}` removes it\n")
            raise
        if not self.dry_run:
            ctx.state.update(complete=True)
            out.write(f"lab {self.lab_name} is up (clab): kubectl --kubeconfig {self.kubeconfig} get nodes -o wide\n")

    def _name_option(self) -> str:
        return f" --name {self.lab_name}" if self.port_scope_active else ""

    @property
    def port_scope_active(self) -> bool:
        return bool(self.ctx.port_scope)

    def down(self, out: TextIO | None = None) -> None:
        remove(self.ctx, out or self.out)

    # -- what status, checks and the live commands need ----------------------------------------

    def resources(self):
        return resources(self.ctx)

    def planned_peers(self) -> dict[str, set[str]]:
        return planned_peers(self.ctx)

    def access(self) -> ClabAccess:
        if self._access is None:
            self._access = ClabAccess(self.topo, self.ctx.runner, self.ctx.docker, self.ctx.ssh,
                                      self.ctx.kubectl_prefix())
        return self._access

    def ops(self) -> ClabOps:
        return ClabOps(self.ctx, self.access())

    def calicoctl(self, argv, out: TextIO, stdin=None, files: dict[str, str] | None = None) -> int:
        """The real calicoctl on this lab (lab-local kubeconfig, --allow-version-mismatch); its exit code.
        `stdin`: text or a file for `-f -`; `files` (recorded inputs, as the contract allows) are
        not supported here: the real calicoctl reads real files."""
        if files:
            raise LabError("the clab provider runs the real calicoctl: give real files, not recorded inputs")
        text = stdin.read() if hasattr(stdin, "read") and "-" in list(argv) else (stdin if isinstance(stdin, str) else None)
        return self.ops().calicoctl(list(argv), out, text)

    def kubectl(self, argv: list[str], out: TextIO, stdin: str | None = None) -> int:
        """The real kubectl on this lab's kubeconfig and context; its exit code."""
        return self.ops().kubectl(argv, out, stdin)

    def pods_list(self) -> list[PodRow]:
        return self.ops().pods_list()

    def recreate_pods(self, node: str | None = None) -> list[PodRow]:
        return self.ops().recreate_pods(node)

    def change_pods(self, *, recreate_pods: bool = False, node: str | None = None, all_pods: bool = False,
                    add: str | None = None, delete: str | None = None, out: TextIO = sys.stdout) -> int:
        """lab.pods on the clab lab: the demo DaemonSet's pods (one per node: no --add/--delete)."""
        if add or delete:
            raise LabError("the clab lab runs the demo workload as a DaemonSet: one pod per node, "
                           "so --add/--delete do not apply (use kubectl through `lab.exec`)")
        rows = self.recreate_pods(None if all_pods else node) if recreate_pods else self.pods_list()
        out.write("".join(f"{r.name}  {r.node}  {r.ip}\n" for r in rows))
        return 0

    def pods(self):
        from ...checks.base import PodInfo

        return [PodInfo(p.name, p.node, p.ip) for p in self.pods_list()]

    def planned_blocks(self):
        return None  # Calico's IPAM decides in a real cluster

    def exported_blocks(self):
        return None

    def run_traffic(self, target: str, args: Sequence[str]) -> Result:
        return self.ops().run_traffic(target, args)

    def start_traffic(self, target: str, args: Sequence[str], log_path, ready: str):
        return self.ops().start_traffic(target, args, log_path, ready)

    def capture(self, target: str, ifaces: Sequence[str], pcaps: Mapping, bpf: str):
        return self.ops().capture(target, ifaces, pcaps, bpf)

    def set_service_cluster_ips(self, cidrs: Sequence[str]) -> None:
        self.ops().set_service_cluster_ips(cidrs)

    # -- faults (faults.py: the same verbs as netns, through docker exec / kubectl exec / containerlab) --

    def faults(self) -> ClabFaults:
        return ClabFaults(self.ctx, self.access())

    def link(self, target: str, iface: str, up: bool) -> str:
        return self.faults().link(target, iface, up)

    def stop(self, target: str, kill: bool = False) -> str:
        return self.faults().stop(target, kill)

    def start(self, target: str) -> str:
        return self.faults().start(target)

    def netem(self, target: str, iface: str, delay_ms: float = 0.0, jitter_ms: float = 0.0,
              loss_pct: float = 0.0) -> str:
        return self.faults().netem(target, iface, delay_ms, jitter_ms, loss_pct)

    def clear_netem(self, target: str, iface: str) -> str:
        return self.faults().clear_netem(target, iface)

    def apply_fault(self, method: str, *args, **kwargs) -> str:
        if method not in ("link", "stop", "start", "netem", "clear_netem"):
            raise LabError(f"unknown fault '{method}'")
        return getattr(self, method)(*args, **kwargs)

    def journal_add(self, kind: str, what: str, **undo) -> str | None:
        return None  # the clab lab's temporary changes are not journaled (its checks restore them)

    def journal_done(self, entry_id: str | None) -> None:
        return None

    def dead_daemons(self) -> list[str]:
        return []  # its daemons run in containers that docker restarts; the checks see what they see


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


def _contract(lab: ClabProvider) -> LabProvider:
    """Never called: mypy checks here that ClabProvider satisfies the whole provider contract."""
    return lab
