"""The per-lab state file: everything the lab created, written as it is created.

The file (e.g. /run/fabriclab/<lab>/state.json) holds `meta` (lab name, topology,
provider, phase "building"/"up") and `objects`, in creation order:

    {"kind": "netns",   "name": "fl-lab-leaf0"}
    {"kind": "process", "pid": 1234, "starttime": 567890, "netns": "fl-lab-leaf0",
                        "argv": ["/usr/lib/frr/zebra", ...], "role": "zebra:leaf0",
                        "log": "...", "tmpdir": "/var/tmp/frr/zebra.1234"}
    {"kind": "dir",     "path": "/run/fabriclab/lab"}
    {"kind": "file",    "path": "..."}

`journal` lists the temporary changes a command is making to a running lab (a link
set down, a BGPConfiguration edit, a traffic sender, a capture), each written
*before* the change with what undoes it and removed once it is undone:

    {"id": "4242-1", "kind": "link-down", "what": "leaf0 eth1 down", "command": "lab.test",
     "pid": 4242, "target": "leaf0", "iface": "eth1"}

An entry still there when the next command takes the lab's lock was left by a
command that died: `journal.restore` undoes it (lab/providers/netns/journal.py).

Every `record` is durable when it returns (write a temporary file, fsync, rename,
fsync the directory). Namespaces are recorded *before* they are created
(intent), processes right after they start, directories before they are made;
so whatever moment the builder dies at (kill -9 included), `teardown` finds
every object. Teardown tolerates objects that do not exist.

`teardown(state)` removes everything in reverse creation order: processes by
PID only if /proc/PID/stat still shows the recorded start time (SIGTERM, wait
with a deadline, then SIGKILL), then any process left inside a recorded
namespace (one started just before a crash, never recorded; only the lab's own
processes can be in the lab's namespaces), then the namespaces (which takes
their veths, bridges and routes with them), files and directories, and last
the state file itself. It is idempotent; a missing state file is a no-op.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ...errors import LabError
from . import netlink, procs


class LabState:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.data: dict[str, Any] = {"meta": {}, "objects": []}
        if self.path.is_file():
            text = self.path.read_text()
            if text.strip():
                try:
                    self.data = json.loads(text)
                except ValueError as exc:
                    raise LabError(f"lab state {self.path} is not valid JSON ({exc}): remove the lab's objects "
                                   f"by hand (ip netns list) and delete the file") from None

    @property
    def meta(self) -> dict:
        return self.data["meta"]

    @property
    def objects(self) -> list[dict]:
        return self.data["objects"]

    def exists(self) -> bool:
        return self.path.is_file()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dirfd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)  # the rename itself survives a crash of the machine too
        finally:
            os.close(dirfd)

    def set_meta(self, **values) -> None:
        self.meta.update(values)
        self._write()

    def record(self, **obj) -> None:
        """Append one object and make it durable before returning."""
        self.record_many([obj])

    def record_many(self, objs) -> None:
        """Append several objects with one durable write (a build of N objects writes the file
        N/batch times instead of N times: each write is O(file), so one per object is O(N²)).

        The crash-safety rule is the caller's as with `record`: record a batch of namespaces
        *before* creating any of them, processes right after the batch started (teardown also
        finds an unrecorded process by the recorded namespace it runs in)."""
        objs = list(objs)
        for obj in objs:
            if "kind" not in obj:
                raise ValueError("a state record needs a kind")
        if not objs:
            return
        self.objects.extend(objs)
        self._write()

    def forget(self, match) -> int:
        """Drop the records `match(record)` accepts (objects the lab removed itself, e.g. a
        deleted pod's namespace); durable on return. Returns how many were dropped."""
        kept = [o for o in self.objects if not match(o)]
        dropped = len(self.objects) - len(kept)
        if dropped:
            self.data["objects"] = kept
            self._write()
        return dropped

    def record_netns(self, name: str) -> None:
        """Call *before* creating the namespace."""
        self.record(kind="netns", name=name)

    def record_netns_many(self, names) -> None:
        """Several namespaces in one durable write; call *before* creating any of them."""
        self.record_many({"kind": "netns", "name": name} for name in names)

    def record_dir(self, path: str | Path) -> None:
        """Call before creating the directory; teardown removes it with its contents."""
        self.record(kind="dir", path=str(Path(path).resolve()))

    def record_file(self, path: str | Path) -> None:
        self.record(kind="file", path=str(Path(path).resolve()))

    def record_process(self, pid: int, starttime: int | None, netns: str, argv, role: str, **extra) -> None:
        """Call right after the process started (procs.start does)."""
        self.record(**process_record(pid, starttime, netns, argv, role, **extra))

    # -- journal of temporary changes ------------------------------------------------------

    def _reload(self) -> None:
        # Journal entries are written by whichever LabState object a command holds; reading the
        # file first keeps entries another object of this process wrote (one command, one lock).
        if self.path.is_file():
            fresh = LabState(self.path)
            self.data["journal"] = fresh.data.get("journal", [])

    def journal(self) -> list[dict]:
        return list(self.data.get("journal", []))

    def journal_add(self, kind: str, what: str, command: str = "", **undo) -> str:
        """Record a temporary change *before* making it; returns the entry's id."""
        self._reload()
        entries = self.data.setdefault("journal", [])
        global _journal_seq
        _journal_seq += 1
        entry_id = f"{os.getpid()}-{_journal_seq}"
        entries.append({"id": entry_id, "kind": kind, "what": what, "command": command, "pid": os.getpid(), **undo})
        self._write()
        return entry_id

    def journal_update(self, entry_id: str, **values) -> None:
        self._reload()
        for entry in self.data.get("journal", []):
            if entry["id"] == entry_id:
                entry.update(values)
        self._write()

    def journal_done(self, entry_id: str | None) -> None:
        """The change `entry_id` is undone (or was never made): forget it."""
        if entry_id is None or not self.path.is_file():
            return
        self._reload()
        entries = self.data.get("journal", [])
        kept = [e for e in entries if e["id"] != entry_id]
        if len(kept) != len(entries):
            self.data["journal"] = kept
            self._write()

    def processes(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] == "process"]

    def namespaces(self) -> list[str]:
        return [o["name"] for o in self.objects if o["kind"] == "netns"]

    # -- faults and traffic: processes stopped and started again on a running lab ----------

    def replace(self, pid: int, obj: dict) -> None:
        """Put `obj` where process `pid`'s record was (same place in creation order, so teardown
        order is kept); appended if there was none. Durable on return."""
        obj = {"kind": "process", **obj}
        for i, o in enumerate(self.objects):
            if o["kind"] == "process" and o["pid"] == pid:
                self.objects[i] = obj
                break
        else:
            self.objects.append(obj)
        self._write()


