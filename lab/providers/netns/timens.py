"""Each BIRD on a clock of its own: one time namespace per speaker, with a sub-second offset.

Why: BIRD 1.x keeps time in whole seconds (`now` is CLOCK_MONOTONIC truncated to the second)
and its connect and error-wait timers fire on those seconds. Every BIRD of a lab reads the
one CLOCK_MONOTONIC of the host, so all of them tick in the same instant. When both ends of
a session reconfigure at once and their OPENs cross (Calico's `Node_` sessions connect from
both ends), both retry in the same instant again and again: sessions stayed Active for 60 s
and more here. Real nodes are separate machines whose seconds start at unrelated instants.
A time namespace (Linux 5.6, CONFIG_TIME_NS) with a CLOCK_MONOTONIC offset of a fraction of
a second gives each speaker that: its own phase, as on a node of its own. CLOCK_REALTIME
(log timestamps) is not affected; BFD, FRR and the probes keep the host's clock.

How: unshare(CLONE_NEWTIME) only changes the namespace the calling *thread's* future
children get, and /proc/<tid>/timens_offsets sets that namespace's offsets until a process
enters it. So the fork happens on a short-lived thread of its own that makes a fresh
namespace, sets its offset and starts the process; every other thread (and every other
child) keeps the host's clock.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Callable, TypeVar

__all__ = ["offset_ns", "run_with_clock_offset", "supported"]

CLONE_NEWTIME = 0x00000080
GOLDEN = 0.6180339887498949
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


def offset_ns(index: int) -> int:
    """The clock offset of the `index`-th speaker of a lab, in nanoseconds within one second.

    Golden-ratio steps spread any first n speakers evenly over the second (the closest two of
    five are ~0.15 s apart, of 1,000 ~0.4 ms), so no two speakers of a small lab share a phase;
    deterministic, so a lab's clocks are the same on every run and in its state file."""
    if index < 0:
        raise ValueError("a speaker index is >= 0")
    return int(((index + 1) * GOLDEN) % 1.0 * 1_000_000_000)


_supported: bool | None = None


def supported() -> bool:
    """Whether this kernel gives the lab time namespaces (tried once on a throw-away thread)."""
    global _supported
    if _supported is None:
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(_unshare_time(0) is None), daemon=True)
        thread.start()
        thread.join()
        _supported = bool(result and result[0])
    return _supported


def _unshare_time(offset: int) -> OSError | None:
    """On the calling thread: a new time namespace for its children, CLOCK_MONOTONIC shifted
    by `offset` ns. Returns the error instead of raising (the caller decides)."""
    if _libc.unshare(CLONE_NEWTIME) != 0:
        code = ctypes.get_errno()
        return OSError(code, os.strerror(code))
    try:
        # /proc/<tid>, not /proc/self: the namespace belongs to this thread, not the process.
        with open(f"/proc/{threading.get_native_id()}/timens_offsets", "w") as offsets:
            offsets.write(f"monotonic 0 {offset}\nboottime 0 {offset}\n")
    except OSError as e:
        return e
    return None


def run_with_clock_offset(offset: int, start: Callable[[], T]) -> T:
    """`start()` (which forks the process) on a fresh thread whose children get CLOCK_MONOTONIC
    shifted by `offset` ns; its result or error as if called here. Without time namespace
    support in the kernel, `start()` runs with the host's clock (see `supported`)."""
    if not 0 <= offset < 1_000_000_000:
        raise ValueError(f"a clock offset is 0..999999999 ns, not {offset}")
    if not supported():
        return start()
    outcome: list = []

    def body() -> None:
        error = _unshare_time(offset)
        if error is not None:
            outcome.append((False, error))
            return
        try:
            outcome.append((True, start()))
        except BaseException as e:  # re-raised on the caller's thread
            outcome.append((False, e))

    thread = threading.Thread(target=body, name="timens-start", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
