"""`invoke lab.doctor`: what this host has and lacks for each provider."""

from __future__ import annotations

import sys
from typing import TextIO

from ..doctor import provider_ok, run_doctor
from ..loader import load_topology


def doctor(provider: str | None, topology: str | None = None, out: TextIO = sys.stdout, **kwargs) -> int:
    items = run_doctor(load_topology(topology), **kwargs)
    for item in items:
        out.write(item.line() + "\n")
    verdicts = {p: provider_ok(items, p) for p in ("netns", "clab")}
    for p, ok in verdicts.items():
        out.write(f"{p} provider: {'ready' if ok else 'NOT ready on this host'}\n")
    if provider:
        return 0 if verdicts[provider] else 1
    return 0 if all(verdicts.values()) else 1
