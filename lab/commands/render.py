"""`invoke lab.render`: write every generated file of a lab to a directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ..loader import load_topology
from ..providers.base import default_out_dir
from ..render import write_all


def render(topology: str | None, out: str | None, stream: TextIO = sys.stdout) -> list[Path]:
    topo = load_topology(topology)
    target = Path(out) if out else default_out_dir(topo.name)
    written = write_all(topo, target)
    for path in written:
        stream.write(f"wrote {path}\n")
    return written
