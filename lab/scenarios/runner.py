"""Run a scenario on a netns lab: bring it up if needed, start traffic, run the steps, judge them.

Per step: mark the traffic, snapshot every speaker's routes, run the action, wait (always with a
deadline), print the tables asked for, diff the routes, wait until the step's probes can be
judged, then judge the expectations. One `CheckResult` per step, so the text/JSON/JUnit output
is lab.test's (lab/checks/report.py). A step that raises stops the scenario (later steps are
SKIP); traffic is stopped and, unless `keep`, a lab the scenario brought up is removed, whatever
happened (Ctrl-C included). A kill -9 leaves processes and files recorded in the lab's state:
`lab.down` removes them.
"""

from __future__ import annotations

import io
import time
from typing import TextIO

import yaml

from ..checks.base import FAIL, PASS, SKIP, CheckResult, Context, poll
from ..errors import LabError
from ..calico.status import format_status_table
from ..checks.observe import observe_routes
from .spec import Scenario, Step
from .observe import (Names, describe_expect, judge_outage, judge_routes, judge_sessions, route_diff,
                      route_snapshot, session_rows)


class Run:
    def __init__(self, scenario: Scenario, lab, out: TextIO, traffic=None):
        self.scenario, self.lab, self.out, self.traffic = scenario, lab, out, traffic
        self.names = Names(lab.topo)
        self.step_started = 0.0
        topo = lab.topo
        self.speakers = [r.name for r in topo.routers] + [n.name for n in topo.cluster.nodes] + [h.name for h in topo.hosts]

    def say(self, text: str = "") -> None:
        self.out.write(text + ("\n" if not text.endswith("\n") else ""))
        self.out.flush()

    # -- one step ------------------------------------------------------------------------

    def step(self, index: int, step: Step) -> CheckResult:
        total = len(self.scenario.steps)
        title = step.action.describe() if step.action else "(no action)"
        self.say(f"\n== step {index}/{total}: {step.name}\n   {title}")
        started_mono, started = time.monotonic(), time.time()
        self.step_started = started  # outage_so_far: which traffic segment is this step's
        if self.traffic:
            self.traffic.mark(f"step {index}: {step.name}", started)
        access = self.lab.access()
        before = route_snapshot(access, self.speakers)
        problems: list[str] = []
        if step.action:
            problems += self.act(step)
        if step.wait:
            problems += self.wait(step)
        for node in step.show_status:
            rows = session_rows(self.lab.access(), node)
            header = "Calico process is running.\n\n" if rows is not None else "Calico process is not running.\n"
            self.say(f"-- calicoctl node status on {node}:\n{header}{format_status_table(rows) if rows is not None else ''}")
        for target in step.show_routes:
            result = self.lab.access().exec(target, ["ip", "route"])
            self.say(f"-- ip route on {target}:\n{result.stdout.rstrip()}")
        diff = route_diff(before, route_snapshot(self.lab.access(), self.speakers))
        self.say("-- routes changed:" if diff else "-- routes: no change on any node or router")
        for target, lines in diff.items():
            self.say(f"   {target}:\n" + "\n".join(f"     {line}" for line in lines))
        figures: dict = {"action": title, "route_changes": {t: len(v) for t, v in diff.items()}}
        outage = worst = None
        sent = 0
        if self.traffic:
            # A step observes the traffic for at least a few probes of every pair: an
            # expectation on the outage must never hold because nothing was sent.
            window = max(0.2, 10 * self.scenario.traffic.interval_ms / 1000.0)
            if time.time() - started < window:
                time.sleep(window - (time.time() - started))
            ended = time.time()
            self.traffic.wait_judged(ended)
            segment = self.traffic.segments(until=ended)[-1]
            outage, worst, sent = segment.max_outage_ms, segment.worst_pair(), segment.sent
            figures.update(sent=segment.sent, lost=segment.lost, max_outage_ms=outage,
                           pairs_with_loss={p: s.as_dict() for p, s in segment.pairs.items() if s.lost})
            self.say(f"-- traffic during the step: {segment.sent} probes, {segment.lost} lost, longest outage "
                     f"{outage:g} ms" + (f" ({worst})" if worst else ""))
        problems += self.judge(step, include_reach=True)
        problems += judge_outage(step.expect, outage, worst, sent)
        status = FAIL if problems else PASS
        expected = describe_expect(step.expect)
        observed = "as expected" if not problems else f"{len(problems)} problem(s): {problems[0]}"
        self.say(f"-- {status}: expected {expected}" + ("" if not problems else "\n" + "\n".join(f"   ! {p}" for p in problems)))
        return CheckResult(f"step {index:02d}: {step.name}", status, expected, observed,
                           round(time.monotonic() - started_mono, 2), figures, problems)

    def act(self, step: Step) -> list[str]:
        assert step.action is not None  # called for a step with an action only
        kind, a = step.action.kind, step.action.args
        lab = self.lab
        buf = io.StringIO()
        if kind == "calicoctl":
            files = None
            if a.get("documents"):  # an inline document: what `-f <inline>` reads
                files = {"<inline>": yaml.safe_dump_all(a["documents"], sort_keys=False, explicit_start=True)}
            rc = lab.calicoctl(list(a["argv"]), buf, files=files)
            self.say(_indent(buf.getvalue()))
            return [] if rc == 0 else [f"calicoctl exited {rc}"]
        if kind == "pods":
            key, value = next(iter(a.items()))
            if key == "recreate":
                kwargs = {"recreate_pods": True, "all_pods": value == "all", "node": None if value == "all" else value}
            else:
                kwargs = {key: value}
            lab.change_pods(**kwargs, out=buf)
            self.say(_indent(buf.getvalue()))
            return []
        if kind == "link":
            self.say("   " + lab.apply_fault("link", a["target"], a["iface"], a["up"]))
        elif kind == "stop":
            self.say("   " + lab.apply_fault("stop", a["target"], kill=a["kill"]))
        elif kind == "start":
            self.say("   " + lab.apply_fault("start", a["target"]))
        elif kind == "netem":
            if a["clear"]:
                self.say("   " + lab.apply_fault("clear_netem", a["target"], a["iface"]))
            else:
                self.say("   " + lab.apply_fault("netem", a["target"], a["iface"], a["delay_ms"], a["jitter_ms"], a["loss_pct"]))
        elif kind == "check":
            from ..checks import run_checks
            from ..checks.report import line

            results = run_checks(Context(lab), a)
            for r in results:
                self.say(_indent(line(r)))
            return [f"check {r.name}: {r.observed}" for r in results if r.status == FAIL]
        return []

    def wait(self, step: Step) -> list[str]:
        from ..checks import routes, sessions

        w = step.wait
        assert w is not None  # called for a step with a wait only
        started = time.monotonic()
        if w.seconds is not None:
            # The scenario asks for time to pass (e.g. a hold timer to expire): that is the point.
            time.sleep(w.seconds)
            self.say(f"-- waited {w.seconds:g}s")
            return []
        problems = []
        ctx = Context(self.lab, deadline=w.deadline, interval=0.1)
        for wanted, check, what in ((w.sessions, sessions.run, "every planned session Established"),
                                    (w.routes, routes.run, "routes converged")):
            if not wanted:
                continue
            result = check(ctx)
            if result.ok:
                self.say(f"-- waited {time.monotonic() - started:.2f}s: {what}")
            else:
                problems.append(f"wait: not {what} within {w.deadline:g}s: {result.observed}")
        if w.expect:
            def pending() -> list[str]:
                # Pings only once the cheap expectations hold: a step that expects every pod
                # reachable waits until they are (neighbour entries re-resolving after a link
                # comes back take a moment the routes do not show).
                problems = self.judge(step, include_reach=False) + self.outage_so_far(step)
                return problems or self.judge(step, include_reach=True)

            ok, last = poll(pending, lambda p: not p, max(0.1, w.deadline - (time.monotonic() - started)), 0.2)
            self.say(f"-- waited {time.monotonic() - started:.2f}s: " + ("expectations hold" if ok else
                     f"expectations still fail after {w.deadline:g}s"))
        return problems

    def outage_so_far(self, step: Step) -> list[str]:
        """While waiting: a step that must show a loss (`min_outage_ms`) waits until the traffic
        has shown it, instead of a fixed time that is too long on a fast machine and too short
        on a slow one. The step's own judgement comes later, on every probe of the step."""
        want = step.expect.min_outage_ms
        if want is None or not self.traffic:
            return []
        last = self.traffic.segments()[-1]
        # Probes younger than the grace time are not judged: for that long after the step's
        # mark the last segment is still the previous step's, whose outage is not this one's.
        if last.start < self.step_started - 0.001:  # marks are written to the microsecond
            return [f"no probe of this step judged yet (outage wanted: {want:g} ms)"]
        seen = last.max_outage_ms
        return [] if seen >= want else [f"outage so far {seen:g} ms < {want:g} ms"]

    def judge(self, step: Step, include_reach: bool) -> list[str]:
        expect, access = step.expect, self.lab.access()
        problems = []
        for node, want in expect.sessions.items():
            problems += judge_sessions(node, want, session_rows(access, self.names.node(node)), self.names)
        if expect.present or expect.absent:
            blocks = self.lab.planned_blocks()
            for target in dict.fromkeys([*expect.present, *expect.absent]):
                problems += judge_routes(target, expect.present.get(target, ()), expect.absent.get(target, ()),
                                         observe_routes(access, target), blocks, self.names)
        if include_reach and expect.pods_reachable:
            from ..checks import connectivity

            result = connectivity.run(Context(self.lab))
            if not result.ok:
                problems.append(f"pods not all reachable: {result.observed}")
        return problems


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.rstrip().splitlines())


