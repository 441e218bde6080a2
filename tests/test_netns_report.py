"""Reports and pictures of a real netns lab: `lab.test --report`, `lab.scenario --report`, and a
picture of the lab with one BIRD stopped and one uplink down (those sessions red).

One reference lab for the module (real namespaces, FRR, BIRD, packets); the reports are opened in
headless Chromium where it is installed. The last test takes the lab down.
"""

from __future__ import annotations

import io
import json
import time
import xml.etree.ElementTree as ET

import pytest

from lab.commands import faults as fault_cmd
from lab.commands import lab as cmd
from lab.commands.graph import graph as graph_cmd
from lab.commands.scenario import scenario as scenario_cmd
from lab.checks import Context, run_checks
from lab.graph_style import DOWN
from lab.loader import load_topology
from lab.providers.netns.provider import NetnsProvider
from browser import skip_reason as chromium_missing
from graph_helpers import SVG_NS, requires_dot, svg_groups
from netns_helpers import quiet, requires_netns, unique
from report_helpers import Tree, report_in_browser

pytestmark = [requires_netns, requires_dot, pytest.mark.netns]
LAB = unique("t-pics")
CHECKS = ["bgp-sessions", "routes", "connectivity", "ecmp", "failover", "service-advertisement"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    provider = NetnsProvider(load_topology("calico-bgp-rr"), LAB, out_dir=tmp_path_factory.mktemp("pics"))
    if provider.is_up():  # left by an earlier run that was killed
        provider.down(quiet())
    provider.up(quiet())
    yield provider
    provider.down(quiet())
    assert not NetnsProvider.exists(LAB)  # down removes the lab (here: any test order holds)


def _repaired(provider) -> None:
    """Every session back before the next test, whatever order they run in: a restarted BIRD
    may wait out its error wait (up to 30 s) before it reconnects."""
    (result,) = run_checks(Context(provider, deadline=60), ["bgp-sessions"])
    assert result.ok, f"test repair: {result.observed}"


def browser_facts(path):
    if chromium_missing():
        return None  # the HTML itself was checked; the browser part needs Chromium
    return report_in_browser(path)


def test_lab_test_report_has_every_check_its_figures_and_the_live_picture(lab, tmp_path):
    path, data = tmp_path / "r.html", tmp_path / "r.json"
    out = io.StringIO()
    code = cmd.test(None, "netns", LAB, json_path=str(data), report_path=str(path), out=out)
    assert f"wrote {path}" in out.getvalue()
    results = json.loads(data.read_text())["checks"]
    # The checks themselves are test_netns_reference's subject: here the report must say what they found.
    assert code == (0 if all(r["status"] != "FAIL" for r in results) else 1), out.getvalue()
    tree = Tree(path.read_text())
    assert tree.errors == []
    assert [tree.text(h) for h in tree.find("h3")] == CHECKS
    assert [a[1]["data-verdict"] for a in tree.find("article", "item")] == [r["status"] for r in results]
    assert f"--name {LAB}" in tree.text(tree.find("pre", "commands")[0])
    facts = browser_facts(path)
    if facts is None:
        pytest.skip(f"report checked as HTML only: {chromium_missing()}")
    items = {i["name"]: i for i in facts["items"]}
    status = {r["name"]: r["status"] for r in results}
    assert list(items) == CHECKS and all(i["badge"] == status[name] for name, i in items.items())
    if status["ecmp"] == "PASS":
        assert items["ecmp"]["splits"] == 1 and items["ecmp"]["segments"] == 2  # both uplinks carried flows
    if status["failover"] == "PASS":
        assert items["failover"]["timelines"] == 1 and items["failover"]["limits"] == 1
    assert facts["picture"]["shown"] and facts["picture"]["sessions"] == 8
    passed = sum(v == "PASS" for v in status.values())
    assert facts["pills"][0] == f"{passed} PASS" and "calicoctl node status per node: planned and observed" in facts["sectionBlocks"]


def test_scenario_report_on_the_running_lab(lab, tmp_path):
    path, data = tmp_path / "s.html", tmp_path / "s.json"
    out = io.StringIO()
    code = scenario_cmd("uplink-failover", LAB, keep=True, json_path=str(data), report_path=str(path), out=out)
    steps = json.loads(data.read_text())["checks"]
    assert len(steps) == 5
    tree = Tree(path.read_text())
    assert tree.errors == []
    assert [tree.text(h) for h in tree.find("h3")] == [s["name"] for s in steps]
    assert [a[1]["data-verdict"] for a in tree.find("article", "item")] == [s["status"] for s in steps]
    printed = "\n".join(tree.text(d) for d in tree.find("details", "block"))
    assert "== step 2/5: leaf0 uplink to spine0 down" in printed and "ip route on worker" in printed
    # Whether the steps pass is test_netns_scenarios' subject: here the report must say what they found.
    assert code == (0 if all(s["status"] != "FAIL" for s in steps) else 1), out.getvalue()
    facts = browser_facts(path)
    if facts is None:
        pytest.skip(f"report checked as HTML only: {chromium_missing()}")
    assert [i["badge"] for i in facts["items"]] == [s["status"] for s in steps] and facts["sectionCharts"] == 1
    ran = [i for i, s in zip(facts["items"], steps) if s["status"] != "SKIP"]
    assert ran and all(i["splits"] == 1 and i["timelines"] == 1 for i in ran)  # probes ran in every step that ran
    assert facts["picture"]["sessions"] == 8  # the lab after the last step, as observed
    assert facts["sections"] == ["The scenario", "Steps", "Traffic", "Reproduce"]


def _down_sessions(svg_path) -> dict[str, ET.Element]:
    root = ET.parse(svg_path).getroot()
    return {g.find(f"{SVG_NS}title").text: g for g in svg_groups(root, "session") if "down" in g.get("class").split()}


def test_a_stopped_bird_and_a_downed_uplink_draw_their_sessions_red(lab, tmp_path):
    fault_cmd.stop("worker2", LAB, out=quiet())
    fault_cmd.link("leaf0:eth1", "down", LAB, out=quiet())
    try:
        _two_sessions_drawn_red(tmp_path)
    finally:
        fault_cmd.link("leaf0:eth1", "up", LAB, out=quiet())
        fault_cmd.start("worker2", LAB, out=quiet())
        _repaired(lab)


def _two_sessions_drawn_red(tmp_path) -> None:
    path = tmp_path / "live.svg"
    deadline = time.monotonic() + 60  # hold time 3 s, generous for a shared machine
    down: dict = {}
    while time.monotonic() < deadline:
        out = io.StringIO()
        graph_cmd(None, LAB, str(path), stream=out)
        down = _down_sessions(path)
        if len(down) == 2:
            break
        time.sleep(0.5)  # a readiness poll of the picture, not a wait for a fixed time
    assert "2 not Established" in out.getvalue(), out.getvalue()
    titles = sorted(down)
    assert len(titles) == 2 and any("node_worker2" in t for t in titles), titles
    assert any("router_spine0" in t and "router_leaf0" in t for t in titles), titles
    for group in down.values():
        (edge_path,) = [p for p in group.iter(f"{SVG_NS}path")][:1]
        assert edge_path.get("stroke").upper() == DOWN and edge_path.get("stroke-dasharray")
    others = [g for g in svg_groups(ET.parse(path).getroot(), "session") if "down" not in g.get("class").split()]
    assert len(others) == 6
