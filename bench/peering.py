"""Benchmark the pure Calico steps: strict decoding, the peering plan and BIRD rendering, by cluster size.

    .venv/bin/python bench/peering.py [--sizes 200,500,1000] [--runs 3]

Generates Calico resources for three families (no root, nothing created):
- rack: mesh off, one BGPPeer per rack of 25 nodes towards the rack's leaf (the reference design);
- rr: mesh off, two in-cluster reflectors, peer-to-rrs + rr-mesh BGPPeers;
- mesh: the node-to-node mesh (n*(n-1) session ends; sizes above 200 are skipped).
Prints the median of each step per family and size, and the number of planned session ends.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.calico.bird import render_bird  # noqa: E402
from lab.calico.ipam import plan_ipam  # noqa: E402
from lab.calico.peering import plan_peering  # noqa: E402
from lab.calico.resources import parse_resources  # noqa: E402

API = "apiVersion: projectcalico.org/v3"


def resources(n: int, family: str) -> str:
    docs = [] if family == "mesh" else [f"{API}\nkind: BGPConfiguration\nmetadata: {{name: default}}\n"
                                        "spec: {nodeToNodeMeshEnabled: false}"]
    docs.append(f"{API}\nkind: IPPool\nmetadata: {{name: pool}}\nspec: {{cidr: 10.128.0.0/9, blockSize: 26}}")
    for i in range(n):
        rack, slot = divmod(i, 25)
        rr = family == "rr" and i < 2
        labels = f"{{rack: rack{rack}{', rr: y' if rr else ''}}}"
        bgp = f"ipv4Address: 10.{rack}.0.{10 + slot}/24"
        bgp += ", routeReflectorClusterID: 224.0.0.1" if rr else ""
        bgp += f", asNumber: {65000 + rack}" if family == "rack" else ""
        docs.append(f"{API}\nkind: Node\nmetadata: {{name: n{i}, labels: {labels}}}\nspec: {{bgp: {{{bgp}}}}}")
    if family == "rr":
        docs.append(f"{API}\nkind: BGPPeer\nmetadata: {{name: to-rr}}\nspec: {{nodeSelector: '!has(rr)', peerSelector: has(rr)}}")
        docs.append(f"{API}\nkind: BGPPeer\nmetadata: {{name: rr-mesh}}\nspec: {{nodeSelector: has(rr), peerSelector: has(rr)}}")
    if family == "rack":
        for rack in range((n + 24) // 25):
            docs.append(f"{API}\nkind: BGPPeer\nmetadata: {{name: rack{rack}}}\nspec: {{nodeSelector: \"rack == 'rack{rack}'\", "
                        f"peerIP: 10.{rack}.0.1, asNumber: {65000 + rack}}}")
    return "\n---\n".join(docs)


def median(fn, runs: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,500,1000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'family':<6} {'nodes':>5} {'decode':>8} {'plan':>8} {'ipam':>8} {'bird(all)':>10} {'sessions':>9}")
    for family in ("rack", "rr", "mesh"):
        for n in (int(s) for s in args.sizes.split(",")):
            if family == "mesh" and n > 200:
                continue
            text = resources(n, family)
            t_decode, rs = median(lambda: parse_resources(text, "bench.yaml"), args.runs)
            t_plan, plan = median(lambda: plan_peering(rs), args.runs)
            t_ipam, ipam = median(lambda: plan_ipam(rs), args.runs)
            t_bird, _ = median(lambda: [render_bird(rs, node.name, plan=plan, ipam=ipam) for node in rs.nodes], 1)
            ends = sum(len(v) for v in plan.values())
            print(f"{family:<6} {n:>5} {t_decode:>7.3f}s {t_plan:>7.3f}s {t_ipam:>7.3f}s {t_bird:>9.3f}s {ends:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
