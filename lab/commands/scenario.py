"""`invoke lab.scenario NAME|PATH` and `lab.scenario --list`."""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import LabError


def list_all(out: TextIO = sys.stdout) -> int:
    from ..scenarios.model import list_scenarios, load_scenario

    for path in list_scenarios():
        try:
            sc = load_scenario(path)
            first = sc.description.strip().splitlines()[0] if sc.description.strip() else ""
            out.write(f"{sc.name:24} {sc.topology:22} {len(sc.steps):2} steps  {first}\n")
        except LabError as exc:
            out.write(f"{path.stem:24} error: {exc}\n")
    return 0


def scenario(name_or_path: str | None, name: str | None = None, keep: bool = False, json_path: str | None = None,
             junit_path: str | None = None, report_path: str | None = None, list_: bool = False,
             out: TextIO = sys.stdout) -> int:
    from ..checks.report import text_report, write_json, write_junit
    from ..preflight import require_root
    from ..scenarios.model import load_scenario
    from ..scenarios.runner import run_scenario

    if list_:
        if name_or_path:
            raise LabError("--list takes no scenario")
        return list_all(out)
    if not name_or_path:
        raise LabError("which scenario? `invoke lab.scenario NAME|PATH` (`invoke lab.scenario --list` shows them)")
    sc = load_scenario(name_or_path)  # every problem in the file before anything runs
    require_root()
    from .lab import _require_writable

    for option, path in (("--json", json_path), ("--junit", junit_path), ("--report", report_path)):
        _require_writable(option, path)  # before the steps: minutes of steps must not end in "cannot write"
    tee = None
    if report_path:
        from .report import Tee

        out = tee = Tee(out)  # the report keeps what each step printed (tables, route diffs)
    out.write(f"scenario {sc.name}: {sc.description.strip()}\n")
    results, lab_name, seconds = run_scenario(sc, name, keep, out)
    out.write("\n" + text_report(results, lab_name, seconds).replace(" passed", " steps passed", 1) + "\n")
    if json_path:
        write_json(json_path, results, lab_name, seconds)
    if junit_path:
        write_junit(junit_path, results, lab_name, seconds)
    if report_path and tee is not None:
        from .report import write_scenario_report

        write_scenario_report(report_path, sc, results, lab_name, seconds, tee.text(), tee.out)
    return 0 if all(r.ok for r in results) else 1
