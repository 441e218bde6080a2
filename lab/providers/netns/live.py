"""Live changes to a running netns lab: calicoctl verbs and pod changes through its datastore.

Every change takes one path: read the datastore, compute the new contents
(lab.calico.ctl and lab.calico.ipam_state, both pure), print the lint findings the change
introduces, refuse what a netns lab cannot follow, commit (one atomic write), then
reconcile the running lab (providers/netns/reconcile.py) and print per node what changed.
The Invoke tasks (lab.commands.calicoctl) and the checks (serviceClusterIPs) both call
these functions; nothing else writes the datastore after `up`.
"""

from __future__ import annotations

import copy
import shlex
import sys
from pathlib import Path
from typing import Sequence, TextIO

from ...calico import ctl
from ...calico.ipam_state import allocate, reconcile_pools, recreate, release
from ...calico.store import Snapshot, decode
from ...calico.tables import tabulate
from ...errors import LabError
from .blueprint import pod_name


def reader(stdin: TextIO):
    """How calicoctl's `-f` reads: a file, or `-` for standard input; errors as one line."""
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


def _recorded(files: dict[str, str]):
    def read(target: str) -> tuple[str, str]:
        if target not in files:
            raise LabError(f"{target}: not recorded with this change")
        return files[target], f"{target} (recorded)"
    return read


def calicoctl(lab, argv: Sequence[str], out: TextIO, stdin: TextIO = sys.stdin,
              files: dict[str, str] | None = None) -> int:
    """`files`: what `-f` reads, by the name given on the command line (a replayed change
    reads the inputs recorded with it, not today's files)."""
    store = lab.store()
    before = store.snapshot()
    inputs: dict[str, str] = {}
    read = reader(stdin) if files is None else _recorded(files)

    def recording(target: str) -> tuple[str, str]:  # what -f read, so the change can be replayed
        text, source = read(target)
        inputs[target] = text
        return text, source

    outcome = ctl.run(list(argv), before, recording, store.version)
    if outcome.after is None:  # a read-only verb
        out.write(outcome.text)
        return 0
    for finding in outcome.findings:
        out.write(f"lint: {finding}\n")
    after = outcome.after
    rs = decode(after.documents, "the datastore after this change", store.version)
    check_netns_limits(lab, before, after)
    after.ipam = reconcile_pools(after.ipam, rs)
    replay = {"kind": "calicoctl", "argv": list(argv), "inputs": inputs}
    return _commit_and_reconcile(lab, before, after, "calicoctl " + shlex.join(argv), outcome.changes,
                                 outcome.text, out, replay)


def _commit_and_reconcile(lab, before: Snapshot, after: Snapshot, command: str, changes, text: str,
                          out: TextIO, replay: dict) -> int:
    running = lab.blueprint
    lab.store().commit(before, after, command, changes, replay)
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


def _node_name(lab, node: str) -> str:
    """A node by its lab name (worker2) or its Kubernetes/Calico name; returns the Calico name."""
    cluster = lab.topo.cluster
    found = cluster.names().find(node)
    if found is not None:
        return found
    raise LabError(f"unknown node '{node}' (nodes: {', '.join(n.name for n in cluster.nodes)})")


def pods(lab, *, recreate_pods: bool = False, node: str | None = None, all_pods: bool = False,
         add: str | None = None, delete: str | None = None, out: TextIO = sys.stdout) -> int:
    store = lab.store()
    before = store.snapshot()
    rs = decode(before.documents, str(store.path), store.version)
    state = before.ipam
    changes: list[str] = []
    if recreate_pods:
        if not (node or all_pods):
            raise LabError("lab.pods --recreate: say which: --node NODE or --all")
        wanted = None if all_pods else _node_name(lab, node or "")
        targets = [p for p in state.pods if wanted is None or p.node == wanted]
        for pod in targets:  # one at a time, as a rollout restart replaces them
            state = recreate(state, rs, pod.name)
            changes.append(f"recreated pod {pod.name}: {pod.ip} -> {_ip(state, pod.name)}")
    elif add:
        k8s = _node_name(lab, add)
        short = lab.topo.cluster.names().short(k8s)
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
    replay = {"kind": "pods", "options": {"recreate_pods": recreate_pods, "node": node, "all_pods": all_pods,
                                          "add": add, "delete": delete}}
    return _commit_and_reconcile(lab, before, after, command, changes, "".join(c + "\n" for c in changes), out,
                                 replay)


def _ip(state, pod: str) -> str:
    alloc = state.pod(pod)
    return alloc.ip if alloc else "(none)"


def pods_table(lab, state) -> str:
    pools = {b.cidr: b.pool for b in state.blocks}
    names = lab.topo.cluster.names()
    rows = [("NAME", "NODE", "IP", "BLOCK", "POOL")]
    rows += [(p.name, names.short(p.node), p.ip, p.block, pools.get(p.block, "(released)"))
             for p in state.pods]
    return tabulate(rows)
