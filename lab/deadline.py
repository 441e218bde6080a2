"""One type for a time bound that crosses a function: a `Deadline`.

Before it, a bound was sometimes seconds from now and sometimes an absolute
`time.monotonic()` value, and every waiting loop did its own arithmetic. A
`Deadline` is absolute (it is fixed when made, so passing it down a call chain
never extends it) and knows the seconds it was made with, for messages.

A plain number of seconds is still accepted where a bound is given from the outside
(`Deadline.of`); the clock is injectable so pure tests never sleep.

This module sits at the bottom of the package: it imports nothing from lab.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

T = TypeVar("T")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    at: float  # on `clock`'s scale
    seconds: float  # the bound it was made with (for "... within 10s" messages)
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        """The deadline `seconds` from now."""
        return cls(clock() + seconds, seconds, clock)

    @classmethod
    def of(cls, bound: Deadline | float, clock: Clock = time.monotonic) -> Deadline:
        """A Deadline as it is; a number as that many seconds from now."""
        return bound if isinstance(bound, Deadline) else cls.after(float(bound), clock)

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self.at

    def sleep(self, interval: float, wait: Callable[[float], None] = time.sleep) -> None:
        """Sleep `interval` seconds, or only what is left when that is less (a poll's pause)."""
        wait(min(interval, self.remaining()))

    def poll(self, probe: Callable[[], T], until: Callable[[T], bool], interval: float,
             wait: Callable[[float], None] = time.sleep) -> tuple[bool, T]:
        """Call `probe` until `until(value)` holds or the deadline passes; (held, last value).
        The probe runs at least once, even on an expired deadline."""
        while True:
            value = probe()
            if until(value):
                return True, value
            if self.expired():
                return False, value
            self.sleep(interval, wait)
