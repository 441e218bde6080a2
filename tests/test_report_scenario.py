"""The scenario report's pure part: a scenario, its per-step results and what the run printed, in HTML."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lab.checks.base import CheckResult
from lab.commands.scenario import scenario
from lab.errors import LabError
from lab.providers.netns.provider import NetnsProvider
from lab.report_scenario import run_timeline, scenario_report_html, split_log, step_figures, step_item
from lab.report_html import Split, Timeline
from lab.scenarios.model import load_scenario
from lab.commands.report import scenario_picture
from browser import requires_chromium
from graph_helpers import requires_dot
from render_helpers import REPO
from report_helpers import Tree, report_in_browser

SCENARIO = load_scenario("uplink-failover")

# What lab/scenarios/runner.py prints, in its shape (headers, tables, diffs, the traffic table).
LOG = """scenario uplink-failover: Seed 002's failover steps
lab s-x is already up: the scenario starts from its current state
traffic started: 4 pairs

== step 1/3: ECMP across both spines
   (no action)
-- routes: no change on any node or router
-- PASS: expected leaf0 routes

== step 2/3: leaf0 uplink to spine0 down
   link leaf0:eth1 down
-- routes changed:
   leaf0:
     - 10.244.1.0/26 nexthop via 10.1.10.2 dev eth1
-- traffic during the step: 900 probes, 12 lost, longest outage 130 ms (worker2-pod0 -> worker-pod0)
-- FAIL: expected <b>routes</b>

== step 3/3: leaf0 uplink back up
-- routes: no change on any node or router

== traffic over the whole scenario, per step
[1] step 1: ECMP across both spines: 1.2s, 400 sent, 0 lost, longest outage 0 ms
[2] step 2: leaf0 uplink to spine0 down: 3.1s, 900 sent, 12 lost, longest outage 130 ms
      worker2-pod0 -> worker-pod0: 12/225 lost, outage 130 ms
