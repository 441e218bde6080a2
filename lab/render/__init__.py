"""Pure renderers: topology model in, file texts out. No side effects here.

`render_all` returns every artefact of a lab keyed by its path relative to the
lab's output directory; `write_all` is the only function that touches the disk.
"""

from __future__ import annotations

from pathlib import Path

from .. import model as m


def render_all(topo: m.Topology) -> dict[str, str]:
    # Imported here so each renderer module stays importable on its own.
    from .calico import render_calico
    from .clab import render_clab
    from .frr import render_frr
    from .kind import render_kind
    from ..fabric import topology_plan
    from .rr_host import render_rr_hosts
    from .vyos import render_vyos

    files: dict[str, str] = {
        "kind.yaml": render_kind(topo),
        "clab.yaml": render_clab(topo),
        "calico/resources.yaml": render_calico(topo),
    }
    for extra in topo.calico.resources:
        files[f"calico/extra-{extra.name}"] = extra.read_text()
    plan = topology_plan(topo)  # once: the FRR and RR-host configs all read it
    for router in topo.routers:
        files[f"startup-conf/{router.name}-boot.cfg"] = render_vyos(topo, router)
        files[f"frr/{router.name}.conf"] = render_frr(topo, router, plan).integrated
    files.update(render_rr_hosts(topo, plan))
    return files


def write_all(topo: m.Topology, out_dir: str | Path) -> list[Path]:
    return write_files(render_all(topo), out_dir)


def write_files(files: dict[str, str], out_dir: str | Path) -> list[Path]:
    """Write rendered files (relative path -> text) under out_dir."""
    out = Path(out_dir)
    written = []
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
