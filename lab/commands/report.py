"""`--report F.html` on `lab.test` and `lab.scenario`: results, the lab's picture and tables in one HTML file."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Sequence, TextIO

from ..errors import LabError
from ..report_html import Pre
from ..report_checks import test_report_html
from ..report_scenario import scenario_report_html
from .graph import draw, running_scene, svg_text

MAX_STATUS_NODES = 40  # status tables beyond this many nodes would drown the report


def reproduce_commands(lab, provider: str, names: Sequence[str], all_checks: bool, report: str) -> list[str]:
    flag = " --provider clab" if provider == "clab" else ""
    only = "" if all_checks else f" --only {','.join(names)}"
    return [f"invoke lab.up --topology {lab.topo.name} --name {lab.lab_name}{flag}",
            f"invoke lab.test --name {lab.lab_name}{flag}{only} --report {report}",
            f"invoke lab.status --name {lab.lab_name}{flag}",
            f"invoke lab.graph --name {lab.lab_name}{flag} --out {lab.lab_name}.svg",
            f"invoke lab.down --name {lab.lab_name}{flag}"]


def lab_view(lab, provider: str) -> tuple[str | None, str, list[Pre]]:
    """(SVG, caption, status blocks) of the running lab; without Graphviz the report says so instead."""
    from ..checks.sessions import status_tables
    from ..expect import expected_sessions

    scene = running_scene(lab)
    tables = status_tables(expected_sessions(scene.topo, scene.rs), scene.observed or {})
    shown = tables[: 2 * MAX_STATUS_NODES]
    more = f"\n\n({(len(tables) - len(shown)) // 2} more nodes: invoke lab.status)" if len(shown) < len(tables) else ""
    blocks = [Pre("calicoctl node status per node: planned and observed", "\n\n".join(shown) + more)] if tables else []
    picture = draw(scene, True, provider)
    caption = (f"{picture.sessions} BGP sessions, "
               + (f"{picture.down} not Established (dashed red)" if picture.down else "all Established"))
    try:
        return svg_text(picture.dot), caption, blocks
    except LabError as exc:
        return None, f"no picture: {exc}", blocks


def _write(path: str | Path, text: str, out: TextIO) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    except OSError as exc:
        raise LabError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    out.write(f"wrote {path} (open it in a browser)\n")


def write_test_report(path: str | Path, lab, provider: str, results, seconds: float, names: Sequence[str],
                      all_checks: bool, out: TextIO = sys.stdout) -> None:
    picture, caption, blocks = lab_view(lab, provider)
    text = test_report_html(lab.lab_name, provider, lab.topo.name, results, seconds, picture, caption,
                            reproduce_commands(lab, provider, names, all_checks, Path(path).name), blocks)
    _write(path, text, out)


class Tee(io.StringIO):
    """A text stream that writes through to `out` and keeps a copy: the scenario report's per-step logs.
    (A StringIO, so it is a TextIO wherever the scenario runner expects one.)"""

    def __init__(self, out: TextIO):
        super().__init__()
        self.out = out

    def write(self, text: str) -> int:
        super().write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

    def text(self) -> str:
        return self.getvalue()


def scenario_picture(sc, lab_name: str) -> tuple[str | None, str]:
    """The lab as it is after the scenario if it is still up (--keep), else the topology's plan."""
    from ..loader import load_topology
    from ..providers.netns.provider import NetnsProvider
    from .graph import live_picture, plan_scene

    if NetnsProvider.exists(lab_name):
        picture, caption = live_picture(NetnsProvider.attach(lab_name))
        return picture, f"lab {lab_name} after the last step: {caption}"
    try:
        drawn = draw(plan_scene(load_topology(sc.topology), lab_name), True)
        return svg_text(drawn.dot), (f"topology {sc.topology} as planned before the first step "
                                     f"({drawn.sessions} BGP sessions; the lab was removed at the end)")
    except LabError as exc:
        return None, f"no picture: {exc}"


def write_scenario_report(path: str | Path, sc, results, lab_name: str, seconds: float, log: str,
                          out: TextIO = sys.stdout) -> None:
    picture, caption = scenario_picture(sc, lab_name)
    from ..scenarios.model import SCENARIO_DIR

    shipped = sc.source.resolve().parent == SCENARIO_DIR.resolve()
    commands = [f"invoke lab.scenario {sc.name if shipped else sc.source} --name {lab_name} --keep "
                f"--report {Path(path).name}", f"invoke lab.down --name {lab_name}"]
    text = scenario_report_html(sc, results, lab_name, seconds, log, picture, caption, commands)
    _write(path, text, out)
