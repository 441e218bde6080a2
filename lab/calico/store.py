"""The datastore of one lab: the Calico resources in force, its IPAM state and its history.

A real cluster keeps Calico's resources in one datastore and every calico-node follows
it; a lab does the same. One JSON file (`store.json` in the lab's calico/ run dir)
holds:
- `documents`: every resource in force, as `calicoctl get -o yaml` prints it
  (apiVersion projectcalico.org/v3, metadata with resourceVersion, uid and
  creationTimestamp, spec);
- `revision`: the datastore's revision; each change stamps the objects it writes with
  it as their resourceVersion, as etcd/Kubernetes do;
- `ipam`: blocks and pod addresses (ipam_state.IpamState);
- `history`: the ordered change log (command, time, what changed, result), which bug
  bundles and replays read.
Every change is one transaction: the new document set is decoded strictly as a whole
before anything is written (all or nothing), then written atomically (temporary file,
fsync, rename, directory fsync). `resources.yaml` next to it is the same documents as a
YAML stream for people and for `python -m lab.calico --resources`; it is regenerated
from the store after every change and never read back.
Nothing else in fabriclab keeps its own copy of the resources.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from ..errors import LabError
from .ipam_state import IpamState
from .resources import API_VERSIONS, ResourceSet, parse_resources

API = "projectcalico.org/v3"
# calicoctl's resource names, as registered in calicoctl/resourcemgr/*.go (case-insensitive).
KIND_ALIASES = {
    "BGPConfiguration": ("bgpconfiguration", "bgpconfigurations", "bgpconfig", "bgpconfigs"),
    "BGPPeer": ("bgppeer", "bgppeers", "bgpp", "bgpps", "bp", "bps"),
    "Node": ("node", "nodes", "no", "nos"),
    "IPPool": ("ippool", "ippools", "ipp", "ipps", "pool", "pools"),
    "BGPFilter": ("bgpfilter", "bgpfilters"),
}
# Where a stored object's kind comes in documents: canonical order for output.
KIND_ORDER = ("BGPConfiguration", "Node", "IPPool", "BGPFilter", "BGPPeer")


def canonical_kind(word: str) -> str:
    lowered = word.lower()
    for kind, aliases in KIND_ALIASES.items():
        if lowered == kind.lower() or lowered in aliases or lowered == kind.lower() + "list":
            return kind
    known = ", ".join(a for aliases in KIND_ALIASES.values() for a in aliases[:2])
    raise LabError(f"resource type '{word}' is not supported (use one of: {known})")


def kind_order(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


# libyaml's emitter when PyYAML was built with it (same output, ~10x faster than pure Python).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def documents_yaml(docs: Sequence[dict]) -> str:
    return yaml.dump_all(list(docs), Dumper=_DUMPER, sort_keys=False, explicit_start=True) if docs else ""


@dataclass
class Snapshot:
    revision: int
    documents: list[dict]
    ipam: IpamState
    history: list[dict] = field(default_factory=list)

    def find(self, kind: str, name: str) -> dict | None:
        return next((d for d in self.documents if d["kind"] == kind and d["metadata"]["name"] == name), None)

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.documents if d["kind"] == kind]


@dataclass(frozen=True)
class Change:
    verb: str  # created | replaced | deleted | patched | labelled | ipam
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.verb} {self.kind}({self.name})"


class Store:
    """One lab's datastore (see the module doc). Cheap to create; reads the file on demand."""

    FILE = "store.json"

    def __init__(self, directory: str | Path, version: str | None = None):
        """`version`: the lab's Calico release; documents are decoded as that release would."""
        self.directory = Path(directory)
        self.version = version
        self.path = self.directory / self.FILE
        self._cache: tuple[float, int, Snapshot] | None = None
        self._rs: tuple[int, ResourceSet] | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    # -- reading -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """A private copy of the current contents (callers may change it freely)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise LabError(f"no datastore at {self.path} (the lab is not up, or was built by an older fabriclab: "
                           "`invoke lab.down` then `invoke lab.up`)") from None
        if self._cache is None or self._cache[:2] != (stat.st_mtime, stat.st_size):
            try:
                data = json.loads(self.path.read_text())
                snap = Snapshot(int(data["revision"]), list(data["documents"]), IpamState.from_json(data.get("ipam")),
                                list(data.get("history", [])))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise LabError(f"the lab's datastore {self.path} cannot be read ({exc}); "
                               "`invoke lab.down` removes the lab") from None
            self._cache = (stat.st_mtime, stat.st_size, snap)
        return copy.deepcopy(self._cache[2])

    def revision(self) -> int:
        return self.snapshot().revision

    def documents(self) -> list[dict]:
        return self.snapshot().documents

    def resources(self) -> ResourceSet:
        snap = self.snapshot()
        if self._rs is None or self._rs[0] != snap.revision:
            self._rs = (snap.revision, decode(snap.documents, str(self.path), self.version))
        return self._rs[1]

    def ipam(self) -> IpamState:
        return self.snapshot().ipam

    def history(self) -> list[dict]:
        return self.snapshot().history

    # -- writing -------------------------------------------------------------------------

    def seed(self, documents: Iterable[dict], ipam: IpamState, source: str) -> Snapshot:
        """The lab's first contents: the topology's resources (and its extra files)."""
        snap = Snapshot(0, [], IpamState())
        stamped = [stamp(normalise(d), None, 1) for d in documents]
        decode(stamped, source, self.version)
        snap.documents, snap.ipam, snap.revision = stamped, ipam, 1
        # The seed itself is in the log, so a bug bundle can rebuild the lab's first state.
        replay = {"kind": "seed", "documents": copy.deepcopy(stamped), "ipam": ipam.as_json()}
        snap.history.append(_entry("seed", [f"{len(stamped)} resources from {source}"], 1, replay))
        self._write(snap)
        return snap

    def commit(self, before: Snapshot, after: Snapshot, command: str, changes: Sequence[Change | str],
               replay: dict | None = None) -> Snapshot:
        """Write `after` (built from `before`) as one transaction; refuses if someone else wrote
        in between (the revision moved), like an update conflict. `replay` says how to do the
        same change again (kind, argv, the inputs it read): `lab.replay` uses it."""
        current = self.snapshot().revision
        if current != before.revision:
            raise LabError(f"the datastore changed while this command ran (revision {before.revision} -> {current}): "
                           "run the command again")
        decode(after.documents, str(self.path), self.version)
        after.revision = before.revision + 1
        after.history = before.history + [_entry(command, [str(c) for c in changes], after.revision, replay)]
        self._write(after)
        return after

    def record(self, command: str, changes: Sequence[str], replay: dict | None = None) -> None:
        """Log an event that changes the lab but not its resources (a fault: a link down, a
        daemon stopped, netem), in the same ordered history."""
        before = self.snapshot()
        self.commit(before, copy.deepcopy(before), command, changes, replay)

    def _write(self, snap: Snapshot) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {"revision": snap.revision, "documents": snap.documents, "ipam": snap.ipam.as_json(),
                "history": snap.history}
        _atomic_write(self.path, json.dumps(data, indent=1, sort_keys=False) + "\n")
        _atomic_write(self.directory / "resources.yaml", documents_yaml(snap.documents))
        self._cache = None


