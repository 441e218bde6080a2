"""Scenario files (scenarios/*.yaml): format and loader. Pure: a file in, a `Scenario` (spec.py) out.

    name: mesh-to-rr
    description: ...                 # say which BGP timers the story relies on
    topology: calico-fullmesh        # a name in topologies/ or a path (relative to this file)
    traffic: {pairs: cross-node, interval_ms: 20}   # or `traffic: off`
    steps:
      - name: label the first reflector
        calicoctl: [label, nodes, calico-fullmesh-worker, route-reflector=true]
        # or calicoctl: {apply: {kind: BGPPeer, ...}}  (one document or a list of them)
        # other actions: pods: {recreate: all|NODE} | {add: NODE} | {delete: POD}
        #   link: "leaf0:eth1 down"   stop: rr1 | {target: rr1, kill: true}   start: rr1
        #   netem: {iface: "worker:eth0", delay_ms: 50, jitter_ms: 5, loss_pct: 1} | {iface: ..., clear: true}
        #   check: [ecmp]             (lab.test checks)
        wait: {sessions: established, deadline: 20}   # or routes: converged | seconds: N | expect: true
        #   (expect: true polls the step's sessions/routes expectations, then pods_reachable, and,
        #   with min_outage_ms, until the traffic has shown that outage; a deadline covers BIRD's
        #   error wait, 5..30 s, and colliding Node_ sessions: up to 120 s)
        show: {status: [worker], routes: [worker2]}
        expect:
          sessions: {worker: [{peer: control-plane, type: node-to-node mesh, state: Established}]}
          routes: {worker: {present: [{blocks_of: worker2, via: worker2}], absent: ["10.96.0.0/16"]}}
          max_outage_ms: 0            # or min_outage_ms: 1000
          pods_reachable: all

Every problem is reported as `file:line: field: problem` (lab/yamlsrc.py).
"""

from __future__ import annotations

import shlex
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from ..yamlsrc import Fields, LocList, LocMap, load_located
# The types live in spec.py; importers of model keep working (ScenarioError, RouteSpec, ...).
from .spec import (ACTIONS, CALICOCTL_FILE_VERBS, DEFAULT_DEADLINE, PEER_TYPES, Action, Expect, RouteSpec,
                   Scenario, ScenarioError, SessionSpec, Step, Traffic, Wait)

SCENARIO_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios"