_journal_seq = 0


class ProcessBatch:
    """Stands in for a LabState in `procs.start`: collects the records of processes started in
    a batch, written with one `record_many` by `flush` (or on leaving the `with` block, also
    after an error). Safe because every such process runs in a recorded namespace: if the
    builder dies before the flush, teardown still finds and stops it (`pids_in_netns`)."""

    def __init__(self, state: LabState):
        self.state = state
        self.pending: list[dict] = []

    def record_process(self, pid: int, starttime: int | None, netns: str, argv, role: str, **extra) -> None:
        self.pending.append(process_record(pid, starttime, netns, argv, role, **extra))

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.state.record_many(pending)

    def __enter__(self) -> "ProcessBatch":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


def process_record(pid: int, starttime: int | None, netns: str, argv, role: str, **extra) -> dict:
    """The state record of one process (`record_process` writes one, `record_many` a batch)."""
    return {"kind": "process", "pid": pid, "starttime": starttime, "netns": netns, "argv": list(argv),
            "role": role, **extra}


def _safe_to_remove(path: Path) -> bool:
    # A state file is ours, but never let a damaged one remove "/" or a top-level directory.
    return path.is_absolute() and len(path.parts) >= 3 and ".." not in path.parts


FRR_TMP = Path("/var/tmp/frr")


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def _remove_tmpdir(path: str | Path, starttime: int | None, we_stopped_it: bool = False) -> None:
    """FRR's per-process /var/tmp/frr/<daemon>.<pid> (log buffers, `crashlog` if it crashed).

    Removed only if it is not older than the process (a stale directory of an earlier process
    with the same PID is not ours) and holds no crash log (evidence, left for the user) —
    unless our own SIGTERM caused it: zebra signalled during its start aborts on an assertion
    in zebra_ns_early_shutdown (FRR 8.4), and that crash says nothing about the lab.
    """
    p = Path(path)
    if starttime is None or not _safe_to_remove(p) or not p.is_dir():
        return
    if (p / "crashlog").exists() and not we_stopped_it:
        return
    started = _boot_time() + starttime / os.sysconf("SC_CLK_TCK")
    if p.stat().st_ctime + 2 < started:
        return
    shutil.rmtree(p, ignore_errors=True)


