"""Loss per segment and pair from probe logs (pure): synthetic logs, then properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.probes.analysis import Probe, analyze, format_report, parse_marks, parse_probe_log, totals


def _log(sent_times, lost, dst="10.0.0.2"):
    lines = []
    for seq, t in enumerate(sent_times):
        lines.append(f"s {t:.6f} {dst} {seq}")
        if seq not in lost:
            lines.append(f"r {t + 0.001:.6f} {dst} {seq}")
    return "\n".join(lines)


def test_parse_log_names_pairs_and_skips_torn_lines():
    text = "ready probe\ns 100.0 10.0.0.2 0\nr 100.001 10.0.0.2 0\ns 100.02 10.0.0.2 1\ns 100.04 10.0.0.2"
    sent, received = parse_probe_log(text, "a", {"10.0.0.2": "b"})
    assert [p.seq for p in sent] == [0, 1]
    assert received == {("a->b", 0): 100.001}
    assert sent[0].pair == "a->b"


def test_segments_between_marks_count_sent_lost_and_outage():
    times = [100 + i * 0.01 for i in range(300)]  # 3 s, 10 ms apart
    lost = set(range(120, 170))  # 50 probes lost from t=101.2 to 101.69; next delivered at 101.70
    sent, received = parse_probe_log(_log(times, lost), "a", {"10.0.0.2": "b"})
    marks = parse_marks("101.0 link down\n102.0 link up\n")
    segs = analyze(sent, received, marks, 100.0, 103.0)
    assert [s.label for s in segs] == ["start", "link down", "link up"]
    assert [s.sent for s in segs] == [100, 100, 100]
    assert [s.lost for s in segs] == [0, 50, 0]
    assert segs[1].max_outage_ms == 500.0
    assert segs[1].worst_pair() == "a->b" and segs[0].worst_pair() is None
    assert totals(segs) == {"sent": 300, "lost": 50, "max_outage_ms": 500.0}
    assert "50 lost" in format_report(segs)


def test_outage_running_to_segment_end_and_into_the_next():
    times = [10 + i * 0.1 for i in range(40)]  # 4 s
    lost = set(range(15, 40))  # lost from t=11.5 to the end
    sent, received = parse_probe_log(_log(times, lost), "a")
    segs = analyze(sent, received, [(12.0, "m")], 10.0, 14.0)
    assert segs[0].max_outage_ms == 500.0  # 11.5 .. the segment end at 12.0
    assert segs[1].max_outage_ms == 2000.0  # the whole second segment
    assert segs[1].lost == segs[1].sent == 20


def test_probes_after_the_horizon_are_not_judged():
    sent = [Probe("a->b", 0, 1.0), Probe("a->b", 1, 2.0)]
    segs = analyze(sent, {("a->b", 0): 1.01}, [], 0.0, 1.5)
    assert segs[0].sent == 1 and segs[0].lost == 0


probe_sets = st.lists(st.tuples(st.sampled_from(["a->b", "b->a", "a->c"]),
                                st.floats(min_value=0, max_value=100, allow_nan=False), st.booleans()),
                      max_size=200)


@settings(max_examples=300, deadline=None)
@given(probe_sets, st.lists(st.floats(min_value=-10, max_value=110, allow_nan=False), max_size=6),
       st.floats(min_value=0, max_value=50, allow_nan=False), st.floats(min_value=0, max_value=120, allow_nan=False))
def test_properties(items, mark_times, start, end):
    sent = [Probe(pair, seq, t) for seq, (pair, t, _) in enumerate(items)]
    received = {(pair, seq): t for seq, (pair, t, ok) in enumerate(items) if ok}
    segs = analyze(sent, received, [(t, f"m{i}") for i, t in enumerate(mark_times)], start, end)
    assert len(segs) == len(mark_times) + 1
    judged = [p for p in sent if start <= p.sent < max(start, end)]
    assert sum(s.sent for s in segs) == len(judged)
    for seg in segs:
        assert seg.start <= seg.end
        for stats in seg.pairs.values():
            assert 0 <= stats.lost <= stats.sent
            assert 0 <= stats.longest_outage_ms <= (seg.end - seg.start) * 1000 + 0.1
            if stats.lost == 0:
                assert stats.longest_outage_ms == 0


def _session(tmp_path, lines, interval_ms=10):
    """A traffic session on disk as the probes write it (one source pod, one destination)."""
    import json
    from types import SimpleNamespace

    from lab.probes.session import Traffic

    traffic = Traffic(SimpleNamespace(run_dir=tmp_path, lab_name="t"))
    traffic.dir.mkdir()
    traffic.session_path.write_text(json.dumps({"pairs": ["a->b"], "interval_ms": interval_ms, "started": 0,
                                                "names": {"10.0.0.2": "b"}, "sources": ["a"], "processes": []}))
    traffic.probe_log("a").write_text("".join(f"{kind} {stamp:.6f} 10.0.0.2 {seq}\n" for kind, stamp, seq in lines))
    return traffic


def test_wait_judged_does_not_wait_for_probes_lost_long_ago(tmp_path):
    import time

    now = time.time()
    # Probe 1 was lost 5 s ago (judged long since); probe 2, just sent, was answered.
    traffic = _session(tmp_path, [("s", now - 5, 1), ("s", now - 0.01, 2), ("r", now - 0.005, 2)])
    started = time.monotonic()
    traffic.wait_judged(now)
    assert time.monotonic() - started < 0.15  # it used to wait the whole grace time (0.3 s) here


def test_wait_judged_waits_out_the_grace_of_a_recent_unanswered_probe(tmp_path):
    import time

    now = time.time()
    traffic = _session(tmp_path, [("s", now - 0.01, 1)])
    started = time.monotonic()
    traffic.wait_judged(now)
    waited = time.monotonic() - started
    assert 0.25 <= waited < 0.6  # grace is 0.3 s from its send time: in flight until then, lost after
