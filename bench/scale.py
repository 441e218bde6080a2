"""Scale benchmark: bring each lab family up at a list of sizes, print the curve.

    sudo .venv/bin/python bench/scale.py --family rr --sizes 50,100,200 [--test] [--name scale-1a2b]

Per family and size (topology from `lab.gen`'s generator, lab.compact's form):
- up: total, the time of each step (namespaces, links, neighbours, BIRD, FRR, convergence),
  when every planned session was Established and every pod route present;
- peak memory: the lab's daemons (sum of each process's VmHWM) and this Python process;
- neighbour table: the host's entries (shared by every namespace) before and after up
  (and after the checks), and the dynamic (non-permanent) entries in the lab's namespaces;
- with --test: lab.test's checks (time, pass/fail/skip each);
- down time and leftovers (namespaces with the lab's prefix, run directory).
A lab is always taken down, also after a failure or Ctrl-C. Sizes are node counts.
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.up import peak_rss_mb  # noqa: E402  (the daemons' peak RSS, as bench/up.py sums it)
from lab.checks import run_checks, select  # noqa: E402
from lab.checks.base import Context  # noqa: E402
from lab.commands.gen import FAMILIES, family_text  # noqa: E402
from lab.loader import load_topology  # noqa: E402
from lab.headroom import read_host_limits  # noqa: E402
from lab.providers.netns import netlink  # noqa: E402
from lab.providers.netns.provider import NetnsProvider  # noqa: E402
from lab.providers.netns.state import LabState  # noqa: E402

STEP = re.compile(r"\] (.+?) \.\.\. ok \(([\d.]+)s\)")
SHORT = {"save": "save", "create": "netns", "wire": "links", "program": "neigh", "start BIRD": "bird",
         "start FRR": "frr", "wait": "converge"}


def python_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dynamic_entries(lab: NetnsProvider) -> int:
    """Non-permanent IPv4 neighbour entries in the lab's namespaces (what counts against gc_thresh3)."""
    count = 0
    try:
        for ns in lab.blueprint.namespaces:
            count += sum(1 for n in netlink.neighbours(ns.netns) if n["state"] not in ("permanent", "noarp"))
    finally:
        netlink.close_all()
    return count


def steps(text: str) -> dict[str, float]:
    out = {}
    for title, seconds in STEP.findall(text):
        key = next((v for k, v in SHORT.items() if title.startswith(k)), title)
        out[key] = float(seconds)
    return out


def leftovers(lab: NetnsProvider, prefix: str) -> list[str]:
    left = [f"netns {n}" for n in netlink.list_netns(prefix)]
    if lab.run_dir.exists():
        left.append(str(lab.run_dir))
    return left


def one(family: str, nodes: int, name: str, test: bool, full: bool, wait: float = 900.0) -> dict:
    text = family_text(family, nodes, name=name)
    with tempfile.TemporaryDirectory(prefix="fabriclab-scale-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text)
        topo = load_topology(path)
        lab = NetnsProvider(topo, name, out_dir=Path(tmp) / "out")
        lab.converge_deadline = wait  # as `lab.up --wait`: measure convergence, however long
        row: dict = {"family": family, "nodes": nodes, "sessions_planned": None}
        row["host_neigh_before"] = read_host_limits().neigh_entries
        out = _Tee()
        prefix = lab.ns_prefix()
        try:
            started = time.monotonic()
            try:
                lab.up(out)
            finally:
                row["steps"] = steps(out.getvalue())
                row["up"] = time.monotonic() - started
            row["converged"] = True
            row.update({k: getattr(lab, "timings", {}).get(k) for k in ("sessions_established", "routes_present")})
            row["sessions_planned"] = sum(len(s) for s in lab.blueprint.sessions.values())
            row["daemons_mb"] = peak_rss_mb(LabState(lab.state_path))
            row["host_neigh_up"] = read_host_limits().neigh_entries
            row["permanent"] = len(lab.blueprint.neighbours)
            row["dynamic_up"] = dynamic_entries(lab)
            if test:
                t0 = time.monotonic()
                results = run_checks(Context(lab, full=full), select(None))
                row["test"] = time.monotonic() - t0
                row["checks"] = {r.name: (r.status, r.seconds) for r in results}
                row["failed"] = [f"{r.name}: {r.observed[:160]}" for r in results if not r.ok]
                row["host_neigh_test"] = read_host_limits().neigh_entries
                row["dynamic_test"] = dynamic_entries(lab)
        except Exception as exc:  # a size that does not converge is a figure too
            row["converged"] = False
            row["error"] = str(exc).splitlines()[0][:300]
            row["daemons_mb"] = peak_rss_mb(LabState(lab.state_path)) if lab.state_path.exists() else 0
        finally:
            t0 = time.monotonic()
            lab.down(io.StringIO())
            row["down"] = time.monotonic() - t0
            row["left"] = leftovers(lab, prefix)
        row["python_mb"] = python_peak_mb()
    return row


class _Tee(io.StringIO):
    """up's step lines, kept for the row and shown on stderr as they come (a big lab's phases
    are visible even if the run is interrupted)."""

    def write(self, text: str) -> int:
        sys.stderr.write(text)
        sys.stderr.flush()
        return super().write(text)


def fmt(row: dict) -> str:
    def f(key, unit="s"):
        value = row.get(key)
        return "-" if value is None else f"{value:.1f}{unit}"

    parts = [f"{row['family']:9} {row['nodes']:5} nodes", f"up {f('up')}",
             f"sessions {f('sessions_established')}", f"routes {f('routes_present')}",
             "steps " + " ".join(f"{k} {v:.1f}" for k, v in row.get("steps", {}).items()),
             f"daemons {f('daemons_mb', ' MB')}", f"python {f('python_mb', ' MB')}",
             f"neigh host {row.get('host_neigh_before')}->{row.get('host_neigh_up', '-')}"
             f"{'->' + str(row['host_neigh_test']) if 'host_neigh_test' in row else ''}",
             f"permanent {row.get('permanent', '-')} dynamic up {row.get('dynamic_up', '-')}"
             f"{' test ' + str(row['dynamic_test']) if 'dynamic_test' in row else ''}",
             f"test {f('test')}", f"down {f('down')}", f"left {len(row.get('left', []))}"]
    if not row.get("converged"):
        parts.append(f"NOT CONVERGED: {row.get('error')}")
    if row.get("checks"):
        parts.append("checks " + ", ".join(f"{k} {s} {t:.1f}s" for k, (s, t) in row["checks"].items()))
    for failure in row.get("failed", []):
        parts.append(f"failed {failure}")
    return "  ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="rr", help=f"comma-separated: {', '.join(FAMILIES)}")
    parser.add_argument("--sizes", default="50,100", help="comma-separated node counts")
    parser.add_argument("--name", default="scale-bench", help="lab name (unique on this host)")
    parser.add_argument("--test", action="store_true", help="also run lab.test's checks on each lab")
    parser.add_argument("--full", action="store_true", help="with --test: connectivity over every pair")
    parser.add_argument("--wait", type=float, default=900.0, help="seconds up may wait for convergence")
    args = parser.parse_args()
    for family in args.family.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            row = one(family, size, args.name, args.test, args.full, args.wait)
            print(fmt(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
