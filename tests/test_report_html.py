"""The HTML report's pure parts: section model in, one self-contained HTML document out.

Read back with a parser (structure, escaping) and, where Chromium is installed, in a real
headless browser (tests/browser.py): the DOM after load, no console errors, no requests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.checks.base import CheckResult
from lab.checks.failover import MAX_LOSS_WINDOW_MS
from lab.report_checks import check_figures, check_item, test_report_html as build_test_report
from lab.report_html import Item, Pre, Section, Split, Timeline, render_html
from lab.report_svg import nice_step, split_svg, timeline_svg
from browser import requires_chromium
from graph_helpers import plan_dot, requires_dot
from render_helpers import REFERENCE
from report_helpers import Tree, report_in_browser

HOSTILE = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "a & b; &amp; &#60;", "]]></svg><b>",
           "worker2' onmouseover='x", "\u202eevil\u202c ünï 日本")
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


def results() -> list[CheckResult]:
    return [
        CheckResult("bgp-sessions", "PASS", "8 sessions Established", "8 of 8 Established", 0.41,
                    {"sessions": 8}),
        CheckResult("ecmp", "PASS", "flows on both uplinks", "38/26", 3.2,
                    {"flows": 64, "split": {"eth1": 38, "eth2": 26}, "asymmetric_flows": 5, "pcap": "/x/leaf0.pcap"}),
        CheckResult("failover", "FAIL", "loss window under 1 s", "1400 ms", 6.0,
                    {"loss_window_ms": 1400.0, "lost": 70, "sent": 900, "link": "leaf0:eth1"},
                    ["leaf0: route to 10.244.1.0/26 kept one next hop", "planned:\nPEER ADDRESS | STATE"]),
        CheckResult("service-advertisement", "SKIP", "Service range advertised", "not run: failover failed", 0.0),
    ]


def report(res=None, picture=None) -> str:
    return build_test_report("t-lab", "netns", "calico-bgp-rr", res if res is not None else results(), 9.6,
                             picture, "8 BGP sessions, all Established", ["invoke lab.up", "invoke lab.down"],
                             [Pre("calicoctl node status per node", "worker | 10.1.5.1 | Established")])


# -- structure --------------------------------------------------------------------------------

def test_every_check_is_an_article_with_its_verdict_and_a_summary_link():
    tree = Tree(report())
    assert tree.errors == []
    articles = tree.find("article", "item")
    badges = [tree.text(b) for b in tree.find("span", "verdict")]
    assert badges == ["PASS", "PASS", "FAIL", "SKIP"] * 2  # in the summary's list, then on each article
    assert [a[1]["data-verdict"] for a in articles] == ["PASS", "PASS", "FAIL", "SKIP"]
    assert [tree.text(h) for h in tree.find("h3")] == [r.name for r in results()]
    ids = [a[1]["id"] for a in articles]
    assert [a[1]["href"] for a in tree.find("a")] == [f"#{i}" for i in ids] and len(set(ids)) == 4
    assert [tree.text(p) for p in tree.find("span", "pill")] == ["2 PASS", "1 FAIL", "1 SKIP"]
    assert "fail" in tree.find("header", "top")[0][1]["class"]  # one failure colours the whole report
    assert [tree.text(h) for h in tree.find("h2")] == ["The lab", "Checks", "Reproduce"]
    assert "2 passed, 1 failed, 1 skipped in 9.6 s" in tree.text(tree.find("p", "subtitle")[0])


def test_self_contained_no_script_no_external_reference():
    text = report(picture='<svg xmlns="http://www.w3.org/2000/svg"><g class="node"/></svg>')
    tree = Tree(text)
    assert not tree.find("script") and not tree.find("link") and not tree.find("img") and not tree.find("iframe")
    assert all(e[1].get("href", "#").startswith("#") for e in tree.elements if e[0] != "svg")
    assert "url(" not in text and "@import" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert tree.find("figure", "picture") and "8 BGP sessions" in tree.text(tree.find("figcaption")[0])


def test_figures_drawn_where_measured_and_the_rest_as_facts():
    by_name = {r.name: r for r in results()}
    (split,) = check_figures(by_name["ecmp"])
    assert isinstance(split, Split) and split.parts == (("eth1", 38.0), ("eth2", 26.0))
    assert "64 flows" in split.title and "5 replied via the other spine" in split.title
    (timeline,) = check_figures(by_name["failover"])
    assert isinstance(timeline, Timeline) and timeline.windows == ((0.0, 1400.0),)
    assert timeline.limit_ms == MAX_LOSS_WINDOW_MS and "leaf0:eth1 down" in timeline.title and "70 of 900" in timeline.title
    ecmp = check_item(by_name["ecmp"])
    assert dict(ecmp.facts) == {"flows": "64", "asymmetric_flows": "5", "pcap": "/x/leaf0.pcap"}  # split drawn, not listed
    assert check_figures(by_name["bgp-sessions"]) == () and dict(check_item(by_name["bgp-sessions"]).facts) == {"sessions": "8"}
    tree = Tree(report())
    assert len(tree.find("svg", "split")) == 1 and len(tree.find("svg", "timeline")) == 1
    assert len(tree.find("rect", "segment")) == 2 and len(tree.find("rect", "loss")) == 1


def test_a_failed_checks_details_start_open_the_others_closed():
    tree = Tree(report())
    blocks = tree.find("details", "block")
    by_title = {tree.text(b).split("\n")[0][:40]: b for b in blocks}
    failover = [b for b in blocks if "kept one next hop" in tree.text(b)]
    assert len(failover) == 1 and "open" in failover[0][1]
    status = [b for b in blocks if "calicoctl node status" in tree.text(b)]
    assert len(status) == 1 and "open" not in status[0][1], by_title


def test_commands_to_reproduce_are_listed_in_order():
    tree = Tree(report())
    (commands,) = tree.find("pre", "commands")
    assert tree.text(commands) == "$ invoke lab.up\n$ invoke lab.down"


def test_duplicate_names_get_distinct_anchors_and_unknown_verdicts_count_as_failures():
    items = (Item("x", "PASS"), Item("x", "PASS"), Item("X!", "ERROR"))
    tree = Tree(render_html("t", [Section("s", items=items)]))
    ids = [a[1]["id"] for a in tree.find("article")]
    assert len(set(ids)) == 3
    assert [tree.text(p) for p in tree.find("span", "pill")] == ["2 PASS", "1 FAIL"]
    assert "fail" in tree.find("article")[2][1]["class"] and tree.find("article")[2][1]["data-verdict"] == "ERROR"


def test_an_empty_report_still_renders():
    tree = Tree(render_html("nothing", []))
    assert tree.errors == [] and not tree.find("ol", "toc") and not tree.find("span", "pill")


def test_an_unknown_figure_is_refused():
    with pytest.raises(TypeError, match="Split or Timeline"):
        render_html("t", [Section("s", items=(Item("a", "PASS", figures=("42%",)),))])


# -- escaping -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_text_everywhere(name):
    res = [CheckResult(name, "FAIL", name, name, 1.0, {name: name, "split": {name: 3, "b": 1}, "loss_window_ms": 5},
                       [name])]
    text = build_test_report(name, "netns", name, res, 1.0, None, name, [name], [Pre(name, name)])
    tree = Tree(text)
    assert tree.errors == []
    assert not tree.find("script") and not tree.find("img") and not tree.find("b")
    assert [tree.text(h) for h in tree.find("h3")] == [name]
    assert tree.text(tree.find("title")[0]) == f"lab.test · {name}"
    assert all(not k.startswith("on") for _, attrs in tree.elements for k in attrs)
    for svg in (split_svg(name, [(name, 1)], name), timeline_svg(name, 10, [(1, 2)], [(3, name)], 5, name)):
        ET.fromstring(svg)  # still well-formed XML


@settings(max_examples=60, deadline=None)
@given(name=TEXT, detail=TEXT.filter(bool), label=TEXT, value=st.floats(min_value=0, max_value=1e9))
def test_any_text_round_trips_through_the_html(name, detail, label, value):
    item = Item(name, "PASS", expected=detail, figures=(Split(label, ((label, value), ("other", 1.0))),),
                blocks=(Pre(label, detail),), facts=((label, detail),))
    text = render_html(name, [Section(label, text=detail, items=(item,), commands=(detail,))])
    tree = Tree(text)
    assert tree.errors == []
    assert [tree.text(h) for h in tree.find("h3")] == [name]
    assert tree.text(tree.find("dd")[0]) == detail
    assert tree.text(tree.find("th")[0]) == label
    assert tree.text(tree.find("pre", "commands")[0]) == f"$ {detail}"
    (legend, _) = [tree.text(t) for t in tree.find("text", "legend")]
    assert legend.startswith(f"{label}: ")


# -- the figures --------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.tuples(TEXT, st.floats(min_value=0, max_value=1e6)), max_size=9))
def test_split_bar_segments_fill_the_bar_in_proportion(parts):
    root = ET.fromstring(split_svg("t", parts, "flows"))
    ns = "{http://www.w3.org/2000/svg}"
    segments = [r for r in root.iter(f"{ns}rect") if r.get("class") == "segment"]
    total = sum(v for _, v in parts)
    assert len(segments) == sum(1 for _, v in parts if total > 0 and 420 * v / total > 0)
    if segments:
        assert abs(sum(float(r.get("width")) for r in segments) - 412) < 0.1 * len(segments) + 0.5
    legends = [t for t in root.iter(f"{ns}text") if t.get("class") == "legend"]
    assert len(legends) == len(parts)
    if total <= 0:
        assert any(t.text == "no data" for t in root.iter(f"{ns}text"))


@settings(max_examples=60, deadline=None)
@given(span=st.floats(min_value=0.001, max_value=1e7),
       windows=st.lists(st.tuples(st.floats(0, 1e7), st.floats(0, 1e7)), max_size=6))
def test_timeline_draws_each_window_inside_the_axis(span, windows):
    windows = [(min(a, b), max(a, b)) for a, b in windows]
    root = ET.fromstring(timeline_svg("t", span, windows, [(span / 2, "link down")], span / 3))
    ns = "{http://www.w3.org/2000/svg}"
    losses = [r for r in root.iter(f"{ns}rect") if r.get("class") == "loss"]
    assert len(losses) == len(windows)
    for rect in losses:
        assert 8 <= float(rect.get("x")) <= 546 + 0.05
    assert len([l for l in root.iter(f"{ns}line") if l.get("class") == "limit"]) == 1
    assert len([l for l in root.iter(f"{ns}line") if l.get("class") == "mark"]) == 1


@given(span=st.floats(min_value=1e-6, max_value=1e9))
def test_axis_step_is_1_2_or_5_times_a_power_of_ten_with_a_few_ticks(span):
    step = nice_step(span)
    assert 1 <= span / step <= 7
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    assert round(mantissa, 6) in (1, 2, 5, 10)


# -- in a real browser ----------------------------------------------------------------------------

@requires_chromium
@requires_dot
def test_report_in_headless_chromium_shows_every_check_figure_and_the_picture(tmp_path):
    from lab.commands.graph import svg_text

    res = results() + [CheckResult(HOSTILE[0], "PASS", HOSTILE[1], HOSTILE[2], 0.1, {"x": HOSTILE[3]})]
    path = tmp_path / "report.html"
    path.write_text(report(res, picture=svg_text(plan_dot(REFERENCE))))
    facts = report_in_browser(path)
    assert facts["title"] == "lab.test · t-lab" and facts["sections"] == ["The lab", "Checks", "Reproduce"]
    assert [i["name"] for i in facts["items"]] == [r.name for r in res]
    assert [i["badge"] for i in facts["items"]] == [r.status for r in res]
    assert facts["pills"] == ["3 PASS", "1 FAIL", "1 SKIP"] and "fail" in facts["overall"]
    items = {i["name"]: i for i in facts["items"]}
    assert items["ecmp"]["splits"] == 1 and items["ecmp"]["segments"] == 2
    assert items["failover"]["timelines"] == 1 and items["failover"]["losses"] == 1 and items["failover"]["limits"] == 1
    assert items["failover"]["open"] == 1 and items[HOSTILE[0]]["facts"] == {"x": HOSTILE[3]}
    assert items[HOSTILE[0]]["expected"] == HOSTILE[1]  # shown as text, never run
    assert facts["picture"]["shown"] and facts["picture"]["nodes"] >= 4 + 2 + 4 and facts["picture"]["sessions"] == 8
    assert facts["commands"] == "$ invoke lab.up\n$ invoke lab.down"


@requires_dot
def test_a_clab_labs_report_reads_it_through_the_clab_access(tmp_path, capsys):
    """By contract (a dry-run clab lab: nothing answers): the picture has every session, none Established."""
    from lab.commands.report import lab_view, reproduce_commands
    from lab.loader import load_topology
    from lab.providers.clab.provider import ClabProvider

    lab = ClabProvider(load_topology(REFERENCE), out_dir=tmp_path, dry_run=True)
    picture, caption, blocks = lab_view(lab, "clab")
    asked = capsys.readouterr().out
    assert "birdcl -s /var/run/calico/bird.ctl show protocols" in asked and "vtysh -c 'show bgp summary json'" in asked
    assert caption == "8 BGP sessions, 8 not Established (dashed red)"
    assert ">net0<" in picture and ">eth0<" not in picture  # the kind node's fabric interface in clab
    assert [b.title for b in blocks] == ["calicoctl node status per node: planned and observed"]
    commands = reproduce_commands(lab, "clab", ["ecmp"], False, "r.html")
    assert commands[0] == "invoke lab.up --topology calico-bgp-rr --name calico-bgp-rr --provider clab"
    assert "invoke lab.test --name calico-bgp-rr --provider clab --only ecmp --report r.html" in commands


def test_lab_test_refuses_an_unwritable_report_before_running_anything(tmp_path):
    from lab.commands.lab import test as lab_test
    from lab.errors import LabError

    with pytest.raises(LabError, match=r"^--report .*r\.html: directory .* does not exist$"):
        lab_test(None, "netns", "t-pics-nolab", report_path=str(tmp_path / "missing" / "r.html"))
    with pytest.raises(LabError, match="is a directory"):
        lab_test(None, "netns", "t-pics-nolab", report_path=str(tmp_path))
