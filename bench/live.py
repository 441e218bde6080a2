"""Benchmark live changes: time from a `lab.calicoctl` command to reloaded BIRDs.

    sudo .venv/bin/python bench/live.py [--runs 10] [--topology calico-bgp-rr]

On one running lab it alternates two changes that make every node's BIRD config
change (serviceClusterIPs on and off) and one that changes only one node (a label that
a BGPPeer does not select: no reload at all), and prints per kind of change the
median and max of
- in-process: the same function `invoke lab.calicoctl` calls, from the call until it
  returns (datastore read, validation, lint, commit, re-render, `birdc configure` on the
  nodes whose config changed),
- whole command: `invoke lab.calicoctl ...` as a user runs it (Python start-up included).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lab.loader import load_topology  # noqa: E402
from lab.providers.netns.provider import NetnsProvider  # noqa: E402


def patch_services(cidrs: list[str]) -> list[str]:
    value = [{"cidr": c} for c in cidrs] if cidrs else None
    return ["patch", "bgpconfiguration", "default", "-p", json.dumps({"spec": {"serviceClusterIPs": value}})]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--topology", default="calico-bgp-rr")
    args = parser.parse_args()
    name = f"bench-live-{os.getpid() % 10000}"
    lab = NetnsProvider(load_topology(args.topology), name, out_dir="/tmp/fabriclab-bench")
    lab.up(io.StringIO())
    node = lab.topo.cluster.k8s_name(lab.topo.cluster.nodes[0])
    invoke = [str(Path(sys.executable).parent / "invoke"), "lab.calicoctl", "--name", name, "--"]
    figures: dict[str, list[float]] = {}
    try:
        for run in range(args.runs):
            for label, argv in (("every node reloads", patch_services(["10.96.0.0/16"])),
                                ("every node reloads ", patch_services([])),
                                ("no node reloads", ["label", "nodes", node, f"bench=r{run}", "--overwrite"])):
                key = label.strip()
                started = time.monotonic()
                NetnsProvider.attach(name).calicoctl(argv, io.StringIO())
                figures.setdefault(f"{key}: in-process", []).append(time.monotonic() - started)
            for label, argv in (("every node reloads", patch_services(["10.96.0.0/16"])),
                                ("every node reloads", patch_services([]))):
                started = time.monotonic()
                subprocess.run(invoke + argv, cwd=REPO, check=True, capture_output=True)
                figures.setdefault(f"{label}: whole command", []).append(time.monotonic() - started)
    finally:
        lab.down(io.StringIO())
    nodes = len(lab.topo.cluster.nodes)
    print(f"{args.topology} ({nodes} nodes), {args.runs} runs, {len(os.sched_getaffinity(0))} CPUs:")
    for key, values in figures.items():
        print(f"  {key:40} median {statistics.median(values):6.3f}s   max {max(values):6.3f}s   (n={len(values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
