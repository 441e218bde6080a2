"""`lab.down --provider clab`: remove exactly what the state file says this lab created.

containerlab lab first (its containers sit on the bridges and in the kind nodes'
namespaces), then the kind cluster, then the bridges this lab created. Each removal is
recorded as it succeeds, so a failure part-way leaves a state the next `down` finishes.
A kind cluster or bridge this lab did not create is named and left alone.
"""

from __future__ import annotations

from typing import TextIO

from ...errors import LabError
from ...render.clab import render_clab
from .context import LONG_COMMAND, ClabContext
from .steps import clab_inspect


def _clab(ctx: ClabContext, problems: list[str]) -> None:
    if not ctx.clab_file.is_file() and not ctx.dry_run:
        # The clab file is ours and pure: re-render it so destroy can name the lab.
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        ctx.clab_file.write_text(render_clab(ctx.topo, ctx.port_scope))
    try:
        if clab_inspect(ctx) is not False or ctx.dry_run:
            ctx.run("containerlab", "destroy", "-t", str(ctx.clab_file), "--cleanup", timeout=LONG_COMMAND)
        ctx.state.update(containerlab=None)
    except LabError as exc:
        problems.append(str(exc))


def _kind(ctx: ClabContext, problems: list[str]) -> None:
    try:
        if ctx.cluster in ctx.run("kind", "get", "clusters").stdout.split() or ctx.dry_run:
            # --kubeconfig: kind edits that file (the lab's own), never ~/.kube/config.
            ctx.run("kind", "delete", "cluster", "--name", ctx.cluster, "--kubeconfig", str(ctx.kubeconfig))
        ctx.state.update(kind=None)
    except LabError as exc:
        problems.append(str(exc))


def remove(ctx: ClabContext, out: TextIO) -> None:
    state = ctx.state.load()
    problems: list[str] = []
    if ctx.dry_run:
        out.write(f"# dry run of `lab.down --provider clab` for lab {ctx.lab_name}: nothing is executed\n")
    if state["containerlab"] or ctx.dry_run:
        _clab(ctx, problems)
    if state["kind"] or ctx.dry_run:
        _kind(ctx, problems)
    elif ctx.cluster in ctx.run("kind", "get", "clusters", check=False).stdout.split():
        out.write(f"kind cluster {ctx.cluster} exists but this lab did not create it: left alone "
                  f"(`kind delete cluster --name {ctx.cluster}` removes it)\n")
    bridges = list(state["bridges"]) if not ctx.dry_run else [r.bridge for r in ctx.topo.racks]
    for bridge in reversed(bridges):
        try:
            ctx.bridges.delete(bridge)
            ctx.state.forget_bridge(bridge)
        except LabError as exc:
            problems.append(str(exc))
    if problems:
        raise LabError(f"lab {ctx.lab_name}: some of it could not be removed (run `lab.down` again):\n  " +
                       "\n  ".join(problems))
    ctx.state.remove()
    ctx.ssh.close()
    if not ctx.dry_run:
        out.write(f"lab {ctx.lab_name} removed (clab)\n")