def resolve_scenario_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (SCENARIO_DIR / name_or_path, SCENARIO_DIR / f"{name_or_path}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(p.stem for p in list_scenarios())
    raise ScenarioError(str(name_or_path), "", f"no such scenario file or name (known: {known})")


def list_scenarios() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    path = resolve_scenario_path(str(name_or_path))
    file = str(path)
    doc = load_located(path, ScenarioError)
    top = Fields(doc, "", file, ScenarioError)
    name = top.req("name", str)
    if not name or len(name) > 24 or not all(c.islower() or c.isdigit() or c == "-" for c in name):
        top.fail("name", f"'{name}' is not a lab-style name ([a-z0-9-], at most 24 characters)")
    description = top.opt("description", str, "")
    topology = top.req("topology", str)
    if not Path(topology).suffix and "/" not in topology:
        topo_ref = topology
    else:
        topo_ref = str((path.parent / topology).resolve())
    traffic = _traffic(top)
    steps_doc = top.req("steps", list)
    top.done()
    if not steps_doc:
        top.fail("steps", "a scenario needs at least one step")
    steps = tuple(_step(item, f"steps[{i}]", file, steps_doc.item_line(i)) for i, item in enumerate(steps_doc))
    if not traffic.enabled:
        for i, step in enumerate(steps):
            if step.expect.needs_traffic:
                raise ScenarioError(file, f"steps[{i}].expect", "max_outage_ms/min_outage_ms need traffic "
                                    "(the scenario says `traffic: off`)", step.line)
    return Scenario(name, description, topo_ref, path, traffic, steps)


def _traffic(top: Fields) -> Traffic:
    if not top.has("traffic"):
        top.read.add("traffic")
        return Traffic()
    value = top.opt("traffic", (dict, bool, str), None)
    if value is False or value == "off":
        return Traffic(enabled=False)
    if value is True or value == "on":
        return Traffic()
    if not isinstance(value, dict):
        top.fail("traffic", f"expected a mapping or off, got '{value}'")
    f = Fields(value, "traffic", top.file, ScenarioError, top.line("traffic"))
    pairs = f.opt("pairs", str, "cross-node")
    interval = _number(f, "interval_ms", 20.0, 1, 10_000)
    limit = _number(f, "limit_s", 300.0, 1, 3600)
    f.done()
    return Traffic(True, pairs, interval, limit)


def _number(f: Fields, key: str, default, low: float, high: float) -> float:
    value = f.opt(key, (int, float), default)
    if not low <= value <= high:
        f.fail(key, f"{value} is out of range ({low:g}..{high:g})")
    return float(value)


def _step(doc: Any, where: str, file: str, line: int) -> Step:
    f = Fields(doc, where, file, ScenarioError, line)
    name = f.req("name", str)
    present = [k for k in ACTIONS if f.has(k)]
    if len(present) > 1:
        f.fail(present[1], f"one action per step (this step also has '{present[0]}')")
    action = _action(f, present[0]) if present else None
    for key in ACTIONS:
        f.read.add(key)
    wait = _wait(f) if f.has("wait") else None
    f.read.add("wait")
    show_status, show_routes = _show(f)
    expect = _expect(f) if f.has("expect") else Expect()
    f.read.add("expect")
    f.done()
    if action is None and wait is None and not show_status and not show_routes and expect.empty:
        f.fail(None, "a step needs an action, a wait, a show or an expect")
    if wait is not None and wait.expect and expect.empty:
        f.fail("wait", "`expect: true` waits for this step's expectations, but it has none")
    return Step(name, f.line() or line, action, wait, show_status, show_routes, expect)


def _names(f: Fields, key: str) -> tuple[str, ...]:
    value = f.opt(key, (str, list), None)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            f.fail(key, f"item {i}: expected a target name, got {item!r}")
    return tuple(items)


def _action(f: Fields, kind: str) -> Action:
    line = f.line(kind) or 0
    value = f.data[kind]
    where = f.path(kind)

    def fail(problem: str):
        raise ScenarioError(f.file, where, problem, line)

    if kind == "calicoctl":
        if isinstance(value, str):
            return Action(kind, {"argv": shlex.split(value)}, line)
        if isinstance(value, list):
            if not value or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value):
                fail("expected a list of arguments (strings), e.g. [get, nodes, -o, wide]")
            return Action(kind, {"argv": [str(a) for a in value]}, line)
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in CALICOCTL_FILE_VERBS:
                fail(f"an inline document goes under one verb: {', '.join(CALICOCTL_FILE_VERBS)}")
            verb, docs = next(iter(value.items()))
            docs = list(docs) if isinstance(docs, list) else [docs]
            if not docs or not all(isinstance(d, dict) and "kind" in d for d in docs):
                fail(f"{verb}: expected a Calico resource (a mapping with kind) or a list of them")
            return Action(kind, {"argv": [verb, "-f", "<inline>"], "documents": [_plain(d) for d in docs]}, line)
        fail("expected a list of arguments or {apply: <document(s)>}")
    if kind == "pods":
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("recreate", "add", "delete"):
            fail("expected one of {recreate: all|NODE}, {add: NODE}, {delete: POD}")
        key, arg = next(iter(value.items()))
        if not isinstance(arg, str) or not arg:
            fail(f"{key}: expected a name")
        return Action(kind, {key: arg}, line)
    if kind == "link":
        parts = str(value).split() if isinstance(value, str) else []
        if len(parts) != 2 or ":" not in parts[0] or parts[1] not in ("up", "down"):
            fail(f"expected 'TARGET:IFACE down|up', got {value!r}")
        target, _, iface = parts[0].partition(":")
        return Action(kind, {"target": target, "iface": iface, "up": parts[1] == "up"}, line)
    if kind in ("stop", "start"):
        if isinstance(value, str) and value:
            return Action(kind, {"target": value, "kill": False}, line)
        if kind == "stop" and isinstance(value, dict):
            g = Fields(value, where, f.file, ScenarioError, line)
            target = g.req("target", str)
            kill = g.opt("kill", bool, False)
            g.done()
            return Action(kind, {"target": target, "kill": kill}, line)
        fail("expected a target name" + (" or {target: T, kill: true}" if kind == "stop" else ""))
    if kind == "netem":
        g = Fields(value, where, f.file, ScenarioError, line)
        # Not `on:` — YAML 1.1 reads that key as the boolean true.
        where_at = g.req("iface", str)
        target, sep, iface = where_at.partition(":")
        if not sep or not target or not iface:
            g.fail("iface", f"expected TARGET:IFACE, got '{where_at}'")
        clear = g.opt("clear", bool, False)
        delay = _number(g, "delay_ms", 0.0, 0, 60_000)
        jitter = _number(g, "jitter_ms", 0.0, 0, 60_000)
        loss = _number(g, "loss_pct", 0.0, 0, 100)
        g.done()
        if clear and (delay or jitter or loss):
            g.fail("clear", "clear takes no delay/jitter/loss")
        if not clear and not (delay or loss):
            g.fail(None, "netem needs delay_ms or loss_pct (or clear: true)")
        if jitter > delay:
            g.fail("jitter_ms", f"jitter {jitter:g} ms is larger than the delay {delay:g} ms")
        return Action(kind, {"target": target, "iface": iface, "clear": clear, "delay_ms": delay,
                             "jitter_ms": jitter, "loss_pct": loss}, line)
    # check
    from ..checks import CHECKS

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        fail("expected a list of lab.test check names")
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        fail(f"unknown check(s) {', '.join(unknown)} (checks: {', '.join(CHECKS)})")
    return Action(kind, list(names), line)


