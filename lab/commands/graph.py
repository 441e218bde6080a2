"""`invoke lab.graph`: draw a lab as SVG, PNG or DOT: the plan, or a running lab with its session states.

The side effects live here (reading the running lab through its provider,
running Graphviz's `dot`, writing the file); what is drawn is `lab.graph`'s pure
DOT text.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, TextIO

import graphviz

from .. import model as m
from ..calico.resources import ResourceSet
from ..errors import LabError
from ..graph import GraphOptions, Picture, PodView, build
from .lab import open_provider

FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot"}
DOT_MISSING = "Graphviz's `dot` is not installed: apt-get install graphviz (or write the DOT text with --out F.dot)"


@dataclass
class Scene:
    """Everything a picture is drawn from."""

    lab_name: str
    topo: m.Topology
    rs: ResourceSet
    pods: Sequence[PodView]
    observed: Mapping[str, Sequence] | None  # None: the lab is not running, draw the plan


def planned_pods(topo: m.Topology, rs: ResourceSet) -> list[PodView]:
    """The pods the netns provider creates, with the addresses Calico's IPAM plan gives them."""
    from ..providers.netns.blueprint import build_blueprint

    return [PodView(p.name, p.node, p.ip, p.cali) for p in build_blueprint(topo, rs=rs).pods]


def running_scene(lab) -> Scene:
    """A running lab as its provider sees it now: resources in force, pods, and every daemon's sessions."""
    from ..checks.base import Context
    from ..checks.sessions import observe_all
    from ..expect import expected_sessions

    rs = lab.resources()
    blueprint = getattr(lab, "blueprint", None)
    pods = ([PodView(p.name, p.node, p.ip, p.cali) for p in blueprint.pods] if blueprint is not None
            else [PodView(p.name, p.node, p.ip) for p in lab.pods()])
    observed = observe_all(Context(lab), expected_sessions(lab.topo, rs))
    return Scene(lab.lab_name, lab.topo, rs, pods, observed)


def plan_scene(topo: m.Topology, lab_name: str | None = None) -> Scene:
    from ..providers.netns.blueprint import calico_resources

    rs, _ = calico_resources(topo)
    return Scene(lab_name or topo.name, topo, rs, planned_pods(topo, rs), None)


def draw(scene: Scene, sessions: bool = True, provider: str = "netns") -> Picture:
    options = GraphOptions(sessions=sessions or scene.observed is not None,
                           node_iface="net0" if provider == "clab" else "eth0")
    return build(scene.topo, scene.rs, pods=scene.pods, observed=scene.observed, options=options)


def run_dot(dot_text: str, fmt: str) -> bytes:
    """Lay the DOT text out with Graphviz's dot; LabError when dot is missing or refuses it."""
    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise LabError(DOT_MISSING) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip()[:300]
        raise LabError(f"dot refused the picture: {detail}") from None


def svg_text(dot_text: str) -> str:
    """SVG markup to inline into HTML: dot's output without its XML prologue and DOCTYPE."""
    text = run_dot(dot_text, "svg").decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def graph(topology: str | None, name: str | None, out: str | None, sessions: bool = False,
          provider: str = "netns", stream: TextIO = sys.stdout) -> int:
    lab = open_provider(provider, topology, name)
    if lab.is_up():
        scene = running_scene(lab)
        what = "running: sessions as observed now"
    else:
        if name and not topology:
            stream.write(f"lab {name} is not up: drawing the plan of {lab.topo.name}\n")
        scene = plan_scene(lab.topo, lab.lab_name)
        what = "not running: the plan"
    path = Path(out) if out else lab.out_dir / f"{scene.lab_name}.svg"
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LabError(f"--out {path}: unknown format '{path.suffix}' (use .svg, .png or .dot)")
    picture = draw(scene, sessions, provider)
    data = picture.dot.encode() if fmt == "dot" else run_dot(picture.dot, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise LabError(f"cannot write {path}: {exc.strerror or exc}") from None
    layer = ""
    if picture.sessions:
        layer = f", {picture.sessions} BGP sessions" + (f", {picture.down} not Established" if picture.down else "")
    collapsed = f"; racks drawn as counts: {', '.join(picture.collapsed_racks)}" if picture.collapsed_racks else ""
    stream.write(f"wrote {path} (lab {scene.lab_name}, {what}{layer}{collapsed})\n")
    return 0


def live_picture(lab) -> tuple[str | None, str]:
    """(SVG markup, caption) of a running lab for a report; (None, why) when it cannot be drawn."""
    try:
        picture = draw(running_scene(lab), True)
        return svg_text(picture.dot), (f"{picture.sessions} BGP sessions"
                                       + (f", {picture.down} not Established" if picture.down else ", all Established"))
    except LabError as exc:
        return None, f"no picture: {exc}"


__all__ = ["graph", "draw", "plan_scene", "running_scene", "run_dot", "svg_text", "live_picture"]
