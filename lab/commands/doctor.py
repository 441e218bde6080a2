"""`invoke lab.doctor [--provider P]`: what this host has and lacks for each provider.

Exit code: with --provider, 0 only if that provider is ready here; without it,
0 if at least one provider is ready (both are reported either way).
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..doctor import HostProbes, run_doctor
from ..loader import load_topology


def doctor(provider: str | None = None, topology: str | None = None, out: TextIO = sys.stdout,
           probes: HostProbes | None = None) -> int:
    lines, verdicts = run_doctor(provider, topology=load_topology(topology), probes=probes)
    out.write("\n".join(lines) + "\n")
    if provider:
        return 0 if verdicts[provider] else 1
    return 0 if any(verdicts.values()) else 1
