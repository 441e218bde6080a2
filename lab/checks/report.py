"""The `lab.test` report: one line per check for people, JSON and JUnit XML for machines."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from .base import FAIL, SKIP, CheckResult


def line(result: CheckResult) -> str:
    return (f"{result.status:4}  {result.name:22} {result.seconds:6.2f}s  "
            f"expected: {result.expected}\n{'':36}observed: {result.observed}")


def text_report(results: Sequence[CheckResult], lab: str, seconds: float) -> str:
    failed = [r for r in results if r.status == FAIL]
    lines = []
    for r in failed:
        lines.append(f"--- {r.name}: details")
        lines.extend(f"  {d}" for d in r.details[:40])
    passed = sum(1 for r in results if r.status == "PASS")
    skipped = sum(1 for r in results if r.status == SKIP)
    lines.append(f"{passed} passed, {len(failed)} failed, {skipped} skipped in {seconds:.1f}s (lab {lab})")
    return "\n".join(lines)


def to_json(results: Sequence[CheckResult], lab: str, seconds: float) -> dict:
    return {"lab": lab, "seconds": round(seconds, 2), "passed": all(r.ok for r in results),
            "checks": [asdict(r) for r in results]}


def write_json(path: str | Path, results: Sequence[CheckResult], lab: str, seconds: float) -> None:
    Path(path).write_text(json.dumps(to_json(results, lab, seconds), indent=2, default=str) + "\n")


def write_junit(path: str | Path, results: Sequence[CheckResult], lab: str, seconds: float) -> None:
    suite = ET.Element("testsuite", name=f"fabriclab.{lab}", tests=str(len(results)),
                       failures=str(sum(r.status == FAIL for r in results)),
                       skipped=str(sum(r.status == SKIP for r in results)), time=f"{seconds:.2f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"fabriclab.{lab}", name=r.name, time=f"{r.seconds:.2f}")
        if r.status == FAIL:
            failure = ET.SubElement(case, "failure", message=r.observed)
            failure.text = "\n".join([f"expected: {r.expected}", f"observed: {r.observed}", *r.details])
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", message=r.observed)
        props = ET.SubElement(case, "properties")
        for key, value in r.figures.items():
            ET.SubElement(props, "property", name=key, value=json.dumps(value, default=str))
        out = ET.SubElement(case, "system-out")
        out.text = f"expected: {r.expected}\nobserved: {r.observed}"
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
