"""Scenario files: every shipped one loads; bad files give one file:line: field: problem error."""

from __future__ import annotations

import textwrap

import pytest

from lab.errors import LabError
from lab.scenarios.model import ScenarioError, list_scenarios, load_scenario
from lab.scenarios.observe import Names, judge_routes, judge_sessions
from lab.calico.status import StatusRow
from lab.checks.observe import parse_ip_routes
from lab.loader import load_topology

SHIPPED = {"mesh-to-rr", "mesh-to-rr-wrong-order", "rr-redundancy", "rack-rr", "external-rr-cutover",
           "three-rrs", "ip-pool-migration", "uplink-failover", "service-advertisement"}


def test_every_shipped_scenario_loads_and_names_an_existing_topology():
    names = {p.stem for p in list_scenarios()}
    assert SHIPPED <= names
    for path in list_scenarios():
        sc = load_scenario(path)
        assert sc.name == path.stem
        load_topology(sc.topology)
        assert sc.description.strip()


def _write(tmp_path, body: str):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """\
name: t
topology: calico-fullmesh
steps:
  - name: one
"""


@pytest.mark.parametrize("body, where", [
    (GOOD + "    link: worker eth0\n", ":5: steps[0].link: expected 'TARGET:IFACE down|up'"),
    (GOOD + "    wait: {sessions: up}\n", ":5: steps[0].wait.sessions: 'up'"),
    (GOOD + "    wait: {seconds: 1, routes: converged}\n", ":5: steps[0].wait.seconds: wait either"),
    (GOOD + "    expect: {max_outage: 3}\n", ":5: steps[0].expect.max_outage: unknown field (did you mean 'max_outage_ms'?)"),
    (GOOD + "    link: a:b up\n    stop: rr1\n", ":6: steps[0].stop: one action per step"),
    (GOOD + "    calicoctl: {patch: x}\n", ":5: steps[0].calicoctl: an inline document goes under one verb"),
    (GOOD + "    check: [ecmpp]\n", ":5: steps[0].check: unknown check(s) ecmpp"),
    (GOOD + "    netem: {iface: 'w:eth0', delay_ms: 5, jitter_ms: 9}\n", ":5: steps[0].netem.jitter_ms: jitter 9 ms is larger"),
    (GOOD + "    expect:\n      routes:\n        worker: {present: [{dst: 10.0.0.300/24}]}\n",
     ":7: steps[0].expect.routes.worker.present[0].dst: '10.0.0.300/24' is not an IPv4 network"),
    (GOOD + "    expect:\n      sessions:\n        worker: [{peer: x, type: mesh}]\n",
     ":7: steps[0].expect.sessions.worker[0].type: 'mesh' is not a peer type"),
    (GOOD, ":4: steps[0]: a step needs an action"),
    ("name: t\ntopology: x\nsteps: []\n", ":3: steps: a scenario needs at least one step"),
    ("name: Bad_Name\ntopology: x\nsteps: [{name: a, link: 'a:b up'}]\n", ":1: name: 'Bad_Name'"),
    ("name: t\ntopology: x\ntrafic: off\nsteps: [{name: a, link: 'a:b up'}]\n", ":3: trafic: unknown field (did you mean 'traffic'?)"),
    ("name: t\ntopology: x\ntraffic: off\nsteps:\n  - {name: a, link: 'a:b up', expect: {max_outage_ms: 0}}\n",
     ":5: steps[0].expect: max_outage_ms/min_outage_ms need traffic"),
    ("name: t\n  topology: [\n", ":2: YAML syntax error"),
])
def test_bad_scenarios(tmp_path, body, where):
    path = _write(tmp_path, body)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert f"{path}{where}" in str(err.value)


def test_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="known: .*mesh-to-rr"):
        load_scenario("no-such-scenario")


def test_good_scenario_parses_actions(tmp_path):
    sc = load_scenario(_write(tmp_path, GOOD + "    stop: {target: rr1, kill: true}\n"
                                        "    wait: {expect: true, deadline: 5}\n"
                                        "    expect: {routes: {worker: {absent: [10.96.0.0/16]}}}\n"))
    step = sc.steps[0]
    assert step.action.args == {"target": "rr1", "kill": True}
    assert step.wait.expect and step.wait.deadline == 5
    assert step.expect.absent["worker"][0].dst == "10.96.0.0/16"


