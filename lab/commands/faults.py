"""`invoke lab.link / lab.stop / lab.start / lab.netem`: faults on a running lab (netns or clab).

netns: lab/faults.py through the provider. clab: lab/providers/clab/faults.py, through
docker exec / kubectl exec / containerlab; `--dry-run` prints those commands and runs none.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import LabError
from ..faults import parse_endpoint, parse_state


def _lab(name: str | None, topology: str | None = None, provider: str = "netns", dry_run: bool = False,
         out: TextIO = sys.stdout):
    from .lab import open_provider

    if dry_run and provider != "clab":
        raise LabError("--dry-run is for the clab provider (a netns fault is one netlink call or one signal)")
    lab = open_provider(provider, topology, name, dry_run=dry_run, out=out)
    if dry_run:
        out.write(f"# dry run on clab lab {lab.lab_name}: the commands below, in order; nothing is executed\n")
        return _DryRun(lab)
    if not lab.is_up():
        hint = f" --provider {provider}" if provider != "netns" else ""
        raise LabError(f"lab {lab.lab_name} is not up: start it with `invoke lab.up{hint}`")
    if provider == "netns":
        from ..preflight import require_root

        require_root()
    return lab


class _DryRun:
    """A dry run's result line is a comment: nothing ran, so it must not read as a report of what happened."""

    def __init__(self, lab):
        self.lab = lab

    def apply_fault(self, *args, **kwargs) -> str:
        return "# (dry run; a real run would report:) " + self.lab.apply_fault(*args, **kwargs)


def link(endpoint: str, state: str, name: str | None = None, topology: str | None = None,
         out: TextIO = sys.stdout, provider: str = "netns", dry_run: bool = False) -> int:
    target, iface = parse_endpoint(endpoint)
    up = parse_state(state)
    out.write(_lab(name, topology, provider, dry_run, out).apply_fault("link", target, iface, up) + "\n")
    return 0


def stop(target: str, name: str | None = None, topology: str | None = None, kill: bool = False,
         out: TextIO = sys.stdout, provider: str = "netns", dry_run: bool = False) -> int:
    out.write(_lab(name, topology, provider, dry_run, out).apply_fault("stop", target, kill=kill) + "\n")
    return 0


def start(target: str, name: str | None = None, topology: str | None = None, out: TextIO = sys.stdout,
          provider: str = "netns", dry_run: bool = False) -> int:
    out.write(_lab(name, topology, provider, dry_run, out).apply_fault("start", target) + "\n")
    return 0


def netem(endpoint: str, delay=None, jitter=None, loss=None, clear: bool = False, name: str | None = None,
          topology: str | None = None, out: TextIO = sys.stdout, provider: str = "netns",
          dry_run: bool = False) -> int:
    target, iface = parse_endpoint(endpoint)
    if clear and any(v is not None for v in (delay, jitter, loss)):
        raise LabError("--clear takes no --delay/--jitter/--loss")
    lab = _lab(name, topology, provider, dry_run, out)
    if clear:
        out.write(lab.apply_fault("clear_netem", target, iface) + "\n")
    else:
        out.write(lab.apply_fault("netem", target, iface, delay or 0, jitter or 0, loss or 0) + "\n")
    return 0
