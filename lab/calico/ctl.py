"""calicoctl's resource verbs against a lab's datastore: pure (a snapshot in, a new one out).

Verbs, options and output shapes follow calicoctl (calicoctl/commands/*.go,
calicoctl/resourcemgr/*.go): `apply|create|replace -f FILE|DIR|-`, `delete -f FILE`,
`delete KIND NAME`, `get KIND [NAME] [-o yaml|json|wide]`, `patch KIND NAME -p JSON`,
`label nodes NAME k=v [--overwrite]`, `label nodes NAME k --remove`, `ipam show`.
One deliberate difference: a command applies all of its documents or none (calicoctl
goes document by document and can stop half way with "Partial success"); a lab that is
half-changed teaches nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Callable, Sequence

import yaml

from ..errors import LabError
from .lint import lint
from .resources import DEFAULT_AS, parse_resources
from .store import (API, Change, Snapshot, canonical_kind, decode, documents_yaml, kind_order, normalise,
                    stamp)
from .tables import get_table, ipam_table

Reader = Callable[[str], tuple[str, str]]  # path or "-" -> (text, source name)


@dataclass
class Outcome:
    """What a command prints and, for a change, the datastore contents to commit."""

    text: str
    after: Snapshot | None = None
    changes: list[Change] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # lint findings the change introduces

    @property
    def changed(self) -> bool:
        return self.after is not None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit; we want one error line
        raise LabError(f"calicoctl {self.prog.split(' ', 1)[-1]}: {message}")


def _parser() -> argparse.ArgumentParser:
    top = _Parser(prog="calicoctl", add_help=False)
    sub = top.add_subparsers(dest="verb", parser_class=_Parser)
    for verb in ("apply", "create", "replace"):
        p = sub.add_parser(verb, add_help=False)
        p.add_argument("-f", "--filename", required=True)
    p = sub.add_parser("delete", add_help=False)
    p.add_argument("-f", "--filename")
    p.add_argument("kind", nargs="?")
    p.add_argument("names", nargs="*")
    p.add_argument("--skip-not-exists", action="store_true")
    p = sub.add_parser("get", add_help=False)
    p.add_argument("kind")
    p.add_argument("names", nargs="*")
    p.add_argument("-o", "--output", default="ps", choices=("ps", "wide", "yaml", "json"))
    p = sub.add_parser("patch", add_help=False)
    p.add_argument("kind")
    p.add_argument("name")
    p.add_argument("-p", "--patch", required=True)
    p.add_argument("-t", "--type", default="strategic", choices=("strategic", "merge"))
    p = sub.add_parser("label", add_help=False)
    p.add_argument("kind")
    p.add_argument("name")
    p.add_argument("label")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--remove", action="store_true")
    p = sub.add_parser("ipam", add_help=False)
    p.add_argument("what", choices=("show",))
    p.add_argument("--show-blocks", action="store_true")
    return top


VERBS = ("apply", "create", "replace", "delete", "get", "patch", "label", "ipam")


def run(argv: Sequence[str], snap: Snapshot, read: Reader, version: str | None = None) -> Outcome:
    """`version`: the lab's Calico release (fields newer than it are refused, as its calicoctl would)."""
    # Accepted and ignored: the clab provider passes it to the real calicoctl.
    argv = [a for a in argv if a != "--allow-version-mismatch"]
    if not argv:
        raise LabError(f"calicoctl: give a command ({', '.join(VERBS)}), e.g. `calicoctl get nodes -o wide`")
    if argv[0] == "node":
        raise LabError("`calicoctl node ...` runs on a node: `invoke lab.exec <node> -- calicoctl node status`")
    if argv[0] not in VERBS:
        raise LabError(f"calicoctl: unknown command '{argv[0]}' (lab.calicoctl knows: {', '.join(VERBS)})")
    args = _parser().parse_args(list(argv))
    if args.verb in ("apply", "create", "replace"):
        return _write(args.verb, _read_documents(args.filename, read, version), snap, version)
    if args.verb == "delete":
        return _delete(args, snap, read, version)
    if args.verb == "get":
        return _get(args, snap)
    if args.verb == "patch":
        return _patch(args, snap, version)
    if args.verb == "label":
        return _label(args, snap, version)
    return Outcome(ipam_table(snap, show_blocks=args.show_blocks))


# -- input ----------------------------------------------------------------------------------