def _entry(command: str, changes: list[str], revision: int, replay: dict | None = None) -> dict:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "unix": round(time.time(), 3),
             "revision": revision, "command": command, "changes": changes}
    if replay is not None:
        entry["replay"] = replay
    return entry


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dirfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


_DECODED: dict[str, ResourceSet] = {}


def decode(documents: Sequence[dict], source: str, version: str | None = None) -> ResourceSet:
    """Strictly decode a whole document set (the datastore's own validity check).

    One command decodes the same contents several times (lint before and after, the
    commit's own check, the reconcile); the results are kept per exact content (a few
    entries: a command sees at most two contents)."""
    key = json.dumps([version, documents], sort_keys=True)  # only valid sets are kept: errors name their source
    if key not in _DECODED:
        if len(_DECODED) > 8:
            _DECODED.clear()
        _DECODED[key] = parse_resources(documents_yaml(documents), source, version=version)
    return _DECODED[key]


def normalise(doc: dict) -> dict:
    """A document as the datastore keeps it: v3 apiVersion, metadata cut to what it stores."""
    if doc.get("apiVersion") not in API_VERSIONS:
        raise LabError(f"'{doc.get('apiVersion')}' is not a Calico API version")
    meta = doc.get("metadata") or {}
    kept: dict[str, Any] = {"name": meta["name"]}
    for key in ("labels", "annotations"):
        if meta.get(key):
            kept[key] = dict(meta[key])
    for key in ("resourceVersion", "uid", "creationTimestamp"):
        if meta.get(key) is not None:
            kept[key] = str(meta[key])
    out = {"apiVersion": API, "kind": doc["kind"], "metadata": kept}
    if doc.get("spec") is not None:
        out["spec"] = copy.deepcopy(doc["spec"])
    return out


def stamp(doc: dict, previous: dict | None, revision: int) -> dict:
    """Set the server-side metadata: uid and creation time kept from the object it replaces."""
    meta = doc["metadata"]
    old = (previous or {}).get("metadata", {})
    meta["uid"] = old.get("uid") or str(uuid.uuid4())
    meta["creationTimestamp"] = old.get("creationTimestamp") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    meta["resourceVersion"] = str(revision)
    ordered = {k: meta[k] for k in ("name", "labels", "annotations", "uid", "creationTimestamp", "resourceVersion")
               if k in meta}
    doc["metadata"] = ordered
    return doc
