"""`invoke lab.bundle` and `invoke lab.replay`: a running lab and its history in one file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from ..errors import LabError


def bundle(name: str | None, topology: str | None, out_path: str | None = None, *, captures: bool = False,
           include_secrets: bool = False, as_scenario: str | None = None, out: TextIO = sys.stdout) -> int:
    from ..bugreport.archive import write_bundle
    from ..bugreport.collect import collect
    from .lab import is_netns, open_provider

    lab = open_provider("netns", topology, name)
    if not is_netns(lab):  # open_provider("netns") opens a NetnsProvider; this tells mypy so
        raise LabError("bug bundles are made of netns labs only")
    if not lab.is_up():
        raise LabError(f"lab {lab.lab_name} is not up: nothing to bundle")
    path = Path(out_path) if out_path else lab.out_dir / f"bundle-{lab.lab_name}-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
    files = collect(lab, captures=captures, include_secrets=include_secrets)
    write_bundle(path, files, lab.lab_name, lab.topo.name)
    changes = len(lab.store().history()) - 1
    out.write(f"wrote {path} ({len(files)} files, {changes} changes"
              f"{'' if include_secrets else ', passwords redacted'}); replay it with `invoke lab.replay {path}`\n")
    if as_scenario:
        from ..bugreport.archive import read_bundle
        from ..bugreport.scenario import scenario_from_bundle

        written = scenario_from_bundle(read_bundle(path), as_scenario)
        out.write(f"wrote {written[0]} (and its topology {written[1].name}); run it with "
                  f"`invoke lab.scenario {written[0]}`\n")
    return 0


def replay(path: str, name: str | None, until: int | None = None, step: bool = False,
           out: TextIO = sys.stdout, stdin: TextIO = sys.stdin) -> int:
    from ..bugreport.replay import replay as run

    return run(path, name, until=until, step=step, out=out, stdin=stdin)
