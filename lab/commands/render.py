"""`invoke lab.render`: write every generated file of a lab to a directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ..errors import LabError
from ..loader import load_topology
from ..paths import out_dir
from ..render import write_all


def render(topology: str | None, out: str | None, stream: TextIO = sys.stdout) -> list[Path]:
    """Render the topology (default calico-bgp-rr) into `out` (default build/<lab name>/); returns the files written."""
    topo = load_topology(topology)
    target = Path(out) if out else out_dir(topo.name)
    try:
        written = write_all(topo, target)
    except OSError as exc:
        raise LabError(f"cannot write the rendered files to {target}: {exc.strerror or exc}") from exc
    for path in written:
        stream.write(f"wrote {path}\n")
    return written
