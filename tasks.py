"""Invoke tasks: the `lab` collection. Thin wrappers; the work lives in lab.commands.

    invoke --list                 all tasks
    invoke --help lab.up          options of one task
"""

from __future__ import annotations

import functools
import sys

from invoke import Collection, Exit, task

from lab.errors import LabError


def _user_errors(func):
    """Expected failures print one line and exit non-zero; bugs keep their traceback."""

    @functools.wraps(func)
    def wrapper(c, *args, **kwargs):
        try:
            code = func(c, *args, **kwargs)
        except LabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise Exit(code=1) from None
        if code:
            raise Exit(code=code)

    return wrapper


TOPOLOGY_HELP = "topology name (in topologies/) or path to a topology file; default calico-bgp-rr"


@task(help={"topology": TOPOLOGY_HELP, "out": "output directory (default build/<lab name>/)"})
@_user_errors
def render(c, topology=None, out=None):
    """Write every generated file of a lab: kind.yaml, clab.yaml, VyOS startup configs, FRR configs, Calico resources."""
    from lab.commands.render import render as run

    run(topology, out)


lab = Collection("lab")
lab.add_task(render)

ns = Collection()
ns.add_collection(lab)
