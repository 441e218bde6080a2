"""`invoke lab.link / lab.stop / lab.start / lab.netem`: faults on a running netns lab."""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import LabError
from ..faults import parse_endpoint, parse_state


def _lab(name: str | None, topology: str | None = None):
    from .lab import open_provider

    lab = open_provider("netns", topology, name)
    if not lab.is_up():
        raise LabError(f"lab {lab.lab_name} is not up: start it with `invoke lab.up`")
    from ..preflight import require_root

    require_root()
    return lab


def link(endpoint: str, state: str, name: str | None = None, topology: str | None = None,
         out: TextIO = sys.stdout) -> int:
    target, iface = parse_endpoint(endpoint)
    up = parse_state(state)
    out.write(_lab(name, topology).apply_fault("link", target, iface, up) + "\n")
    return 0


def stop(target: str, name: str | None = None, topology: str | None = None, kill: bool = False,
         out: TextIO = sys.stdout) -> int:
    out.write(_lab(name, topology).apply_fault("stop", target, kill=kill) + "\n")
    return 0


def start(target: str, name: str | None = None, topology: str | None = None, out: TextIO = sys.stdout) -> int:
    out.write(_lab(name, topology).apply_fault("start", target) + "\n")
    return 0


def netem(endpoint: str, delay=None, jitter=None, loss=None, clear: bool = False, name: str | None = None,
          topology: str | None = None, out: TextIO = sys.stdout) -> int:
    target, iface = parse_endpoint(endpoint)
    if clear and any(v is not None for v in (delay, jitter, loss)):
        raise LabError("--clear takes no --delay/--jitter/--loss")
    lab = _lab(name, topology)
    if clear:
        out.write(lab.apply_fault("clear_netem", target, iface) + "\n")
    else:
        out.write(lab.apply_fault("netem", target, iface, delay or 0, jitter or 0, loss or 0) + "\n")
    return 0
