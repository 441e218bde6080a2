"""Shared by the picture tests: the DOT of a topology's plan, and DOT/SVG read back through real Graphviz."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from lab.commands.graph import draw, plan_scene, run_dot
from lab.loader import load_topology

SVG_NS = "{http://www.w3.org/2000/svg}"
requires_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing: apt-get install graphviz")


def plan_dot(topology, sessions: bool = True) -> str:
    topo = load_topology(topology) if isinstance(topology, str) else topology
    return draw(plan_scene(topo), sessions).dot


class Parsed:
    """The graph as Graphviz itself reads it (`dot -Tjson0`): nodes by name, edges with tail/head names."""

    def __init__(self, dot_text: str):
        data = json.loads(run_dot(dot_text, "json0"))
        objects = data.get("objects", [])
        first_node = data.get("_subgraph_cnt", 0)
        self.nodes = {o["name"]: o for o in objects[first_node:]}
        self.clusters = [o["name"] for o in objects[:first_node] if o["name"].startswith("cluster_")]
        self.edges = []
        for e in data.get("edges", []):
            edge = dict(e)
            edge["tail_name"], edge["head_name"] = objects[e["tail"]]["name"], objects[e["head"]]["name"]
            self.edges.append(edge)

    def edges_of(self, cls: str) -> list[dict]:
        return [e for e in self.edges if cls in e.get("class", "").split()]

    def nodes_of(self, cls: str) -> list[str]:
        return [n for n, o in self.nodes.items() if cls in o.get("class", "").split()]

    def touching(self, node: str, cls: str = "session") -> list[dict]:
        return [e for e in self.edges_of(cls) if node in (e["tail_name"], e["head_name"])]


def svg_of(dot_text: str) -> ET.Element:
    return ET.fromstring(run_dot(dot_text, "svg"))


def svg_groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG_NS}g") if cls in g.get("class", "").split()]


def svg_titles(root: ET.Element, cls: str) -> list[str]:
    return [g.find(f"{SVG_NS}title").text for g in svg_groups(root, cls)]
