"""python -m lab.calico: what calico-node would configure, from Calico resources, before anything runs.

  status --resources PATH [--node NAME] [--json]   the `calicoctl node status` each node will show
  bird   --resources PATH --node NAME              that node's BIRD configuration
  ipam   --resources PATH [--json]                 the block each node owns
  lint   --resources PATH                          resources that will not do what they seem to
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import LabError
from .bird import render_bird
from .ipam import plan_ipam
from .lint import ERROR, lint
from .peering import plan_as_json, plan_peering
from .resources import load_resources
from .status import format_status_table, status_rows_from_plan


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.calico", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("status", "per node, the calicoctl node status table once everything is up"),
                       ("bird", "one node's BIRD configuration"), ("ipam", "blocks per node"),
                       ("lint", "findings about the resources (exit 1 on errors)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--resources", action="append", required=True,
                       help="YAML file or directory of Calico resources (repeatable; later ones win, like calicoctl apply)")
        if name in ("status", "bird"):
            p.add_argument("--node", required=name == "bird", help="Calico node name")
        if name in ("status", "ipam"):
            p.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        rs = load_resources(args.resources)
        if args.command == "bird":
            out.write(render_bird(rs, args.node))
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
        plan = plan_peering(rs)
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


if __name__ == "__main__":
    sys.exit(main())
