"""What a bug bundle holds, read from a running lab through its provider and exec interface.

`observed(lab)` is the comparable part (sessions and routes of every speaker), taken the
same way when a bundle is written and when it is replayed, so "did it reproduce?" is a
comparison of two values. `collect(lab)` adds everything a person reads: status tables,
route tables, rendered daemon configs, daemon logs, reports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from ..calico.tables import node_status_text
from ..calico.status import parse_birdc_protocols
from ..checks.observe import observe_bird_sessions, observe_frr_sessions
from ..errors import LabError

REDACTED = "<redacted>"
_PASSWORD_LINE = re.compile(r'(password\s+)"[^"]*"')
_SECRET_KEYS = {"password", "nodemeshpassword"}


def redact(value: Any) -> Any:
    """Passwords and Secret contents replaced, anywhere in a document tree. A `secretKeyRef`
    (Calico's password form) only names a Secret: it is kept; the Secret's data is not."""
    if isinstance(value, dict):
        secret = value.get("kind") == "Secret"
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if secret and key in ("data", "stringData") and isinstance(item, dict):
                out[key] = {k: REDACTED for k in item}
            elif str(key).lower() in _SECRET_KEYS and isinstance(item, str):
                out[key] = REDACTED
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_text(text: str) -> str:
    """A config or an input file: BIRD `password "..."` lines, and YAML documents."""
    text = _PASSWORD_LINE.sub(rf'\1"{REDACTED}"', text)
    try:
        docs = [d for d in yaml.safe_load_all(text)]
    except yaml.YAMLError:
        return text
    if not any(isinstance(d, (dict, list)) for d in docs):
        return text
    redacted = [redact(d) for d in docs]
    return text if redacted == docs else yaml.safe_dump_all(redacted, sort_keys=False, explicit_start=True)


def observed(lab) -> dict:
    """Sessions of every speaker and the kernel routes of every node, router and host."""
    access = lab.access()
    topo = lab.topo
    sessions: dict[str, list] = {}
    for target in [n.name for n in topo.cluster.nodes] + [h.name for h in topo.hosts]:
        try:
            found = observe_bird_sessions(access, target)
            sessions[target] = sorted([s.name, s.peer, s.established] for s in found)
        except LabError as exc:
            sessions[target] = [["(BIRD does not answer)", str(exc).splitlines()[0][:80], False]]
    for router in topo.routers:
        try:
            sessions[router.name] = sorted([s.peer, s.established] for s in observe_frr_sessions(access, router.name))
        except LabError as exc:
            sessions[router.name] = [["(FRR does not answer)", str(exc).splitlines()[0][:80]]]
    routes: dict[str, list] = {}
    for target in [n.name for n in topo.cluster.nodes] + [r.name for r in topo.routers] + [h.name for h in topo.hosts]:
        result = access.exec(target, ["ip", "-j", "route", "show", "table", "main"])
        routes[target] = sorted(_route_key(r) for r in json.loads(result.stdout or "[]"))
    return {"sessions": sessions, "routes": routes}


def _route_key(route: dict) -> list:
    hops = sorted(h.get("gateway", "") for h in route.get("nexthops") or []) or [route.get("gateway", "")]
    return [route.get("dst"), route.get("type", "unicast"), str(route.get("protocol", "")), hops,
            route.get("dev", "")]


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def manifest(lab) -> dict:
    from importlib import metadata

    try:
        version = metadata.version("fabriclab")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "fabriclab": version, "lab": lab.lab_name, "topology": lab.topo.name, "provider": lab.name,
        "calico_version": lab.topo.calico.version, "frr": _version(["zebra", "--version"]),
        "bird": _version(["bird", "--version"]), "kernel": os.uname().release,
    }


def collect(lab, *, captures: bool = False, include_secrets: bool = False) -> dict[str, str | bytes]:
    """Every file of the bundle, by its path inside the archive."""
    clean = (lambda v: v) if include_secrets else redact
    clean_text = (lambda t: t) if include_secrets else redact_text
    store = lab.store()
    history = store.history()
    seed = history[0].get("replay", {}) if history else {}
    files: dict[str, str | bytes] = {
        "manifest.yaml": yaml.safe_dump(manifest(lab), sort_keys=False),
        "topology.yaml": (lab.run_dir / "topology.yaml").read_text(),
        "resources/initial.yaml": _docs(clean(seed.get("documents", []))),
        "resources/initial-ipam.json": json.dumps(seed.get("ipam", {}), indent=1) + "\n",
        "resources/now.yaml": _docs(clean(store.documents())),
        "changes.yaml": yaml.safe_dump([_change(h, clean, clean_text) for h in history[1:]], sort_keys=False),
        "observed.json": json.dumps(observed(lab), indent=1) + "\n",
    }
    access = lab.access()
    for node in lab.topo.cluster.nodes:
        try:
            rows = parse_birdc_protocols(access.birdc(node.name, "show protocols"))
            files[f"nodes/{node.name}/calicoctl-node-status.txt"] = node_status_text(rows)
        except LabError:
            files[f"nodes/{node.name}/calicoctl-node-status.txt"] = node_status_text([], running=False)
        files[f"nodes/{node.name}/ip-route.txt"] = access.exec(node.name, ["ip", "route"]).stdout
    for host in lab.topo.hosts:
        files[f"hosts/{host.name}/ip-route.txt"] = access.exec(host.name, ["ip", "route"]).stdout
    for router in lab.topo.routers:
        for command, name in (("show bgp summary", "show-bgp-summary.txt"), ("show ip route", "show-ip-route.txt")):
            try:
                files[f"routers/{router.name}/{name}"] = access.vtysh(router.name, command)
            except LabError as exc:
                files[f"routers/{router.name}/{name}"] = f"(no answer: {exc})\n"
    for workdir in sorted(p for p in lab.run_dir.iterdir() if p.is_dir() and p.name != "calico"):
        for path in sorted(workdir.glob("*.conf")) + sorted(workdir.glob("*.log")):
            kind = "configs" if path.suffix == ".conf" else "logs"
            files[f"{kind}/{workdir.name}/{path.name}"] = clean_text(path.read_text(errors="replace"))
    out_dir = Path(lab.out_dir)
    if out_dir.is_dir():
        for path in sorted(out_dir.iterdir()):
            if path.is_file() and path.suffix in (".json", ".xml", ".md", ".html"):
                files[f"reports/{path.name}"] = path.read_text(errors="replace")
        if captures and (out_dir / "captures").is_dir():
            for path in sorted((out_dir / "captures").glob("*.pcap")):
                files[f"captures/{path.name}"] = path.read_bytes()
    return files


def _docs(docs: list) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True) if docs else ""


def _change(entry: dict, clean, clean_text) -> dict:
    out = {k: entry[k] for k in ("time", "revision", "command", "changes") if k in entry}
    replay = dict(entry.get("replay") or {})
    if "inputs" in replay:
        replay["inputs"] = {name: clean_text(text) for name, text in replay["inputs"].items()}
    if replay:
        out["replay"] = clean(replay)
    return out
