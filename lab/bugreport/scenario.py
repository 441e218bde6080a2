"""A bundle's change log written out as a scenario (scenarios/*.yaml format): a reproduced
bug becomes a regression scenario in one command.

Each recorded change becomes one step with the same action; the last step waits for the
sessions the bundle recorded and expects them (per node: peer address, peer type,
Established). The topology goes next to the scenario, since the bundle carries its own.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..calico.status import _TYPES as PREFIX_TYPES  # protocol prefix -> calicoctl's PEER TYPE
from .archive import Bundle


def _action(change: dict) -> dict:
    replay = change.get("replay") or {}
    kind = replay.get("kind")
    if kind == "calicoctl":
        argv = list(replay["argv"])
        inputs = replay.get("inputs") or {}
        if len(argv) >= 3 and argv[0] in ("apply", "create", "replace", "delete") and argv[1] in ("-f", "--filename") \
                and argv[2] in inputs:
            docs = [d for d in yaml.safe_load_all(inputs[argv[2]]) if d]
            return {"calicoctl": {argv[0]: docs}}
        return {"calicoctl": argv}
    if kind == "pods":
        o = replay["options"]
        if o.get("recreate_pods"):
            return {"pods": {"recreate": "all" if o.get("all_pods") else o["node"]}}
        return {"pods": {"add": o["add"]} if o.get("add") else {"delete": o["delete"]}}
    if kind == "fault":
        method, args, kwargs = replay["method"], list(replay.get("args", [])), dict(replay.get("kwargs", {}))
        if method == "link":
            up = args[2] if len(args) > 2 else kwargs.get("up")
            return {"link": f"{args[0]}:{args[1]} {'up' if up else 'down'}"}
        if method == "stop":
            return {"stop": {"target": args[0], "kill": bool(kwargs.get("kill", args[1] if len(args) > 1 else False))}}
        if method == "start":
            return {"start": args[0]}
        if method == "clear_netem":
            return {"netem": {"on": f"{args[0]}:{args[1]}", "clear": True}}
        if method == "netem":
            values = dict(zip(("delay_ms", "jitter_ms", "loss_pct"), args[2:]), **kwargs)
            return {"netem": {"on": f"{args[0]}:{args[1]}", **{k: float(v) for k, v in values.items()}}}
    raise ValueError(f"change {change.get('revision')} ({change.get('command')}) has no scenario form")


def _expected_sessions(bundle: Bundle) -> dict:
    nodes = {}
    for target, rows in bundle.observed.get("sessions", {}).items():
        if not rows or len(rows[0]) != 3:  # FRR routers: no calicoctl table
            continue
        typed = [(name, peer, up) for name, peer, up in rows
                 if any(name.startswith(p) for p in PREFIX_TYPES)]
        if typed and all(up for _, _, up in typed):
            nodes[target] = [{"peer": peer, "type": next(t for p, t in PREFIX_TYPES.items() if name.startswith(p))}
                             for name, peer, _ in typed]
    return nodes


def scenario_from_bundle(bundle: Bundle, path: str | Path) -> list[Path]:
    """Write the scenario to `path` and its topology next to it; returns both paths."""
    path = Path(path)
    topology_file = path.with_name(path.stem + ".topology.yaml")
    manifest = bundle.manifest
    steps = [{"name": f"[{i}] {c.get('command')}", **_action(c)} for i, c in enumerate(bundle.changes, 1)]
    expected = _expected_sessions(bundle)
    final = {"name": "the state the bundle recorded", "wait": {"expect": True, "deadline": 60}}
    if expected:
        final["expect"] = {"sessions": expected}
    scenario = {
        "name": path.stem,
        "description": (f"Written from a bug bundle of lab {manifest.get('lab')} (fabriclab {manifest.get('fabriclab')}, "
                        f"Calico {manifest.get('calico_version')}): its changes in order, then the sessions it "
                        "recorded, node by node. BGP timers: those of the bundled topology."),
        "topology": topology_file.name,
        "traffic": "off",
        "steps": steps + [final],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    topology_file.write_bytes(bundle.files["topology.yaml"])
    path.write_text(yaml.safe_dump(scenario, sort_keys=False, width=110))
    return [path, topology_file]