def run_scenario(scenario: Scenario, lab_name: str | None = None, keep: bool = False,
                 out: TextIO | None = None) -> tuple[list[CheckResult], str, float]:
    """Run every step; returns (one result per step, lab name, seconds)."""
    import sys

    from ..commands.lab import up
    from ..loader import load_topology
    from ..probes.session import Traffic
    from ..providers.netns.provider import NetnsProvider, remove_lab

    out = out or sys.stdout
    topo = load_topology(scenario.topology)
    name = lab_name or scenario.name
    created = False
    started = time.monotonic()
    if NetnsProvider.exists(name):
        lab = NetnsProvider.attach(name)
        if lab.topo.name != topo.name:
            raise LabError(f"lab {name} runs topology {lab.topo.name}, scenario {scenario.name} needs {topo.name}: "
                           f"`invoke lab.down --name {name}` or choose another --name")
        out.write(f"lab {name} is already up: the scenario starts from its current state\n")
    else:
        created = True
        try:
            up(scenario.topology, "netns", name, out=out)
        except BaseException:
            # A lab this run started and could not bring up is this run's to remove, like any other.
            if not keep:
                remove_lab(name, out)
            raise
        lab = NetnsProvider.attach(name)
    traffic = None
    results: list[CheckResult] = []
    try:
        if scenario.traffic.enabled:
            traffic = Traffic(lab)
            if traffic.running():
                traffic.stop()
            out.write(traffic.start(scenario.traffic.pairs, scenario.traffic.interval_ms, scenario.traffic.limit_s) + "\n")
        run = Run(scenario, lab, out, traffic)
        failed_at = None
        for index, step in enumerate(scenario.steps, 1):
            if failed_at is not None:
                results.append(CheckResult(f"step {index:02d}: {step.name}", SKIP, describe_expect(step.expect),
                                           f"not run: step {failed_at} could not run"))
                continue
            try:
                results.append(run.step(index, step))
            except LabError as exc:
                failed_at = index
                out.write(f"-- FAIL: the step could not run: {exc}\n")
                results.append(CheckResult(f"step {index:02d}: {step.name}", FAIL, describe_expect(step.expect),
                                           f"could not run: {exc}", details=[str(exc)]))
        if traffic:
            from ..probes.analysis import format_report

            out.write("\n== traffic over the whole scenario, per step\n" + format_report(traffic.stop()) + "\n")
    finally:
        if traffic and traffic.running():
            traffic.stop()
        if created and not keep:
            remove_lab(name, out)
        elif keep or not created:
            out.write(f"lab {name} kept: `invoke lab.down --name {name}` removes it\n")
    return results, name, time.monotonic() - started