def _read_documents(target: str, read: Reader, version: str | None = None) -> list[tuple[dict, str]]:
    """(document, where) pairs from a file, a directory or stdin; validated strictly first."""
    if target != "-" and Path(target).is_dir():
        files = sorted(p for p in Path(target).iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        if not files:
            raise LabError(f"{target}: no .yaml/.yml/.json files in this directory")
        return [doc for f in files for doc in _read_documents(str(f), read, version)]
    text, source = read(target)
    parse_resources(text, source, version=version)  # strict decode: file, line, field and problem, before anything changes
    out = []
    for index, data in enumerate(d for d in yaml.safe_load_all(text) if d is not None):
        items = data.get("items") if str(data.get("kind", "")).endswith("List") else None
        for item in (items if items is not None else [data]):
            out.append((normalise(item), f"{source} document {index + 1}"))
    if not out:
        raise LabError(f"{source}: no resources in it")
    return out


def _ref(kind: str, name: str) -> str:
    return f"{kind}({name})"


def _summary(verb_past: str, changes: Sequence[Change]) -> str:
    kinds = {c.kind for c in changes}
    if len(kinds) == 1:
        return f"Successfully {verb_past} {len(changes)} '{next(iter(kinds))}' resource(s)\n"
    return f"Successfully {verb_past} {len(changes)} resource(s)\n"


def _fail(action: str, kinds: set[str], problem: str) -> LabError:
    what = f"'{next(iter(kinds))}' resource" if len(kinds) == 1 else "resources"
    return LabError(f"Failed to {action} {what}: {problem}")


# -- verbs ----------------------------------------------------------------------------------

def _write(verb: str, docs: list[tuple[dict, str]], snap: Snapshot, version: str | None = None) -> Outcome:
    after = copy.deepcopy(snap)
    revision = snap.revision + 1
    changes = []
    kinds = {d["kind"] for d, _ in docs}
    for doc, where in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        current = after.find(kind, name)
        if verb == "create" and current is not None:
            raise _fail("create", kinds, f"resource already exists: {_ref(kind, name)} ({where}); nothing was changed")
        if verb == "replace" and current is None:
            raise _fail("replace", kinds, f"resource does not exist: {_ref(kind, name)} ({where}); nothing was changed")
        wanted = doc["metadata"].get("resourceVersion")
        if current is not None and wanted and wanted != current["metadata"]["resourceVersion"]:
            raise _fail(verb, kinds, f"update conflict: {_ref(kind, name)} has resourceVersion "
                        f"{current['metadata']['resourceVersion']}, the document says {wanted} ({where})")
        _check_immutable(current, doc, where)
        if kind == "IPPool" and current is None:
            _check_overlap(after, doc, where)
        new = stamp(doc, current, revision)
        if current is not None:
            after.documents[after.documents.index(current)] = new
        else:
            after.documents.append(new)
        changes.append(Change("created" if current is None else "replaced", kind, name))
    past = {"apply": "applied", "create": "created", "replace": "replaced"}[verb]
    return _outcome(snap, after, changes, _summary(past, changes), version)


def _check_immutable(current: dict | None, doc: dict, where: str) -> None:
    """Fields Calico refuses to change on update (clientv3/ippool.go validateAndSetDefaults)."""
    if current is None or doc["kind"] != "IPPool":
        return
    old, new = current.get("spec", {}), doc.get("spec", {})
    if "cidr" in new and str(ip_network(new["cidr"], strict=False)) != str(ip_network(old["cidr"], strict=False)):
        raise LabError(f"{where}: IPPool.Spec.CIDR: IPPool CIDR cannot be modified")
    if new.get("blockSize", 26) != old.get("blockSize", 26):
        raise LabError(f"{where}: IPPool.Spec.BlockSize: IPPool BlockSize cannot be modified")


def _check_overlap(snap: Snapshot, doc: dict, where: str) -> None:
    cidr = ip_network(doc["spec"]["cidr"], strict=False)
    for other in snap.of_kind("IPPool"):
        if ip_network(other["spec"]["cidr"], strict=False).overlaps(cidr):
            raise LabError(f"{where}: IPPool.Spec.CIDR: IPPool({doc['metadata']['name']}) CIDR overlaps with "
                           f"IPPool({other['metadata']['name']}) CIDR {other['spec']['cidr']}")


def _delete(args, snap: Snapshot, read: Reader, version: str | None = None) -> Outcome:
    if args.filename:
        targets = [(d["kind"], d["metadata"]["name"], w) for d, w in _read_documents(args.filename, read, version)]
    elif args.kind and args.names:
        kind = canonical_kind(args.kind)
        targets = [(kind, name, "command line") for name in args.names]
    else:
        raise LabError("calicoctl delete: give -f FILE, or KIND NAME (e.g. `calicoctl delete bgppeer peer-1`)")
    after = copy.deepcopy(snap)
    changes = []
    for kind, name, where in targets:
        current = after.find(kind, name)
        if current is None:
            if args.skip_not_exists:
                continue
            raise _fail("delete", {k for k, _, _ in targets},
                        f"resource does not exist: {_ref(kind, name)} ({where}); nothing was changed")
        after.documents.remove(current)
        changes.append(Change("deleted", kind, name))
    return _outcome(snap, after, changes, _summary("deleted", changes) if changes else "No resources deleted\n",
                    version)


def _get(args, snap: Snapshot) -> Outcome:
    kind = canonical_kind(args.kind)
    docs = sorted(snap.of_kind(kind), key=lambda d: d["metadata"]["name"])
    if args.names:
        missing = [n for n in args.names if not any(d["metadata"]["name"] == n for d in docs)]
        if missing:
            raise LabError(f"Failed to get resources: resource does not exist: {_ref(kind, missing[0])}")
        docs = [d for n in args.names for d in docs if d["metadata"]["name"] == n]
    if args.output in ("yaml", "json"):
        single = len(args.names) == 1
        body = docs[0] if single else {"apiVersion": API, "items": docs, "kind": f"{kind}List",
                                       "metadata": {"resourceVersion": str(snap.revision)}}
        if args.output == "json":
            return Outcome(json.dumps(body, indent=2) + "\n")
        return Outcome(yaml.safe_dump(body, sort_keys=False))
    default_as = _default_as(snap)
    return Outcome(get_table(kind, docs, wide=args.output == "wide", default_as=default_as))


def _default_as(snap: Snapshot) -> int:
    conf = snap.find("BGPConfiguration", "default")
    asn = (conf or {}).get("spec", {}).get("asNumber")
    return int(asn) if asn is not None else DEFAULT_AS


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (calicoctl's strategic patch is the same for these kinds)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _patch(args, snap: Snapshot, version: str | None = None) -> Outcome:
    kind = canonical_kind(args.kind)
    current = snap.find(kind, args.name)
    if current is None:
        raise LabError(f"Failed to patch '{kind}' resource: resource does not exist: {_ref(kind, args.name)}")
    try:
        patch = json.loads(args.patch)
    except json.JSONDecodeError as exc:
        raise LabError(f"calicoctl patch: -p is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(patch, dict):
        raise LabError("calicoctl patch: -p must be a JSON object, e.g. '{\"spec\": {\"asNumber\": 65009}}'")
    for locked in ("apiVersion", "kind"):
        if locked in patch:
            raise LabError(f"calicoctl patch: the patch may not change {locked}")
    if "name" in (patch.get("metadata") or {}):
        raise LabError("calicoctl patch: the patch may not change metadata.name")
    patched = merge_patch(current, patch)
    where = f"patch of {_ref(kind, args.name)}"
    _validate_one(patched, where, version)
    _check_immutable(current, patched, where)
    after = copy.deepcopy(snap)
    after.documents[after.documents.index(current)] = stamp(normalise(patched), current, snap.revision + 1)
    changes = [Change("patched", kind, args.name)]
    return _outcome(snap, after, changes, f"Successfully patched 1 '{kind}' resource\n", version)


def _validate_one(doc: dict, where: str, version: str | None = None) -> None:
    parse_resources(documents_yaml([doc]), where, version=version)


def _label(args, snap: Snapshot, version: str | None = None) -> Outcome:
    kind = canonical_kind(args.kind)
    if kind != "Node":
        raise LabError("calicoctl label: only nodes can be labelled (`calicoctl label nodes NAME key=value`)")
    current = snap.find(kind, args.name)
    if current is None:
        names = ", ".join(sorted(d["metadata"]["name"] for d in snap.of_kind("Node")))
        raise LabError(f"Failed to label: resource does not exist: Node({args.name}) (nodes: {names})")
    node = copy.deepcopy(current)
    labels = node["metadata"].setdefault("labels", {})
    if args.remove:
        key = args.label
        if key not in labels:
            raise LabError(f"failed to remove label of resource: key {key} does not exist on Node({args.name})")
        del labels[key]
        message = f"Successfully removed label {key} from nodes {args.name}\n"
    else:
        if "=" not in args.label:
            raise LabError("calicoctl label: give key=value (or `key --remove`)")
        key, value = args.label.split("=", 1)
        if key in labels and not args.overwrite:
            raise LabError(f"failed to update label of resource: key {key} is already present. "
                           "use --overwrite to set a new value.")
        labels[key] = value
        message = f"Successfully set label {key} on nodes {args.name}\n"
    if not labels:
        node["metadata"].pop("labels")
    _validate_one(node, f"label of Node({args.name})", version)
    after = copy.deepcopy(snap)
    after.documents[after.documents.index(current)] = stamp(node, current, snap.revision + 1)
    return _outcome(snap, after, [Change("labelled", kind, args.name)], message, version)


def _outcome(before: Snapshot, after: Snapshot, changes: list[Change], text: str,
             version: str | None = None) -> Outcome:
    after.documents.sort(key=lambda d: (kind_order(d["kind"]), d["metadata"]["name"]))
    if not changes:
        return Outcome(text)
    old = {str(f) for f in lint(decode(before.documents, "datastore", version))}
    new = [str(f) for f in lint(decode(after.documents, "the datastore after this change", version))]
    return Outcome(text, after, changes, [f for f in new if f not in old])
