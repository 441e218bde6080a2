"""python -m lab.calico: what calico-node would configure, from Calico resources, before anything runs.

  status --resources PATH [--node NAME] [--json]   the `calicoctl node status` each node will show
  bird   --resources PATH --node NAME              that node's BIRD configuration
  ipam   --resources PATH [--json]                 the block each node owns
  lint   --resources PATH                          resources that will not do what they seem to

Instead of --resources, --topology NAME takes a topology's resources (generated plus its
calico.resources files), its calico.version and its calico.lab_timers switch: `bird --topology X
--node N` prints exactly the config the netns lab gives that node (same function, same inputs).
--calico-version picks the behaviour family (default v3.23.5, what the clab provider installs);
--lab-timers HOLD,KEEPALIVE adds the lab's timers as calico.lab_timers does.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import LabError
from .bird import BgpTimers, render_bird
from .ipam import plan_ipam
from .lint import ERROR, lint
from .peering import plan_as_json, plan_peering
from .resources import ResourceSet, load_resources
from .status import format_status_table, status_rows_from_plan
from .versions import CalicoVersion, parse_version


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.calico", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("status", "per node, the calicoctl node status table once everything is up"),
                       ("bird", "one node's BIRD configuration"), ("ipam", "blocks per node"),
                       ("lint", "findings about the resources (exit 1 on errors)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--resources", action="append",
                       help="YAML file or directory of Calico resources (repeatable; later ones win, like calicoctl apply)")
        p.add_argument("--topology", help="take resources, Calico version and lab timers from this topology")
        p.add_argument("--calico-version", help="Calico release whose behaviour to reproduce (e.g. v3.32.1)")
        p.add_argument("--lab-timers", metavar="HOLD,KEEPALIVE", help="add BIRD hold/keepalive times (lab choice)")
        if name in ("status", "bird"):
            p.add_argument("--node", required=name == "bird", help="Calico node name")
        if name in ("status", "ipam"):
            p.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        rs, version, timers = _inputs(args, parser)
        if args.command == "bird":
            out.write(render_bird(rs, args.node, version=version, lab_timers=timers))
            return 0
        if args.command == "ipam":
            blocks = {n: [b.cidr for b in bs] for n, bs in plan_ipam(rs).blocks.items()}
            out.write(json.dumps({"blocks": blocks}, indent=2) + "\n" if args.json else
                      "".join(f"{n}: {', '.join(b)}\n" for n, b in sorted(blocks.items())))
            return 0
        if args.command == "lint":
            findings = lint(rs)
            out.write("".join(f"{f}\n" for f in findings) or "no findings\n")
            return 1 if any(f.severity == ERROR for f in findings) else 0
        plan = plan_peering(rs, version)
        if args.node:
            if args.node not in plan:
                raise LabError(f"no Calico node '{args.node}' with an address (nodes: {', '.join(plan)})")
            plan = {args.node: plan[args.node]}
        if args.json:
            out.write(json.dumps(plan_as_json(plan), indent=2) + "\n")
        else:
            for node, sessions in plan.items():
                out.write(f"{node}:\n{format_status_table(status_rows_from_plan(sessions))}\n")
        return 0
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _inputs(args, parser) -> tuple[ResourceSet, CalicoVersion, BgpTimers | None]:
    if bool(args.resources) == bool(args.topology):
        parser.error("give --resources or --topology (one of them)")
    timers = None
    if args.topology:
        from ..loader import load_topology
        from ..providers.netns.blueprint import calico_resources, lab_timers

        topo = load_topology(args.topology)
        rs, _ = calico_resources(topo)
        version, timers = parse_version(args.calico_version or topo.calico.version), lab_timers(topo)
    else:
        version = parse_version(args.calico_version)
        rs = load_resources(args.resources, version=version)
    if args.lab_timers:
        try:
            hold, keepalive = (int(x) for x in args.lab_timers.split(","))
        except ValueError:
            raise LabError(f"--lab-timers '{args.lab_timers}': expected HOLD,KEEPALIVE in seconds, e.g. 3,1") from None
        timers = BgpTimers(hold=hold, keepalive=keepalive)
    return rs, version, timers


if __name__ == "__main__":
    sys.exit(main())