def test_judging_sessions_and_routes():
    names = Names(load_topology("calico-fullmesh"))
    rows = [StatusRow("10.2.0.10", "node-to-node mesh", "up", "x", "Established"),
            StatusRow("10.2.0.12", "node specific", "start", "x", "Active Socket: closed")]
    from lab.scenarios.model import RouteSpec, SessionSpec

    assert judge_sessions("worker", [SessionSpec("control-plane", "node-to-node mesh", "Established"),
                                     SessionSpec("worker2", "node specific", "start")], rows, names) == []
    problems = judge_sessions("worker", [SessionSpec("control-plane", "node-to-node mesh", "Established")], rows, names)
    assert problems == ["worker: unexpected node specific session to 10.2.0.12 (start Active Socket: closed)"]
    assert "not running" in judge_sessions("worker", [], None, names)[0]
    routes = parse_ip_routes('[{"dst": "10.244.0.128/26", "gateway": "10.2.0.12", "protocol": "bird"},'
                             ' {"dst": "10.244.0.0/26", "type": "unreachable", "protocol": "bird"}]')
    from ipaddress import IPv4Network

    blocks = {"worker2": {IPv4Network("10.244.0.128/26")}, "control-plane": {IPv4Network("10.244.0.0/26")}}
    assert judge_routes("worker", [RouteSpec(blocks_of="worker2", via=("worker2",))],
                        [RouteSpec(blocks_of="control-plane")], routes, blocks, names) == []
    bad = judge_routes("worker", [RouteSpec(blocks_of="control-plane"), RouteSpec(blocks_of="worker2", via=("worker3",))],
                       [RouteSpec(dst="10.244.0.128/26")], routes, blocks, names)
    assert len(bad) == 3
    with pytest.raises(LabError):
        names.address("nope")


@pytest.mark.parametrize("keep, removed", [(False, ["s-upfails"]), (True, [])])
def test_a_lab_the_run_could_not_bring_up_is_removed_unless_kept(monkeypatch, keep, removed):
    import io

    from lab.commands import lab as commands
    from lab.errors import LabError
    from lab.providers.netns import provider
    from lab.scenarios import runner
    from lab.scenarios.model import load_scenario

    def failing_up(*args, **kwargs):
        raise LabError("step 6/6 'wait for every planned BGP session and pod route' failed: not converged after 30s")

    gone = []
    monkeypatch.setattr(commands, "up", failing_up)
    monkeypatch.setattr(provider.NetnsProvider, "exists", staticmethod(lambda name: False))
    monkeypatch.setattr(provider, "remove_lab", lambda name, out: gone.append(name))
    with pytest.raises(LabError, match="not converged"):
        runner.run_scenario(load_scenario("mesh-to-rr"), "s-upfails", keep=keep, out=io.StringIO())
    assert gone == removed


def test_a_step_waiting_for_its_outage_never_takes_the_previous_steps_segment_for_its_own():
    # For the grace time after a step's mark, the last judged segment is still the previous
    # step's; its outage (1,800 ms here) must not satisfy this step's min_outage_ms.
    from types import SimpleNamespace

    from lab.probes.analysis import Segment
    from lab.scenarios import runner
    from lab.scenarios.spec import Expect, Step

    class Traffic:
        def __init__(self, segments):
            self.segs = segments

        def segments(self):
            return self.segs

    def seg(start, outage_ms):
        return Segment(0, "x", start, start + 1, {"a->b": SimpleNamespace(longest_outage_ms=outage_ms)})

    step = Step("s", 1, expect=Expect(min_outage_ms=400))
    r = runner.Run.__new__(runner.Run)
    r.step_started = 100.0
    r.traffic = Traffic([seg(90.0, 1800.0)])
    assert r.outage_so_far(step) == ["no probe of this step judged yet (outage wanted: 400 ms)"]
    r.traffic = Traffic([seg(90.0, 1800.0), seg(100.0, 120.0)])
    assert r.outage_so_far(step) == ["outage so far 120 ms < 400 ms"]
    r.traffic = Traffic([seg(90.0, 1800.0), seg(100.0, 450.0)])
    assert r.outage_so_far(step) == []
