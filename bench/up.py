"""Benchmark the netns provider: bring a lab up and down N times, print median and max.

    sudo .venv/bin/python bench/up.py [--runs 5] [--topology calico-bgp-rr]

Figures per run: time from the start of `up` until every planned BGP session is
Established, until the first successful cross-rack pod ping, until `up` returns
(sessions and every pod route), the time `down` takes, and the peak resident
memory of all the lab's daemons (sum of each process's VmHWM).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.checks.observe import parse_ping  # noqa: E402
from lab.loader import load_topology  # noqa: E402
from lab.providers.netns.provider import NetnsProvider  # noqa: E402
from lab.providers.netns.state import LabState  # noqa: E402


def peak_rss_mb(state: LabState) -> float:
    total_kb = 0
    for proc in state.processes():
        try:
            for line in Path(f"/proc/{proc['pid']}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def first_cross_rack_ping(lab: NetnsProvider, started: float) -> float | None:
    pods = list(lab.pods())
    racks = {p.name: lab.topo.cluster.node(p.node).rack for p in pods}
    pairs = [(a, b) for a in pods for b in pods if racks[a.name] != racks[b.name]]
    if not pairs:
        return None
    src, dst = pairs[0]
    access = lab.access()
    while time.monotonic() - started < 60:
        result = access.exec(src.name, ["ping", "-c", "1", "-W", "0.2", dst.ip], timeout=5)
        if parse_ping(result.stdout)[1] == 1:
            return time.monotonic() - started
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--topology", default="calico-bgp-rr")
    args = parser.parse_args()
    topo = load_topology(args.topology)
    rows = []
    for run in range(args.runs):
        lab = NetnsProvider(topo, "bench", out_dir="/tmp/fabriclab-bench")
        if lab.is_up():
            lab.down(io.StringIO())
        lab.up(io.StringIO())
        ping = first_cross_rack_ping(lab, lab._started)
        rss = peak_rss_mb(LabState(lab.state_path))
        t0 = time.monotonic()
        lab.down(io.StringIO())
        down = time.monotonic() - t0
        row = {"sessions": lab.timings["sessions_established"], "ping": ping, "up": lab.timings["up"],
               "down": down, "rss": rss}
        rows.append(row)
        print(f"run {run + 1}: sessions {row['sessions']:.2f}s  first cross-rack ping "
              f"{ping if ping is None else f'{ping:.2f}s'}  up {row['up']:.2f}s  down {down:.2f}s  daemons peak RSS {rss:.1f} MB")
    print(f"\n{args.topology}, {args.runs} runs, {len(__import__('os').sched_getaffinity(0))} CPUs:")
    for key, label, unit in (("sessions", "all sessions Established", "s"), ("ping", "first cross-rack pod ping", "s"),
                             ("up", "up (sessions + every pod route)", "s"), ("down", "down", "s"),
                             ("rss", "daemons peak RSS (sum)", " MB")):
        values = [r[key] for r in rows if r[key] is not None]
        if values:
            print(f"  {label:34} median {statistics.median(values):6.2f}{unit}   max {max(values):6.2f}{unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
