"""`invoke lab.doctor [--provider P]`: what this host has and lacks for each provider.

Exit code: with --provider, 0 only if that provider is ready here; without it,
0 if at least one provider is ready (both are reported either way).
"""

from __future__ import annotations

import sys
from typing import TextIO

from .. import model as m
from ..doctor import HostProbes, run_doctor
from ..headroom import LabNeeds, lab_needs
from ..loader import load_topology


def netns_needs(topo: m.Topology) -> LabNeeds:
    """What `topo` needs of the host's shared limits on the netns provider (from its blueprint)."""
    from ..providers.netns.blueprint import build_blueprint

    return lab_needs(build_blueprint(topo))


def doctor(provider: str | None = None, topology: str | None = None, out: TextIO = sys.stdout,
           probes: HostProbes | None = None) -> int:
    topo = load_topology(topology)
    needs = netns_needs(topo) if provider in (None, "netns") else None
    lines, verdicts = run_doctor(provider, topology=topo, probes=probes, needs=needs)
    out.write("\n".join(lines) + "\n")
    if provider:
        return 0 if verdicts[provider] else 1
    return 0 if any(verdicts.values()) else 1