lab s-x kept: `invoke lab.down --name s-x` removes it
"""


def results() -> list[CheckResult]:
    return [
        CheckResult("step 01: ECMP across both spines", "PASS", "leaf0 routes", "as expected", 1.2,
                    {"action": "(no action)", "route_changes": {}, "sent": 400, "lost": 0, "max_outage_ms": 0.0,
                     "pairs_with_loss": {}}),
        CheckResult("step 02: leaf0 uplink to spine0 down", "FAIL", "<b>routes</b>", "1 problem(s): leaf0 has 2", 3.1,
                    {"action": "link leaf0:eth1 down", "route_changes": {"leaf0": 2}, "sent": 900, "lost": 12,
                     "max_outage_ms": 130.0,
                     "pairs_with_loss": {"worker2-pod0 -> worker-pod0": {"sent": 225, "lost": 12,
                                                                         "longest_outage_ms": 130.0}}},
                    ["leaf0: 10.244.1.0/26 has 2 next hops, expected 1"]),
        CheckResult("step 03: leaf0 uplink back up", "SKIP", "leaf0 routes", "not run: step 2 could not run"),
    ]


def test_the_log_splits_at_the_runners_step_headers():
    preamble, steps, traffic = split_log(LOG)
    assert preamble.startswith("scenario uplink-failover") and "== step" not in preamble
    assert sorted(steps) == [1, 2, 3]
    assert steps[2].startswith("== step 2/3: leaf0 uplink to spine0 down") and "nexthop via 10.1.10.2" in steps[2]
    assert "== step 3" not in steps[2] and "traffic over" not in steps[3]
    assert traffic.startswith("[1] step 1") and "12/225 lost" in traffic


def test_a_log_without_steps_is_all_preamble():
    assert split_log("lab up\nerror") == ("lab up\nerror", {}, "")


def test_step_figures_probes_bar_and_outage_against_the_steps_limit():
    split, timeline = step_figures(results()[1], 1000.0)
    assert isinstance(split, Split) and split.parts == (("delivered", 888), ("lost", 12)) and "12 of 900" in split.title
    assert isinstance(timeline, Timeline) and timeline.windows == ((0.0, 130.0),) and timeline.limit_ms == 1000.0
    assert timeline.span_ms >= 3100  # the step's duration: the outage is drawn to scale
    (_, quiet) = step_figures(results()[0], 0.0)
    assert quiet.windows == ()  # no outage, no red
    assert step_figures(results()[2], None) == ()  # a step that did not run measured nothing


def test_step_item_facts_and_blocks():
    item = step_item(results()[1], 1000.0, "== step 2/3: ...\n-- routes changed:")
    facts = dict(item.facts)
    assert facts["action"] == "link leaf0:eth1 down" and facts["route changes"] == "leaf0: 2"
    assert facts["pairs with loss"] == "worker2-pod0 -> worker-pod0: 12/225 lost, outage 130 ms"
    assert [b.title for b in item.blocks] == ["problems", "what the step printed: actions, status tables, route changes"]


def test_run_timeline_places_each_steps_outage_at_its_start():
    timeline = run_timeline(results())
    assert timeline.axis == "s" and timeline.span_ms == pytest.approx(4.3)
    assert timeline.marks == ((0.0, "1"), (1.2, "2"), (4.3, "3"))
    assert timeline.windows == ((1.2, pytest.approx(1.33)),) and "worst 130 ms" in timeline.title
    assert run_timeline([]) is None


def report() -> str:
    return scenario_report_html(SCENARIO, results(), "s-x", 4.3, LOG, '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
                                "lab s-x after the last step", ["invoke lab.scenario uplink-failover --name s-x"])


def test_every_step_appears_with_its_verdict_log_and_figures():
    tree = Tree(report())
    assert tree.errors == [] and not tree.find("script") and not tree.find("b")
    assert [tree.text(h) for h in tree.find("h3")] == [r.name for r in results()]
    assert [a[1]["data-verdict"] for a in tree.find("article", "item")] == ["PASS", "FAIL", "SKIP"]
    assert [tree.text(h) for h in tree.find("h2")] == ["The scenario", "Steps", "Traffic", "Reproduce"]
    assert len(tree.find("svg", "timeline")) == 1 + 2  # the run, then steps 1 and 2
    assert len(tree.find("rect", "loss")) == 2  # step 2's outage, on the run's axis and on its own
    printed = [tree.text(d) for d in tree.find("details", "block")]
    assert any("nexthop via 10.1.10.2" in p for p in printed) and any("12/225 lost" in p for p in printed)
    assert "<b>routes</b>" in tree.text(tree.find("article", "item")[1])  # printed as text
    assert "1 steps passed, 1 failed, 1 skipped" in tree.text(tree.find("p", "subtitle")[0])


@requires_chromium
def test_scenario_report_in_headless_chromium(tmp_path):
    path = tmp_path / "scenario.html"
    path.write_text(report())
    facts = report_in_browser(path)
    assert facts["title"] == "lab.scenario · uplink-failover"
    assert [i["name"] for i in facts["items"]] == [r.name for r in results()]
    assert [i["badge"] for i in facts["items"]] == ["PASS", "FAIL", "SKIP"]
    assert facts["sectionCharts"] == 1 and facts["items"][1]["timelines"] == 1 and facts["items"][1]["losses"] == 1
    assert facts["items"][1]["open"] == 2  # a failed step shows its problems and its log at once


def test_lab_scenario_offers_report():
    proc = subprocess.run([sys.executable, "-m", "invoke", "--help", "lab.scenario"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--report" in proc.stdout and "HTML report" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="lab.scenario needs root before it looks at --report")
def test_an_unwritable_report_is_refused_before_any_step(tmp_path):
    with pytest.raises(LabError, match=r"--report .*: directory .* does not exist"):
        scenario("uplink-failover", "t-pics-never", report_path=str(tmp_path / "no" / "r.html"))
    assert not NetnsProvider.exists("t-pics-never")


@requires_dot
def test_a_removed_lab_is_drawn_as_planned():
    picture, caption = scenario_picture(SCENARIO, "t-pics-gone")
    assert picture.startswith("<svg") and "as planned before the first step" in caption and "8 BGP sessions" in caption
