"""The Deadline value (lab/deadline.py) on a fake clock: nothing here sleeps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from lab.checks.base import poll
from lab.deadline import Deadline


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        assert seconds >= 0
        self.waits.append(seconds)
        self.now += seconds


def test_after_is_absolute_and_remembers_its_seconds():
    clock = FakeClock()
    d = Deadline.after(10, clock)
    assert (d.at, d.seconds) == (110.0, 10)
    clock.now = 104.5
    assert d.remaining() == 5.5 and not d.expired()
    clock.now = 110.0
    assert d.remaining() == 0.0 and d.expired()
    clock.now = 200.0
    assert d.remaining() == 0.0  # never negative


def test_of_keeps_a_deadline_and_turns_seconds_into_one():
    clock = FakeClock()
    d = Deadline.after(3, clock)
    clock.now += 2  # passing a Deadline down a call chain must not extend it
    assert Deadline.of(d, clock) is d
    assert Deadline.of(3, clock).at == clock.now + 3


def test_poll_stops_when_the_probe_holds():
    clock = FakeClock()
    values = iter([1, 2, 3, 4])
    ok, last = Deadline.after(10, clock).poll(lambda: next(values), lambda v: v == 3, 0.5, clock.wait)
    assert (ok, last) == (True, 3) and clock.waits == [0.5, 0.5]


def test_poll_runs_the_probe_once_on_an_expired_deadline():
    clock = FakeClock()
    d = Deadline.after(1, clock)
    clock.now += 5
    calls = []
    ok, last = d.poll(lambda: calls.append(1) or len(calls), lambda v: False, 0.1, clock.wait)
    assert (ok, last, calls, clock.waits) == (False, 1, [1], [])


# At most ~1,000 pauses an example, and no per-example time limit: the machine may be shared.
@settings(deadline=None)
@given(seconds=st.floats(0, 10), interval=st.floats(0.01, 5))
def test_poll_never_waits_past_the_deadline(seconds, interval):
    clock = FakeClock()
    d = Deadline.after(seconds, clock)
    ok, _ = d.poll(lambda: None, lambda v: False, interval, clock.wait)
    assert not ok
    # It gives up exactly at the deadline: no pause overshoots it, the last one is cut short.
    assert clock.now == pytest.approx(d.at, abs=1e-9)
    assert all(w <= interval for w in clock.waits)


def test_the_checks_poll_takes_a_deadline_or_seconds():
    clock = FakeClock()
    shared = Deadline.after(2, clock)
    assert poll(lambda: 0, lambda v: False, shared, 0.5, clock=clock, wait=clock.wait) == (False, 0)
    assert clock.now == 102.0
    # The same deadline again: already spent, so one probe and no wait.
    assert poll(lambda: 7, lambda v: False, shared, 0.5, clock=clock, wait=clock.wait) == (False, 7)
    assert clock.now == 102.0
    assert poll(lambda: 0, lambda v: False, 1.0, 0.5, clock=clock, wait=clock.wait) == (False, 0)
    assert clock.now == 103.0
