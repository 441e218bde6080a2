"""`invoke lab.traffic start|mark|status|stop`: background probes between pods, loss per segment."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from ..errors import LabError

ACTIONS = ("start", "mark", "status", "stop")


def traffic(action: str, text: str | None = None, name: str | None = None, topology: str | None = None,
            pairs: str | None = None, interval=None, limit=None, json_path: str | None = None,
            out: TextIO = sys.stdout) -> int:
    from ..probes.session import DEFAULT_INTERVAL_MS, DEFAULT_LIMIT_S, Traffic
    from ..probes.analysis import format_report
    from .faults import _lab

    if action not in ACTIONS:
        raise LabError(f"unknown traffic action '{action}' (use one of: {', '.join(ACTIONS)})")
    if text is not None and action != "mark":
        raise LabError(f"`lab.traffic {action}` takes no text (only `mark` does)")
    if action != "start" and any(v is not None for v in (pairs, interval, limit)):
        raise LabError("--pairs/--interval/--limit go with `lab.traffic start`")
    if json_path and action != "stop":
        raise LabError("--json goes with `lab.traffic stop`")
    session = Traffic(_lab(name, topology))
    if action == "start":
        out.write(session.start(pairs, interval if interval is not None else DEFAULT_INTERVAL_MS,
                                limit if limit is not None else DEFAULT_LIMIT_S) + "\n")
    elif action == "mark":
        if not text:
            raise LabError('`lab.traffic mark` needs the text of the mark: invoke lab.traffic mark "mesh off"')
        session.mark(text)
        out.write(f"marked: {text}\n")
    elif action == "status":
        out.write(session.status() + "\n")
    else:
        segments = session.stop()
        out.write(format_report(segments) + "\n")
        if json_path:
            Path(json_path).write_text(json.dumps(session.report(segments), indent=2) + "\n")
            out.write(f"wrote {json_path}\n")
    return 0
