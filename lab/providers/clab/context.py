"""What every part of the clab provider shares: the lab's names and paths, its seams, and
the small helpers built on them (commands, kubectl/calicoctl with the lab-local
kubeconfig, probes with deadlines, warnings).

Public on purpose: the steps (`steps.py`), the teardown (`teardown.py`) and the live
commands (`ops.py`) all take one `ClabContext`; none reaches into another's privates.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ... import model as m
from ...errors import LabError
from ...deadline import Deadline
from ...exec import Result
from ...runner import Runner
from .seams import BridgeOps, DockerOps, SshOps
from .state import STATE_FILE, ClabState

LONG_COMMAND = 1800.0  # seconds a single command may take (image pulls, cluster creation)


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
        return any(bool(v) for v in data.values() if isinstance(v, list)) or bool(data.get("containers"))
    return None


@dataclass
class ClabContext:
    topo: m.Topology  # already renamed for the lab (names.lab_topology)
    out_dir: Path
    runner: Runner
    docker: DockerOps  # hostseams.Docker or seams.DryRunDocker
    ssh: SshOps  # seams.VyosSsh or seams.DryRunSsh
    bridges: BridgeOps
    dry_run: bool = False
    port_scope: str = ""
    deadline: float = 600.0
    interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = ClabState(self.out_dir / STATE_FILE, self.lab_name, self.dry_run,
                               f"containerlab destroy -t {self.clab_file}; kind delete cluster --name {self.cluster}")

    # -- names and paths -------------------------------------------------------------------

    @property
    def lab_name(self) -> str:
        return self.topo.name

    @property
    def cluster(self) -> str:
        return self.topo.cluster.name

    @property
    def context(self) -> str:
        return f"kind-{self.cluster}"

    @property
    def kubeconfig(self) -> Path:
        return self.out_dir / "kubeconfig"

    @property
    def clab_file(self) -> Path:
        return self.out_dir / "clab.yaml"

    @property
    def calico_dir(self) -> Path:
        return self.out_dir / "calico"

    def kind_nodes(self) -> list[str]:
        return [self.topo.cluster.k8s_name(n) for n in self.topo.cluster.nodes]

    # -- commands ----------------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True, env: Mapping[str, str] | None = None,
            timeout: float = 600.0) -> Result:
        return self.runner.run(list(argv), check=check, env=env, timeout=timeout)

    def kubectl_prefix(self) -> list[str]:
        """kubectl on this lab's own kubeconfig and context: never the user's current context."""
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", self.context]

    def kubectl(self, *args: str, check: bool = True, timeout: float = 600.0) -> Result:
        return self.run(*self.kubectl_prefix(), *args, check=check, timeout=timeout)

    def calicoctl_env(self) -> dict[str, str]:
        return {"DATASTORE_TYPE": "kubernetes", "KUBECONFIG": str(self.kubeconfig)}

    def calicoctl_argv(self, args) -> list[str]:
        # --allow-version-mismatch is an option of each calicoctl subcommand: it goes after the arguments.
        return ["calicoctl", *args, "--allow-version-mismatch"]

    def calicoctl(self, *args: str, check: bool = True) -> Result:
        return self.run(*self.calicoctl_argv(args), check=check, env=self.calicoctl_env())

    # -- waiting and reporting -------------------------------------------------------------

    def poll(self, what: str, probe: Callable[[], bool]) -> None:
        """Probe until it says yes or the deadline passes (a dry run shows the probe once)."""
        ok, _ = Deadline.after(self.deadline, self.clock).poll(lambda: probe() or self.dry_run, bool,
                                                               self.interval, self.sleep)
        if not ok:
            raise LabError(f"{what}: not ready after {self.deadline:g}s")

    def warn(self, text: str) -> None:
        if self.dry_run:
            self.runner.note(f"WARNING: {text}")
        else:
            self.warnings.append(text)  # printed under the step's status line

    def note(self, text: str) -> None:
        self.runner.note(text)
