"""The bgp-sessions comparison: keyed by (target, protocol), checks type (via the name), AS, state, Idle duplicates."""

from __future__ import annotations

from lab.checks.observe import ObservedSession
from lab.checks.sessions import compare, status_tables
from lab.expect import ExpectedSession


def bird(target, peer, protocol, peer_type="node specific", asn=64512, holds=True):
    return ExpectedSession(target, peer, asn, "bird", protocol, peer_type, holds)


PLAN = [bird("n0", "10.0.0.11", "Mesh_10_0_0_11", "node-to-node mesh"),
        bird("n0", "10.0.0.11", "Global_10_0_0_11", "global", holds=False),
        ExpectedSession("leaf0", "10.0.0.10", 65005, "frr")]
GOOD = {"n0": [ObservedSession("10.0.0.11", "Established", "Mesh_10_0_0_11", 64512),
               ObservedSession("10.0.0.11", "Idle", "Global_10_0_0_11", 64512)],
        "leaf0": [ObservedSession("10.0.0.10", "Established", "n0", 65005)]}


def test_converged_with_an_idle_duplicate_passes():
    assert compare(PLAN, GOOD) == []
    table = "\n".join(status_tables(PLAN, GOOD))
    assert "| 10.0.0.11    | global            | start | -     | Idle" in table


def test_duplicate_established_wrong_type_wrong_as_extra_and_dead():
    bad = {"n0": [ObservedSession("10.0.0.11", "Established", "Mesh_10_0_0_11", 64512),
                  ObservedSession("10.0.0.11", "Established", "Global_10_0_0_11", 64512),
                  ObservedSession("10.0.0.12", "Established", "Node_10_0_0_12", 64512)],
           "leaf0": [ObservedSession("10.0.0.10", "Established", "n0", 65099)]}
    problems = compare(PLAN, bad)
    assert any("Global_10_0_0_11 (global) to 10.0.0.11 is Established" in p and "start/Idle" in p for p in problems)
    assert any("unexpected protocol Node_10_0_0_12" in p for p in problems)
    assert any("leaf0: session to 10.0.0.10 has peer AS 65099, planned 65005" in p for p in problems)
    typed = {"n0": [ObservedSession("10.0.0.11", "Established", "Node_10_0_0_11", 64512),
                    ObservedSession("10.0.0.11", "Idle", "Global_10_0_0_11", 64512)], "leaf0": GOOD["leaf0"]}
    problems = compare(PLAN, typed)
    assert "n0: no Mesh_10_0_0_11 (node-to-node mesh) to 10.0.0.11 configured" in problems
    assert any("unexpected protocol Node_10_0_0_11" in p for p in problems)
    dead = {"n0": [ObservedSession("?", "no answer: birdc failed")], "leaf0": GOOD["leaf0"]}
    assert compare(PLAN, dead) == ["n0: no answer: birdc failed"]
    down = {**GOOD, "n0": [GOOD["n0"][0].__class__("10.0.0.11", "Active", "Mesh_10_0_0_11", 64512), GOOD["n0"][1]]}
    assert compare(PLAN, down) == ["n0: Mesh_10_0_0_11 (node-to-node mesh) to 10.0.0.11 is Active"]
