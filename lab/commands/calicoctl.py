"""`invoke lab.calicoctl -- ARGS` and `invoke lab.pods`: change a running lab through its datastore.

Every change takes one path: read the datastore, compute the new contents (lab.calico.ctl,
pure), print the lint findings the change introduces, check what this provider can do,
commit (one atomic write), then reconcile the running lab (reload only the BIRDs whose
config changed, add/remove pods) and print per node what changed.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Sequence, TextIO

from ..calico import ctl
from ..calico.ipam_state import allocate, reconcile_pools, recreate, release
from ..calico.store import Snapshot, decode
from ..errors import LabError
from ..providers.netns.blueprint import pod_name


def _reader(stdin: TextIO):
    def read(target: str) -> tuple[str, str]:
        if target == "-":
            return stdin.read(), "<stdin>"
        try:
            return Path(target).read_text(), target
        except UnicodeDecodeError:
            raise LabError(f"{target}: not a UTF-8 text file") from None
        except OSError as exc:
            raise LabError(f"{target}: cannot read: {exc.strerror}") from None
    return read


def _open_netns(name: str | None, topology: str | None):
    from ..loader import load_topology
    from ..providers.netns.provider import NetnsProvider

    lab_name = name or load_topology(topology).name
    if not NetnsProvider.exists(lab_name):
        hint = f" --name {lab_name}" if name else ""
        raise LabError(f"lab {lab_name} is not up: start it with `invoke lab.up{hint}`")
    return NetnsProvider.attach(lab_name)


def calicoctl(argv: Sequence[str], name: str | None = None, topology: str | None = None, provider: str = "netns",
              out: TextIO = sys.stdout, stdin: TextIO = sys.stdin, dry_run: bool = False) -> int:
    """calicoctl against a running lab: the netns lab's datastore, or the clab lab's real calicoctl."""
    if provider == "clab":
        from ..commands.lab import open_provider

        return open_provider("clab", topology, name, dry_run=dry_run, out=out).calicoctl(list(argv), out)
    if provider != "netns":
        raise LabError(f"unknown provider '{provider}' (use netns or clab)")
    return run_on_netns(_open_netns(name, topology), argv, out, stdin)


def run_on_netns(lab, argv: Sequence[str], out: TextIO, stdin: TextIO = sys.stdin) -> int:
    store = lab.store()
    before = store.snapshot()
    outcome = ctl.run(list(argv), before, _reader(stdin))
    if not outcome.changed:
        out.write(outcome.text)
        return 0
    for finding in outcome.findings:
        out.write(f"lint: {finding}\n")
    after = outcome.after
    rs = decode(after.documents, "the datastore after this change")
    check_netns_limits(lab, before, after)
    after.ipam = reconcile_pools(after.ipam, rs)
    return _commit_and_reconcile(lab, before, after, "calicoctl " + " ".join(argv), outcome.changes,
                                 outcome.text, out)


def _commit_and_reconcile(lab, before: Snapshot, after: Snapshot, command: str, changes, text: str,
                          out: TextIO) -> int:
    running = lab.blueprint
    lab.store().commit(before, after, command, changes)
    out.write(text)
    out.flush()
    lab.reconcile(out, running)
    return 0


def check_netns_limits(lab, before: Snapshot, after: Snapshot) -> None:
    """What a netns lab cannot follow: its machines are fixed by the topology."""
    topo = lab.topo
    machines = {topo.cluster.k8s_name(n): n for n in topo.cluster.nodes}
    for doc in after.of_kind("Node"):
        name = doc["metadata"]["name"]
        if name not in machines:
            raise LabError(f"Node({name}): the netns lab has no machine of that name, so it cannot add a node "
                           f"(nodes: {', '.join(sorted(machines))}); add it to the topology instead")
        address = ((doc.get("spec") or {}).get("bgp") or {}).get("ipv4Address")
        if address is not None and address.split("/")[0] != str(machines[name].ip.ip):
            raise LabError(f"Node({name}): spec.bgp.ipv4Address {address}: the netns lab cannot move a node to "
                           f"another address (it has {machines[name].ip})")
    left = {d["metadata"]["name"] for d in before.of_kind("Node")} - {d["metadata"]["name"] for d in after.of_kind("Node")}
    if left:
        raise LabError(f"Node({sorted(left)[0]}): the netns lab cannot delete a node's resource while its machine runs")


# -- pods -------------------------------------------------------------------------------------

def _node_name(lab, node: str) -> str:
    """A node by its lab name (worker2) or its Kubernetes/Calico name; returns the Calico name."""
    cluster = lab.topo.cluster
    for n in cluster.nodes:
        if node in (n.name, cluster.k8s_name(n)):
            return cluster.k8s_name(n)
    raise LabError(f"unknown node '{node}' (nodes: {', '.join(n.name for n in cluster.nodes)})")


def pods(name: str | None = None, topology: str | None = None, *, recreate_pods: bool = False,
         node: str | None = None, all_pods: bool = False, add: str | None = None, delete: str | None = None,
         out: TextIO = sys.stdout) -> int:
    lab = _open_netns(name, topology)
    store = lab.store()
    before = store.snapshot()
    rs = decode(before.documents, str(store.path))
    state = before.ipam
    changes: list[str] = []
    if recreate_pods:
        if not (node or all_pods):
            raise LabError("lab.pods --recreate: say which: --node NODE or --all")
        targets = [p for p in state.pods if all_pods or p.node == _node_name(lab, node)]
        for pod in targets:  # one at a time, as a rollout restart replaces them
            state = recreate(state, rs, pod.name)
            changes.append(f"recreated pod {pod.name}: {pod.ip} -> {state.pod(pod.name).ip}")
    elif add:
        k8s = _node_name(lab, add)
        short = next(n.name for n in lab.topo.cluster.nodes if lab.topo.cluster.k8s_name(n) == k8s)
        used = {p.name for p in state.pods}
        index = next(i for i in range(10_000) if pod_name(short, i) not in used)
        state = allocate(state, rs, k8s, pod_name(short, index))
        changes.append(f"added pod {pod_name(short, index)} on {short}: {state.pods[-1].ip}")
    elif delete:
        if state.pod(delete) is None:
            raise LabError(f"unknown pod '{delete}' (pods: {', '.join(p.name for p in state.pods)})")
        state = release(state, rs, delete)
        changes.append(f"deleted pod {delete}")
    else:
        out.write(pods_table(lab, state))
        return 0
    after = copy.deepcopy(before)
    after.ipam = state
    command = "pods " + ("--recreate" if recreate_pods else f"--add {add}" if add else f"--delete {delete}")
    return _commit_and_reconcile(lab, before, after, command, changes,
                                 "".join(c + "\n" for c in changes), out)


def pods_table(lab, state) -> str:
    from ..calico.tables import tabulate

    pools = {b.cidr: b.pool for b in state.blocks}
    short = {lab.topo.cluster.k8s_name(n): n.name for n in lab.topo.cluster.nodes}
    rows = [("NAME", "NODE", "IP", "BLOCK", "POOL")]
    rows += [(p.name, short.get(p.node, p.node), p.ip, p.block, pools.get(p.block, "(released)"))
             for p in state.pods]
    return tabulate(rows)


__all__ = ["calicoctl", "run_on_netns", "pods", "check_netns_limits"]