def _plain(value: Any) -> Any:
    """LocMap/LocList back to plain dicts and lists (for the YAML handed to calicoctl)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _wait(f: Fields) -> Wait:
    g = Fields(f.data["wait"], f.path("wait"), f.file, ScenarioError, f.line("wait"))
    sessions = g.opt("sessions", str, None)
    if sessions not in (None, "established"):
        g.fail("sessions", f"'{sessions}': the one state to wait for is 'established'")
    routes = g.opt("routes", str, None)
    if routes not in (None, "converged"):
        g.fail("routes", f"'{routes}': the one state to wait for is 'converged'")
    expect = g.opt("expect", bool, False)
    seconds = g.opt("seconds", (int, float), None)
    deadline = _number(g, "deadline", DEFAULT_DEADLINE, 0.1, 600)
    g.done()
    if seconds is not None:
        if not 0 <= seconds <= 600:
            g.fail("seconds", f"{seconds} is out of range (0..600)")
        if sessions or routes or expect:
            g.fail("seconds", "wait either a number of seconds or for a state, not both")
    elif not (sessions or routes or expect):
        g.fail(None, "wait for what? sessions: established, routes: converged, expect: true or seconds: N")
    return Wait(bool(sessions), bool(routes), expect, float(seconds) if seconds is not None else None, deadline)


def _show(f: Fields) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not f.has("show"):
        f.read.add("show")
        return (), ()
    g = Fields(f.opt("show", dict), f.path("show"), f.file, ScenarioError, f.line("show"))
    status = _names(g, "status")
    routes = _names(g, "routes")
    g.done()
    if not status and not routes:
        g.fail(None, "show what? status: [nodes] and/or routes: [targets]")
    return status, routes


def _expect(f: Fields) -> Expect:
    g = Fields(f.data["expect"], f.path("expect"), f.file, ScenarioError, f.line("expect"))
    sessions = {}
    doc = g.opt("sessions", dict, LocMap())
    for node, rows in doc.items():
        where = f"{g.path('sessions')}.{node}"
        line = doc.key_line(node)
        if not isinstance(rows, list):
            raise ScenarioError(f.file, where, "expected a list of sessions ({peer, type, state}); [] for none", line)
        specs = []
        for i, row in enumerate(rows):
            r = Fields(row, f"{where}[{i}]", f.file, ScenarioError, rows.item_line(i) if isinstance(rows, LocList) else line)
            peer = str(r.req("peer", (str,)))
            ptype = r.req("type", str)
            if ptype not in PEER_TYPES:
                r.fail("type", f"'{ptype}' is not a peer type ({', '.join(PEER_TYPES)})")
            state = r.opt("state", str, "Established")
            r.done()
            specs.append(SessionSpec(peer, ptype, state))
        sessions[node] = tuple(specs)
    present: dict[str, tuple[RouteSpec, ...]] = {}
    absent: dict[str, tuple[RouteSpec, ...]] = {}
    doc = g.opt("routes", dict, LocMap())
    for target, spec in doc.items():
        h = Fields(spec, f"{g.path('routes')}.{target}", f.file, ScenarioError, doc.key_line(target))
        for key, into in (("present", present), ("absent", absent)):
            items = h.opt(key, list, LocList())
            parsed = tuple(_route(item, f"{h.path(key)}[{i}]", f.file, items.item_line(i) if isinstance(items, LocList) else h.line(key))
                           for i, item in enumerate(items))
            if parsed:
                into[target] = parsed
        h.done()
        if target not in present and target not in absent:
            h.fail(None, "expected present: [...] and/or absent: [...]")
    max_outage = g.opt("max_outage_ms", (int, float), None)
    min_outage = g.opt("min_outage_ms", (int, float), None)
    for key, value in (("max_outage_ms", max_outage), ("min_outage_ms", min_outage)):
        if value is not None and value < 0:
            g.fail(key, f"{value} is negative")
    reach = g.opt("pods_reachable", str, None)
    if reach not in (None, "all"):
        g.fail("pods_reachable", f"'{reach}': only `all` is known")
    g.done()
    return Expect(sessions, present, absent, None if max_outage is None else float(max_outage),
                  None if min_outage is None else float(min_outage), reach == "all")


def _route(item: Any, where: str, file: str, line: int | None) -> RouteSpec:
    if isinstance(item, str):
        item = LocMap({"dst": item})
        item.line, item.key_lines = line or 0, {}
    r = Fields(item, where, file, ScenarioError, line)
    dst = r.opt("dst", str, None)
    blocks_of = r.opt("blocks_of", str, None)
    via = r.opt("via", (str, list), None)
    nexthops = r.opt("nexthops", int, None)
    r.done()
    if (dst is None) == (blocks_of is None):
        r.fail(None, "give either dst: CIDR or blocks_of: NODE")
    if dst is not None:
        try:
            dst = str(IPv4Network(dst))
        except ValueError as exc:
            r.fail("dst", f"'{dst}' is not an IPv4 network ({exc})")
    vias = tuple([via] if isinstance(via, str) else (via or []))
    if not all(isinstance(v, str) and v for v in vias):
        r.fail("via", "expected node names or addresses")
    if nexthops is not None and not 1 <= nexthops <= 64:
        r.fail("nexthops", f"{nexthops} is out of range (1..64)")
    return RouteSpec(dst, blocks_of, vias, nexthops)
