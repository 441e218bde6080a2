"""The `lab.scenario --report` report in the HTML section model (lab.report_html): pure.

In: the scenario, one CheckResult per step (lab/scenarios/runner.py), and the text the run
printed. The runner prints each step's tables and route diffs as it goes and keeps only
figures in the results, so the printed text is split back into per-step logs here, at the
`== step i/N:` headers the runner writes (the same lines a user reads in the terminal).

Per step: verdict, expected and observed, the probes delivered and lost as a bar, the
longest outage against the step's limit as a timeline, the route changes and the pairs that
lost probes as facts, and what the step printed. Above the steps, one timeline of the whole
run: each step a tick, each step's longest outage drawn from the step's start (the probes
say how long the worst pair was cut off, not when within the step).
"""

from __future__ import annotations

import re
from typing import Sequence

from .checks.base import CheckResult
from .report_checks import fact_text
from .report_html import Item, Pre, Section, Split, Timeline, render_html

STEP_HEADER = re.compile(r"^== step (\d+)/\d+: .*$", re.M)
TRAFFIC_HEADER = "== traffic over the whole scenario, per step"


def split_log(text: str) -> tuple[str, dict[int, str], str]:
    """(what came before the first step, {step number: its text}, the whole-run traffic table)."""
    traffic = ""
    at = text.find(TRAFFIC_HEADER)
    if at >= 0:
        traffic = text[at + len(TRAFFIC_HEADER):].strip("\n")
        text = text[:at]
    headers = list(STEP_HEADER.finditer(text))
    preamble = text[: headers[0].start()] if headers else text
    steps = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        steps[int(header.group(1))] = text[header.start():end].strip("\n")
    return preamble.strip("\n"), steps, traffic


def _outage(result: CheckResult) -> float | None:
    value = result.figures.get("max_outage_ms")
    return float(value) if isinstance(value, (int, float)) else None


def step_figures(result: CheckResult, limit_ms: float | None) -> tuple:
    fig = result.figures
    figures: list = []
    sent, lost = fig.get("sent"), fig.get("lost")
    if isinstance(sent, int) and isinstance(lost, int) and sent > 0:
        figures.append(Split(f"probes during the step: {lost} of {sent} lost", (("delivered", sent - lost), ("lost", lost)),
                             "probes"))
    outage = _outage(result)
    if outage is not None:
        span = max(outage, limit_ms or 0.0, result.seconds * 1000.0, 1.0) * 1.05
        title = f"longest outage {outage:g} ms" + (f" (limit {limit_ms:g} ms)" if limit_ms is not None else "")
        figures.append(Timeline(title, span, windows=((0.0, outage),) if outage > 0 else (), limit_ms=limit_ms))
    return tuple(figures)


def step_facts(result: CheckResult) -> tuple[tuple[str, str], ...]:
    fig = result.figures
    facts = []
    if fig.get("action"):
        facts.append(("action", str(fig["action"])))
    changes = fig.get("route_changes") or {}
    facts.append(("route changes", ", ".join(f"{t}: {n}" for t, n in changes.items()) or "none"))
    pairs = fig.get("pairs_with_loss") or {}
    if pairs:
        facts.append(("pairs with loss", ", ".join(
            f"{p}: {s.get('lost')}/{s.get('sent')} lost, outage {s.get('longest_outage_ms', 0):g} ms"
            if isinstance(s, dict) else f"{p}: {fact_text(s)}" for p, s in sorted(pairs.items()))))
    shown = {"action", "route_changes", "pairs_with_loss", "sent", "lost", "max_outage_ms"}
    facts += [(k, fact_text(v)) for k, v in fig.items() if k not in shown]
    return tuple(facts)


def step_item(result: CheckResult, limit_ms: float | None, log: str) -> Item:
    blocks = []
    if result.details:
        blocks.append(Pre("problems", "\n".join(result.details)))
    if log:
        blocks.append(Pre("what the step printed: actions, status tables, route changes", log))
    return Item(result.name, result.status, result.expected, result.observed, result.seconds,
                step_figures(result, limit_ms), tuple(blocks), step_facts(result))


def run_timeline(results: Sequence[CheckResult]) -> Timeline | None:
    """The whole run on one axis (seconds): a tick per step, each step's longest outage from its start."""
    if not results:
        return None
    starts, t = [], 0.0
    for r in results:
        starts.append(t)
        t += max(0.0, r.seconds)
    windows = tuple((start, start + (_outage(r) or 0) / 1000.0) for start, r in zip(starts, results) if (_outage(r) or 0) > 0)
    marks = tuple((start, str(i)) for i, start in enumerate(starts, 1))
    worst = max((_outage(r) or 0 for r in results), default=0)
    return Timeline(f"the run: each step's longest outage from its start (worst {worst:g} ms)",
                    max(t, 0.001), windows=windows, marks=marks, axis="s")


def scenario_report_html(scenario, results: Sequence[CheckResult], lab_name: str, seconds: float, log: str,
                         picture: str | None, caption: str, commands: Sequence[str]) -> str:
    preamble, logs, traffic = split_log(log)
    limits = [s.expect.max_outage_ms for s in scenario.steps]
    items = tuple(step_item(r, limits[i] if i < len(limits) else None, logs.get(i + 1, ""))
                  for i, r in enumerate(results))
    passed = sum(r.status == "PASS" for r in results)
    failed = sum(r.status == "FAIL" for r in results)
    skipped = sum(r.status == "SKIP" for r in results)
    summary = f"{passed} steps passed, {failed} failed, {skipped} skipped in {seconds:.1f} s"
    timeline = run_timeline(results)
    traffic_text = (f"background probes: {scenario.traffic.pairs}, every {scenario.traffic.interval_ms:g} ms"
                    if scenario.traffic.enabled else "no background traffic in this scenario")
    sections = [
        Section("The scenario", text=scenario.description.strip(), picture=picture, caption=caption,
                blocks=(Pre("before the first step", preamble),) if preamble else ()),
        Section("Steps", text=f"{summary}; {traffic_text}.", items=items, figures=(timeline,) if timeline else ()),
        Section("Traffic", text="Probes sent and lost per step, and the pairs that lost any.",
                blocks=(Pre("per step", traffic, open=True),)) if traffic else None,
        Section("Reproduce", text="Run these from a clone of fabriclab, as root.", commands=tuple(commands)),
    ]
    return render_html(f"lab.scenario · {scenario.name}", [s for s in sections if s is not None],
                       subtitle=f"{scenario.topology} · lab {lab_name} · {summary}")