def teardown(state: LabState | str | Path, deadline: float = 5.0) -> str:
    """Remove everything `state` recorded, newest first; returns a one-line summary.

    `deadline`: seconds each process gets to exit after SIGTERM before SIGKILL. Objects that
    do not exist any more are skipped. If something cannot be removed, the state file is kept
    (so teardown can be run again) and LabError lists what is left.
    """
    if not isinstance(state, LabState):
        state = LabState(state)
    if not state.path.exists():
        return "nothing to remove (no state file)"
    stopped = netns_removed = paths_removed = 0
    problems: list[str] = []
    objects = list(reversed(state.objects))

    # Every daemon is asked to stop at once (they shut down side by side), then each is waited
    # for (and killed after `deadline`) in reverse creation order.
    gone = procs.terminate_all([o for o in objects if o["kind"] == "process"])
    stuck: list[dict] = []
    for obj in objects:
        if obj["kind"] != "process":
            continue
        if procs.stop(obj["pid"], obj.get("starttime"), deadline):
            gone.add(obj["pid"])
        procs.reap(obj["pid"])  # one that exited on the first SIGTERM and is our child
        signalled = obj["pid"] in gone
        if procs.pid_alive(obj["pid"], obj.get("starttime")):
            stuck.append(obj)  # e.g. killed while waiting in the kernel: asked again below
        elif obj.get("tmpdir"):
            _remove_tmpdir(obj["tmpdir"], obj.get("starttime"), signalled)

    stopped = len(gone)
    for obj in objects:
        if obj["kind"] != "netns":
            continue
        name = obj["name"]
        # A process started just before a crash was never recorded; it still lives in our namespace.
        for pid in procs.pids_in_netns(name):
            started = procs.starttime(pid)
            signalled = procs.stop(pid, started, deadline)
            stopped += signalled
            # Its FRR /var/tmp/frr/<daemon>.<pid>, if it had one. Found by PID, not by its
            # current name: caught between fork and exec it was not yet called zebra, and
            # the directory is only removed if it is not older than the process.
            if started is not None and not procs.pid_alive(pid, started):
                for tmpdir in FRR_TMP.glob(f"*.{pid}") if FRR_TMP.is_dir() else ():
                    _remove_tmpdir(tmpdir, started, signalled)
        try:
            if netlink.delete_netns(name):
                netns_removed += 1
        except OSError as exc:
            problems.append(f"namespace {name}: {exc}")

    # A SIGKILLed daemon stuck in the kernel (a route install waiting for RTNL on a loaded host)
    # may only be gone now; one that is still there keeps the state, and its directory.
    problems += [f"process {o['pid']} ({o.get('role')}) did not stop" for o in stuck
                 if procs.pid_alive(o["pid"], o.get("starttime"))]
    for obj in objects:
        if obj["kind"] not in ("dir", "file"):
            continue
        path = Path(obj["path"])
        if not _safe_to_remove(path):
            problems.append(f"refused to remove {path} (not a lab path)")
            continue
        if problems and (path == state.path or path in state.path.parents):
            continue  # "state kept" must stay true: the next teardown needs it
        if obj["kind"] == "dir" and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            paths_removed += 1
        elif path.exists() or path.is_symlink():
            path.unlink()
            paths_removed += 1
        if path.exists():
            problems.append(f"{path} could not be removed")

    summary = f"{stopped} processes stopped, {netns_removed} namespaces deleted, {paths_removed} paths removed"
    if problems:
        raise LabError(f"teardown incomplete ({summary}); left: {'; '.join(problems)}; "
                       f"state kept in {state.path}: run the teardown again")
    for leftover in (state.path, state.path.with_name(state.path.name + ".tmp")):
        if leftover.exists():
            leftover.unlink()
    return summary
