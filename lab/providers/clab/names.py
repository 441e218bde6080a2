"""Every name a clab lab creates, derived from its lab name, so two labs of one topology coexist.

`invoke lab.up --provider clab --name N` builds the topology under the lab name N: the
kind cluster (and so its node containers and Kubernetes/Calico node names), the
containerlab lab (and so every `clab-<lab>-...` container), the host bridges and the
host-side bridge ports all carry N. Without `--name` the names are the topology's own,
as before. The renaming is done once, on the model, so every renderer and every step
sees one consistent set of names.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from ... import model as m
from ...errors import LabError
from ...names import IFNAMSIZ, lab_name_problem


def _tag(lab_name: str, length: int = 4) -> str:
    return hashlib.sha1(lab_name.encode()).hexdigest()[:length]


def scoped_bridge(lab_name: str, bridge: str) -> str:
    """The host bridge of `bridge` for lab `lab_name`: readable when it fits IFNAMSIZ, else a hash."""
    name = f"{bridge}-{_tag(lab_name)}"
    if len(name) <= IFNAMSIZ:
        return name
    return "b" + hashlib.sha1(f"{lab_name}/{bridge}".encode()).hexdigest()[:IFNAMSIZ - 1]


def port_scope(topo: m.Topology, lab_name: str | None) -> str:
    """The tag that scopes host-side bridge port names; empty for the topology's own lab."""
    return _tag(lab_name) if lab_name and lab_name != topo.name else ""


def lab_topology(topo: m.Topology, lab_name: str | None) -> m.Topology:
    """The topology as lab `lab_name` builds it (unchanged without a name or with its own name)."""
    if not lab_name or lab_name == topo.name:
        return topo
    problem = lab_name_problem(lab_name)
    if problem:
        raise LabError(f"--name {lab_name}: {problem}")
    bridges = {r.bridge: scoped_bridge(lab_name, r.bridge) for r in topo.racks}
    if len(set(bridges.values())) != len(bridges):
        raise LabError(f"--name {lab_name}: the scoped bridge names collide ({sorted(bridges.values())})")

    def endpoint(end: m.Endpoint) -> m.Endpoint:
        return replace(end, node=bridges[end.node]) if end.is_bridge else end

    return replace(
        topo, name=lab_name,
        racks=tuple(replace(r, bridge=bridges[r.bridge]) for r in topo.racks),
        links=tuple(m.Link(endpoint(link.a), endpoint(link.b)) for link in topo.links),
        cluster=replace(topo.cluster, name=lab_name),
    )
