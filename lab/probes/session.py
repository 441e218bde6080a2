"""Background traffic on a running netns lab: probe streams between pods, marks, loss per segment.

One echo responder per destination pod and one probe sender per source pod (lab/traffic.py
`echo` / `probe`), each started inside its pod's namespace and recorded in the lab's state
file (role `traffic-echo:<pod>` / `traffic-probe:<pod>`), so `lab.down` stops them whatever
happened to the command that started them. Both stop by themselves after the time limit.

Files, in the lab's run directory under traffic/ (removed with the lab):
  session.json      pairs, interval, limit, start time, the processes' PIDs
  probe-<pod>.log   the probe log of one source (`s`/`r` lines, see lab/probes/analysis.py)
  echo-<pod>.log    the echo responder's output
  marks.log         `TIME TEXT` per mark
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from ..deadline import Deadline
from ..errors import LabError
from . import analysis

ECHO_PORT = 5301  # not the checks' ports (5201, 5202): a check can run while traffic runs
PROBE_SPORT = 43100
DEFAULT_INTERVAL_MS = 20.0
DEFAULT_LIMIT_S = 600.0
WARM_DEADLINE = 10.0  # every pair answers once before loss is counted (ARP, cold caches)
PAIR_KINDS = ("all", "cross-node", "cross-rack")


def select_pairs(topo, pods: Sequence, spec: str | None) -> list[tuple]:
    """(src pod, dst pod) pairs for `all`, `cross-node`, `cross-rack` or `SRC:DST,...`."""
    spec = (spec or "all").strip()
    by_name = {p.name: p for p in pods}
    if spec in PAIR_KINDS:
        rack = {n.name: n.rack for n in topo.cluster.nodes}
        pairs = [(a, b) for a in pods for b in pods if a.name != b.name
                 and (spec == "all" or (spec == "cross-node" and a.node != b.node)
                      or (spec == "cross-rack" and rack[a.node] != rack[b.node]))]
        if not pairs:
            raise LabError(f"--pairs {spec}: no such pair of pods in this lab (pods: {', '.join(by_name)})")
        return pairs
    pairs = []
    for item in spec.split(","):
        src, sep, dst = item.strip().partition(":")
        if not sep or src not in by_name or dst not in by_name or src == dst:
            raise LabError(f"--pairs: '{item}' is not SRC:DST of two different pods "
                           f"(or use {', '.join(PAIR_KINDS)}; pods: {', '.join(by_name)})")
        pairs.append((by_name[src], by_name[dst]))
    return list(dict.fromkeys(pairs))


def check_numbers(interval_ms, limit_s) -> tuple[float, float]:
    try:
        interval, limit = float(interval_ms), float(limit_s)
    except (TypeError, ValueError):
        raise LabError(f"--interval {interval_ms!r} / --limit {limit_s!r}: not numbers") from None
    if not 1 <= interval <= 10_000:
        raise LabError(f"--interval {interval_ms}: use 1..10000 ms")
    if not 1 <= limit <= 24 * 3600:
        raise LabError(f"--limit {limit_s}: use 1..86400 s")
    return interval, limit


class Traffic:
    """The background traffic of one netns lab (one session at a time)."""

    def __init__(self, lab):
        self.lab = lab
        self.dir = Path(lab.run_dir) / "traffic"
        self.session_path = self.dir / "session.json"
        self.marks_path = self.dir / "marks.log"

    # -- session file ----------------------------------------------------------------------

    def session(self) -> dict | None:
        try:
            return json.loads(self.session_path.read_text())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        found = self.session()
        return found is not None and bool(found) and not found.get("stopped")

    def _write(self, data: dict) -> None:
        tmp = self.session_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.session_path)

    # -- start / mark / stop ---------------------------------------------------------------

    def start(self, pairs_spec: str | None = None, interval_ms=DEFAULT_INTERVAL_MS, limit_s=DEFAULT_LIMIT_S) -> str:
        from ..providers.netns import procs
        from ..providers.netns.state import LabState

        if self.running():
            raise LabError(f"traffic already runs in lab {self.lab.lab_name}: `invoke lab.traffic stop` first")
        interval, limit = check_numbers(interval_ms, limit_s)
        pairs = select_pairs(self.lab.topo, self.lab.pods(), pairs_spec)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.log"):
            old.unlink()
        state = LabState(self.lab.state_path)
        netns = {ns.target: ns.netns for ns in self.lab.blueprint.namespaces}
        data: dict[str, Any] = {"pairs": [f"{a.name}->{b.name}" for a, b in pairs], "interval_ms": interval, "limit_s": limit,
                "started": time.time(), "names": {}, "processes": []}
        self._write(data)  # before any process: a crash leaves a session `stop` can still end
        dsts = list(dict.fromkeys(b for _, b in pairs))
        srcs = list(dict.fromkeys(a for a, _ in pairs))
        started = []
        for pod in dsts:
            data["names"][pod.ip] = pod.name
            argv = self.lab._traffic_argv(["echo", "--port", str(ECHO_PORT), "--seconds", f"{limit + 30:g}"])
            started.append(("ready echo", procs.start(state, netns[pod.name], argv, log_path=self.dir / f"echo-{pod.name}.log",
                                                      role=f"traffic-echo:{pod.name}")))
        for pod in srcs:
            targets = [b.ip for a, b in pairs if a is pod]
            argv = self.lab._traffic_argv(["probe", "--dst", ",".join(targets), "--port", str(ECHO_PORT),
                                           "--interval-ms", f"{interval:g}", "--limit", f"{limit:g}",
                                           "--sport", str(PROBE_SPORT)])
            started.append(("ready probe", procs.start(state, netns[pod.name], argv, log_path=self.probe_log(pod.name),
                                                       role=f"traffic-probe:{pod.name}")))
        data["processes"] = [{"pid": p.pid, "starttime": p.starttime, "role": p.role} for _, p in started]
        data["sources"] = [p.name for p in srcs]
        self._write(data)
        for ready, proc in started:
            self._wait_line(proc, ready)
        warm = self._wait_warm(data)
        data["warm"] = warm
        self._write(data)
        silent = [pair for pair, ok in self._answered(data).items() if not ok]
        note = f"; not answering yet: {', '.join(silent)}" if silent else ""
        return (f"traffic: {len(pairs)} pairs, one probe every {interval:g} ms each, stops by itself after "
                f"{limit:g}s; every pair answered after {warm - data['started']:.2f}s{note}")

    def probe_log(self, pod: str) -> Path:
        return self.dir / f"probe-{pod}.log"

    def _wait_line(self, proc, prefix: str, deadline: Deadline | float = 10.0) -> None:
        end = Deadline.of(deadline)
        while not end.expired():
            try:
                if any(line.startswith(prefix) for line in proc.log.read_text(errors="replace").splitlines()[:3]):
                    return
            except OSError:
                pass
            if not proc.alive():
                break
            time.sleep(0.02)
        raise LabError(f"{proc.role} did not start: {proc.log.read_text(errors='replace')[-300:] if proc.log.exists() else ''}")

    def _answered(self, data: dict) -> dict[str, bool]:
        sent, received = self._read(data)
        answered = {pair for pair, _ in received}
        return {pair: pair in answered for pair in data["pairs"]}

    def _wait_warm(self, data: dict) -> float:
        end = Deadline.after(WARM_DEADLINE)
        while not end.expired() and not all(self._answered(data).values()):
            time.sleep(0.05)
        return time.time()

    def mark(self, text: str, stamp: float | None = None) -> float:
        if not self.running():
            raise LabError(f"no traffic runs in lab {self.lab.lab_name}: `invoke lab.traffic start` first")
        stamp = time.time() if stamp is None else stamp
        text = " ".join(str(text).split())  # one line per mark
        with open(self.marks_path, "a") as f:
            f.write(f"{stamp:.6f} {text}\n")
        return stamp

    def _read(self, data: dict):
        sent: list[analysis.Probe] = []
        received: dict = {}
        for src in data.get("sources", []):
            try:
                text = self.probe_log(src).read_text(errors="replace")
            except OSError:
                continue
            s, r = analysis.parse_probe_log(text, src, data.get("names", {}))
            sent += s
            received.update(r)
        return sent, received

    def grace(self, data: dict) -> float:
        """How long an echo may take before its probe counts as lost (in flight, not lost)."""
        return max(0.3, 5 * data["interval_ms"] / 1000.0)

    def segments(self, until: float | None = None) -> list[analysis.Segment]:
        """Loss per segment so far: probes younger than the grace time are not judged yet."""
        data = self.session()
        if data is None:
            raise LabError(f"no traffic was started in lab {self.lab.lab_name}")
        horizon = data.get("stopped") or time.time()
        # `until`: the caller waited (wait_judged) until the probes sent before it are judged.
        end = horizon - self.grace(data) if until is None else min(until, horizon)
        try:
            marks = analysis.parse_marks(self.marks_path.read_text())
        except OSError:
            marks = []
        sent, received = self._read(data)
        start = data.get("warm") or data["started"]
        return analysis.analyze(sent, received, [m for m in marks if m[0] <= end], start, end)

    def wait_judged(self, until: float) -> None:
        """Wait until every probe sent before `until` is echoed or older than the grace time.

        A probe lost long ago is judged already: only the unanswered probes of the last grace
        period are waited for (waiting for every unanswered probe ever sent made each step after
        the first loss wait the whole grace time)."""
        data = self.session()
        if not data:
            return
        grace = self.grace(data)
        end = until + grace
        while True:
            now = time.time()
            if now >= end:
                return
            sent, received = self._read(data)
            if all((p.pair, p.seq) in received or p.sent + grace <= now for p in sent if p.sent < until):
                return
            time.sleep(0.02)

    def status(self) -> str:
        data = self.session()
        if data is None:
            return f"no traffic in lab {self.lab.lab_name}"
        alive = [p for p in data["processes"] if _alive(p)]
        state = "stopped" if data.get("stopped") else f"{len(alive)}/{len(data['processes'])} processes running"
        elapsed = (data.get("stopped") or time.time()) - data["started"]
        segs = self.segments()
        return (f"traffic in lab {self.lab.lab_name}: {state}, {len(data['pairs'])} pairs, "
                f"{elapsed:.1f}s of {data['limit_s']:g}s\n" + analysis.format_report(segs))

    def stop(self) -> list[analysis.Segment]:
        from ..providers.netns import procs
        from ..providers.netns.state import LabState

        data = self.session()
        if data is None:
            raise LabError(f"no traffic was started in lab {self.lab.lab_name}")
        if not data.get("stopped"):
            data["stopped"] = time.time()
            state = LabState(self.lab.state_path)
            # Probes first (they log their last echoes as they end), then the echo responders.
            for proc in sorted(data["processes"], key=lambda p: not p["role"].startswith("traffic-probe")):
                procs.stop(proc["pid"], proc["starttime"], 2.0)
                state.forget(lambda o, pid=proc["pid"]: o.get("kind") == "process" and o.get("pid") == pid)
            self._write(data)
        return self.segments()

    def report(self, segments: Sequence[analysis.Segment]) -> dict:
        data = self.session() or {}
        return {"lab": self.lab.lab_name, "pairs": data.get("pairs", []), "interval_ms": data.get("interval_ms"),
                "segments": [s.as_dict() for s in segments], "totals": analysis.totals(segments)}


def _alive(proc: dict) -> bool:
    from ..providers.netns import procs

    return procs.pid_alive(proc["pid"], proc["starttime"])
