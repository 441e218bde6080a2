"""Waiting helpers both providers use for background processes (traffic streams, tcpdump).

Public on purpose: the netns and clab providers share them, so neither reaches
into the other's private helpers. Each waits with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from ..deadline import Deadline
from ..errors import LabError


def wait_until_quiet(paths: Sequence[Path], deadline: Deadline | float = 2.0, quiet_for: float = 0.1) -> None:
    """Wait until capture files stop growing: the last packets reach the file before the stop."""
    end = Deadline.of(deadline)
    sizes, stable_since = None, time.monotonic()
    while not end.expired():
        now = [p.stat().st_size if p.exists() else 0 for p in paths]
        if now != sizes:
            sizes, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_for:
            return
        time.sleep(0.02)


def wait_for_line(spawned, log_path: Path, prefix: str, deadline: Deadline | float = 10.0) -> None:
    """Wait until the process's log has a line containing `prefix`; stop it and fail past the deadline."""
    end = Deadline.of(deadline)
    while not end.expired():
        try:
            for line in Path(log_path).read_text(errors="replace").splitlines():
                if prefix in line:
                    return
        except OSError:
            pass
        if not spawned.alive():
            break
        time.sleep(0.01)
    result = spawned.stop()
    raise LabError(f"{' '.join(result.argv[:3])}... did not print '{prefix}' within {end.seconds:.0f}s: "
                   f"{(result.stdout + result.stderr).strip()[-300:]}")
