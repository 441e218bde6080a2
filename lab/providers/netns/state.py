"""The per-lab state file: everything the lab created, written as it is created.

Namespaces are recorded *before* they are created and processes right after
they start, each write made durable (write, fsync, rename). So whatever moment
`up` dies at, `teardown` finds every object: it stops recorded processes by PID
(only if /proc still shows the same start time), then any process still living
in a recorded namespace (it can only be the lab's), then deletes the namespaces
(which takes their veths and bridges with them) and the lab's directories.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ...exec import proc_starttime, stop_pid
from . import netlink


IN_FLIGHT_WAIT = 1.0  # seconds; a namespace creation takes milliseconds


class LabState:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.data: dict[str, Any] = {"meta": {}, "objects": []}
        if self.path.is_file():
            self.data = json.loads(self.path.read_text() or '{"meta": {}, "objects": []}')

    @property
    def meta(self) -> dict:
        return self.data["meta"]

    @property
    def objects(self) -> list[dict]:
        return self.data["objects"]

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def set_meta(self, **values) -> None:
        self.meta.update(values)
        self._write()

    def record(self, **obj) -> None:
        self.objects.append(obj)
        self._write()

    def record_netns(self, name: str) -> None:
        self.record(kind="netns", name=name)

    def record_dir(self, path: str | Path) -> None:
        self.record(kind="dir", path=str(path))

    def record_process(self, pid: int, starttime: int | None, netns: str, argv, role: str) -> None:
        self.record(kind="process", pid=pid, starttime=starttime, netns=netns, argv=list(argv), role=role)

    def processes(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] == "process"]


def teardown(state: LabState) -> str:
    """Remove everything recorded, newest first; missing objects are fine. Returns a summary."""
    stopped = netns_removed = 0
    objects = list(reversed(state.objects))
    # pyroute2 creates a namespace in a child process, which outlives a kill -9 of `up` and may
    # finish after we looked. Creation is sequential: only the last recorded one can be in flight.
    recorded = [o["name"] for o in state.objects if o["kind"] == "netns"]
    in_flight = None
    if state.meta.get("phase") != "up" and recorded and not netlink.netns_exists(recorded[-1]):
        in_flight = recorded[-1]
    for obj in objects:
        if obj["kind"] == "process" and stop_pid(obj["pid"], obj.get("starttime")):
            stopped += 1
    for obj in objects:
        if obj["kind"] != "netns":
            continue
        # A process started just before a crash was never recorded; it still lives in our namespace.
        for pid in _pids_in(obj["name"]):
            if stop_pid(pid, proc_starttime(pid)):
                stopped += 1
        if netlink.delete_netns(obj["name"]):
            netns_removed += 1
    if in_flight:
        end = time.monotonic() + IN_FLIGHT_WAIT
        while time.monotonic() < end and not netlink.netns_exists(in_flight):
            time.sleep(0.02)
        if netlink.netns_exists(in_flight):
            for pid in _pids_in(in_flight):
                stop_pid(pid, proc_starttime(pid))
            netns_removed += netlink.delete_netns(in_flight)
    for obj in objects:
        if obj["kind"] == "dir":
            shutil.rmtree(obj["path"], ignore_errors=True)
    if state.path.exists():
        state.path.unlink()
    return f"{stopped} processes stopped, {netns_removed} namespaces deleted"


def _pids_in(netns: str) -> list[int]:
    if not netlink.netns_exists(netns):
        return []
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if p.isdigit()]
