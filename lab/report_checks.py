"""The `lab.test` report in the HTML section model (lab.report_html): pure, CheckResults in.

Each check becomes an Item with its verdict, expected and observed text, its
figures drawn where the check measured one (the ECMP split per uplink, the
failover loss window against its limit), its other figures as facts and its
details (problems, planned and observed status tables) as a preformatted block.
"""

from __future__ import annotations

import json
from typing import Sequence

from .checks.base import CheckResult
from .checks.failover import MAX_LOSS_WINDOW_MS
from .report_html import Item, Pre, Section, Split, Timeline, render_html


def fact_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def check_figures(result: CheckResult) -> tuple:
    figures: list[Split | Timeline] = []
    fig = result.figures
    split = fig.get("split")
    if isinstance(split, dict) and split:
        flows = fig.get("flows", sum(split.values()))
        title = f"ECMP: {flows} flows by uplink"
        if "asymmetric_flows" in fig:
            title += f" ({fig['asymmetric_flows']} replied via the other spine)"
        figures.append(Split(title, tuple((str(k), float(v)) for k, v in split.items()), "flows"))
    window = fig.get("loss_window_ms")
    if isinstance(window, (int, float)):
        limit = float(fig.get("loss_limit_ms", MAX_LOSS_WINDOW_MS))
        lost = f", {fig['lost']} of {fig['sent']} probes lost" if "lost" in fig and "sent" in fig else ""
        where = f" with {fig['link']} down" if fig.get("link") else ""
        figures.append(Timeline(f"longest loss window{where}: {window:g} ms{lost}", max(limit, float(window)) * 1.1,
                                windows=((0.0, float(window)),), limit_ms=limit, axis="ms"))
    return tuple(figures)


def check_item(result: CheckResult) -> Item:
    drawn = {"split", "loss_window_ms"} if check_figures(result) else set()
    facts = tuple((k, fact_text(v)) for k, v in result.figures.items() if k not in drawn)
    blocks = (Pre("details", "\n".join(result.details)),) if result.details else ()
    return Item(result.name, result.status, result.expected, result.observed, result.seconds,
                check_figures(result), blocks, facts)


def test_report_html(lab: str, provider: str, topology: str, results: Sequence[CheckResult], seconds: float,
                     picture: str | None, caption: str, commands: Sequence[str],
                     blocks: Sequence[Pre] = ()) -> str:
    passed = sum(r.status == "PASS" for r in results)
    failed = sum(r.status == "FAIL" for r in results)
    skipped = sum(r.status == "SKIP" for r in results)
    summary = f"{passed} passed, {failed} failed, {skipped} skipped in {seconds:.1f} s"
    sections = [
        Section("The lab", text=f"Lab {lab} ({provider} provider), topology {topology}; BGP sessions as observed "
                                "after the checks ran.", picture=picture, caption=caption, blocks=tuple(blocks)),
        Section("Checks", text=summary, items=tuple(check_item(r) for r in results)),
        Section("Reproduce", text="Run these from a clone of fabriclab (as root for the netns provider).",
                commands=tuple(commands)),
    ]
    return render_html(f"lab.test · {lab}", sections, subtitle=f"{topology} · {provider} · {summary}")
