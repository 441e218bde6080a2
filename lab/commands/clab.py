"""`lab.up` / `lab.down` with `--provider clab`, independent of Invoke.

Each returns an exit code (0 = success) or raises LabError with a message for
the user; tasks.py only parses options and calls these. `out` is the stream
progress (or, with dry_run, the plan) goes to; `out_dir` the lab's output
directory (default build/<lab name>/).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ..loader import load_topology


def clab_provider(topology: str | None = None, name: str | None = None, dry_run: bool = False,
                  out: TextIO | None = None, out_dir: str | Path | None = None, **options):
    """The clab provider for a topology (a name in topologies/ or a path) and lab name."""
    from ..providers.clab.provider import ClabProvider

    return ClabProvider(load_topology(topology), name, out_dir, dry_run=dry_run, out=out or sys.stdout, **options)


def clab_up(topology: str | None = None, name: str | None = None, dry_run: bool = False,
            out: TextIO | None = None, out_dir: str | Path | None = None, **options) -> int:
    """Build the lab; with dry_run, print every command in order and write every file, change nothing else."""
    clab_provider(topology, name, dry_run, out, out_dir, **options).up()
    return 0


def clab_down(topology: str | None = None, name: str | None = None, dry_run: bool = False,
              out: TextIO | None = None, out_dir: str | Path | None = None, **options) -> int:
    """Remove what the lab created (containerlab lab, kind cluster, its own bridges); safe to repeat."""
    clab_provider(topology, name, dry_run, out, out_dir, **options).down()
    return 0
