"""Rebuild a bundled lab and re-apply its history: "did it reproduce?" answered by the tool.

The replayed lab starts from the bundle's first datastore contents (not today's topology
defaults), takes every recorded change in order through the same provider methods the
commands use, and is compared with what the bundle recorded: the sessions and routes of
every speaker, polled until they agree or a deadline passes (routing converges; a fixed
wait would be a guess).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TextIO

from ..calico.ipam_state import IpamState
from ..deadline import Deadline
from ..errors import LabError
from ..loader import load_topology
from .archive import Bundle, read_bundle
from .collect import observed

# Faults a change log may replay: provider methods, never anything a file names freely.
FAULT_METHODS = ("link", "stop", "start", "netem", "clear_netem")


def _apply(lab, change: dict, out: TextIO) -> None:
    replay = change.get("replay") or {}
    kind = replay.get("kind")
    if kind == "calicoctl":
        lab.calicoctl(list(replay["argv"]), out, files=dict(replay.get("inputs") or {}))
    elif kind == "pods":
        lab.change_pods(**replay["options"], out=out)
    elif kind == "fault" and replay.get("method") in FAULT_METHODS:
        out.write("  " + lab.apply_fault(replay["method"], *replay.get("args", []), **replay.get("kwargs", {})) + "\n")
    else:
        raise LabError(f"change {change.get('revision')} ({change.get('command')}): cannot be replayed "
                       f"(kind {kind!r})")


def differences(recorded: dict, now: dict) -> list[str]:
    lines = []
    for what in ("sessions", "routes"):
        for target in sorted(set(recorded.get(what, {})) | set(now.get(what, {}))):
            a = {repr(x) for x in recorded.get(what, {}).get(target, [])}
            b = {repr(x) for x in now.get(what, {}).get(target, [])}
            lines += [f"{what} {target}: recorded only: {x}" for x in sorted(a - b)]
            lines += [f"{what} {target}: replayed only: {x}" for x in sorted(b - a)]
    return lines


def replay(path: str | Path, name: str | None, *, until: int | None = None, step: bool = False,
           out: TextIO, stdin: TextIO, deadline: float = 30.0) -> int:
    from ..providers.netns.provider import NetnsProvider

    bundle: Bundle = read_bundle(path)  # everything is checked before any lab exists
    manifest = bundle.manifest
    lab_name = name or f"{str(manifest.get('lab', 'lab'))[:17].rstrip('-')}-replay"
    changes = bundle.changes
    if until is not None and not 0 <= until <= len(changes):
        raise LabError(f"--until {until}: the bundle has {len(changes)} changes (0..{len(changes)})")
    with tempfile.TemporaryDirectory(prefix="fabriclab-replay-") as tmp:
        topo_path = Path(tmp) / "topology.yaml"  # `up` keeps a copy in the lab's run dir
        topo_path.write_bytes(bundle.files["topology.yaml"])
        lab = NetnsProvider(load_topology(topo_path, lenient_resources=True), lab_name)
        if lab.is_up():
            raise LabError(f"a lab named {lab_name} is up already: give another --name, or "
                           f"`invoke lab.down --name {lab_name}`")
        out.write(f"replaying {Path(path).name} as lab {lab_name} ({len(changes)} changes)\n")
        lab.up(out, seed=(bundle.initial_documents, IpamState.from_json(bundle.initial_ipam)))
    last = len(changes) if until is None else until
    for index, change in enumerate(changes[:last], 1):
        if step:
            out.write(f"next: [{index}/{len(changes)}] {change.get('command')} -- press Enter\n")
            out.flush()
            stdin.readline()
        out.write(f"[{index}/{len(changes)}] {change.get('command')}\n")
        _apply(lab, change, out)
    if last < len(changes):
        out.write(f"stopped after change {last} of {len(changes)}; the recorded state is the one after all of "
                  f"them, so nothing is compared. The lab stays up: `invoke lab.down --name {lab_name}`\n")
        return 0
    end = Deadline.after(deadline)
    while True:
        diff = differences(bundle.observed, observed(lab))
        if not diff or end.expired():
            break
        time.sleep(0.3)
    if not diff:
        out.write("reproduced: sessions and routes identical\n")
        return 0
    out.write(f"not reproduced: {len(diff)} differences after {deadline:.0f}s\n")
    for line in diff[:60]:
        out.write(f"  {line}\n")
    return 1
