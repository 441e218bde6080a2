"""Benchmark: shipped scenarios with every BIRD on the host's one clock vs each on its own.

    sudo .venv/bin/python bench/clocks.py [--runs 3] [--scenarios mesh-to-rr,three-rrs]

Runs each scenario `--runs` times in each mode, alternating the modes (so both see the same
machine load), and prints per run the scenario's duration and its slowest step, then the
median per scenario and mode. "shared" starts BIRD without a time namespace (what the lab did
before lab/providers/netns/timens.py); "own" is the lab as it is. Every run uses a lab name of
its own and takes its lab down.
"""

from __future__ import annotations

import argparse
import io
import secrets
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.providers.netns import timens  # noqa: E402
from lab.scenarios.model import load_scenario  # noqa: E402
from lab.scenarios.runner import run_scenario  # noqa: E402


def one_run(name: str, lab: str, shared: bool) -> tuple[float, float, bool]:
    real = timens.supported
    if shared:
        timens.supported = lambda: False  # type: ignore[assignment]
    try:
        results, _, seconds = run_scenario(load_scenario(name), lab, keep=False, out=io.StringIO())
    finally:
        timens.supported = real  # type: ignore[assignment]
    slowest = max((r.seconds for r in results), default=0.0)
    return seconds, slowest, all(r.ok for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="mesh-to-rr,mesh-to-rr-wrong-order,three-rrs,rr-redundancy")
    args = parser.parse_args()
    token = secrets.token_hex(2)
    figures: dict[tuple[str, str], list[float]] = {}
    print(f"{'scenario':<24} {'clock':<7} {'run':>3} {'seconds':>8} {'slowest step':>13}  result")
    for name in args.scenarios.split(","):
        for run in range(1, args.runs + 1):
            for mode in ("shared", "own"):
                lab = f"bc-{token}-{mode[0]}{run}"
                seconds, slowest, ok = one_run(name, lab, mode == "shared")
                figures.setdefault((name, mode), []).append(seconds)
                print(f"{name:<24} {mode:<7} {run:>3} {seconds:>8.2f} {slowest:>13.2f}  {'pass' if ok else 'FAIL'}",
                      flush=True)
    print()
    print(f"{'scenario':<24} {'median shared':>14} {'median own':>11} {'ratio':>6}")
    for name in args.scenarios.split(","):
        shared = statistics.median(figures[(name, "shared")])
        own = statistics.median(figures[(name, "own")])
        print(f"{name:<24} {shared:>14.2f} {own:>11.2f} {shared / own:>6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
