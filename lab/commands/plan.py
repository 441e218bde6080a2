"""`invoke lab.plan`: what Calico will configure for a topology, before anything runs."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from ..calico.ipam import plan_ipam
from ..calico.lint import lint
from ..calico.peering import plan_as_json, plan_peering
from ..calico.status import format_status_table, status_rows_from_plan
from ..loader import load_topology
from ..providers.netns.blueprint import calico_resources


def plan(topology: str | None, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    topo = load_topology(topology)
    rs, _ = calico_resources(topo)
    sessions = plan_peering(rs, topo.calico.version)
    ipam = plan_ipam(rs)
    findings = lint(rs)
    if as_json:
        data = plan_as_json(sessions)
        data["ipam"] = {node: [b.cidr for b in blocks] for node, blocks in ipam.blocks.items()}
        data["lint"] = [str(f) for f in findings]
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    out.write(f"Calico plan for lab {topo.name} (peering: {topo.calico.peering}); "
              "what `calicoctl node status` will show once everything is up:\n\n")
    for node, node_sessions in sessions.items():
        blocks = ", ".join(b.cidr + ("" if b.export else " (not exported)") for b in ipam.blocks.get(node, ()))
        out.write(f"{node}  AS {node_sessions[0].local_as if node_sessions else '-'}  blocks: {blocks or 'none'}\n")
        out.write(format_status_table(status_rows_from_plan(node_sessions)) + "\n")
    out.write("".join(f"{f}\n" for f in findings) or "lint: no findings\n")
    return 0
