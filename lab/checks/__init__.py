"""The checks `lab.test` runs, in order, against any provider's running lab."""

from __future__ import annotations

import time
from typing import Callable, Sequence

from ..errors import LabError
from . import connectivity, ecmp, failover, routes, service, sessions
from .base import FAIL, CheckResult, Context

CHECKS: dict[str, Callable[[Context], CheckResult]] = {
    sessions.NAME: sessions.run,
    routes.NAME: routes.run,
    connectivity.NAME: connectivity.run,
    ecmp.NAME: ecmp.run,
    failover.NAME: failover.run,
    service.NAME: service.run,
}


def select(only: str | Sequence[str] | None) -> list[str]:
    if not only:
        return list(CHECKS)
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise LabError(f"unknown check(s) {', '.join(unknown)}; checks are: {', '.join(CHECKS)}")
    return names


def run_checks(ctx: Context, names: Sequence[str], on_result: Callable[[CheckResult], object] | None = None) -> list[CheckResult]:
    results = []
    for name in names:
        started = time.monotonic()
        # A daemon of the lab is gone: every probe would wait out its deadline, so say why at once.
        dead = ctx.dead_daemons()
        try:
            if dead:
                result = CheckResult(name, FAIL, "every daemon of the lab running", dead[0].split(" (")[0]
                                     + (f" (and {len(dead) - 1} more)" if len(dead) > 1 else ""), details=dead)
            else:
                result = CHECKS[name](ctx)
        except LabError as exc:
            result = CheckResult(name, FAIL, "the check to run", f"error: {exc}")
        result.seconds = round(time.monotonic() - started, 2)
        results.append(result)
        if on_result:
            on_result(result)
    return results
