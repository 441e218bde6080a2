"""Shared by the HTML report tests: the report's DOM as the browser built it, and its HTML as a parser reads it."""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

from browser import open_page

# Evaluated in the loaded report: what a reader sees, as JSON. It also clicks one closed
# <details> summary to prove the collapsible blocks work in a real browser.
REPORT_FACTS = r"""
(() => {
  const q = (s, r = document) => Array.from(r.querySelectorAll(s));
  const shown = e => { const b = e.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
  const items = q("article.item").map(a => ({
    id: a.id, name: a.querySelector("h3").textContent, verdict: a.dataset.verdict,
    badge: a.querySelector(".verdict").textContent, shown: shown(a),
    splits: q("svg.split", a).length, timelines: q("svg.timeline", a).length,
    segments: q("svg.split rect.segment", a).length, losses: q("svg.timeline rect.loss", a).length,
    limits: q("svg.timeline line.limit", a).length,
    blocks: q("details.block", a).length, open: q("details.block[open]", a).length,
    expected: (a.querySelector("dl.eo dd") || {}).textContent || "",
    facts: Object.fromEntries(q("table.facts tr", a).map(r => [r.querySelector("th").textContent,
                                                              r.querySelector("td").textContent])),
  }));
  const toc = q(".toc a").map(a => a.getAttribute("href"));
  const closed = q("details.block:not([open])")[0];
  let opens = null;
  if (closed) { closed.querySelector("summary").click(); opens = closed.open; }
  const pic = document.querySelector("figure.picture svg");
  return {
    title: document.title, h1: document.querySelector("h1").textContent,
    sections: q("main > section > h2").map(h => h.textContent),
    items, toc, brokenLinks: toc.filter(h => !document.getElementById(decodeURIComponent(h.slice(1)))),
    pills: q(".pill").map(p => p.textContent), overall: document.querySelector("header.top").className,
    opens, scripts: q("script").length,
    picture: pic ? {shown: shown(pic), nodes: q("g.node", pic).length, sessions: q("g.edge.session", pic).length,
                    down: q("g.edge.session.down", pic).length} : null,
    sectionCharts: q("main > section > .figures svg").length,
    sectionBlocks: q("main > section > details.block").map(d => d.querySelector("summary").textContent),
    commands: q("pre.commands").map(p => p.textContent).join("\n"),
    links: q("[src], [href]").map(e => e.getAttribute("src") || e.getAttribute("href")).filter(u => !u.startsWith("#")),
    overflowsPage: document.documentElement.scrollWidth > window.innerWidth + 1,
  };
})()
"""


def report_in_browser(path: Path) -> dict:
    """Open the report in headless Chromium (screenshot next to it) and return REPORT_FACTS.

    Fails on any console error or warning, uncaught exception, or request for anything but the file.
    With FABRICLAB_ARTIFACTS set to a directory, the report and its screenshot are copied there
    (a CI job can upload them to look at).
    """
    page = open_page(path, REPORT_FACTS, screenshot=path.with_suffix(".png"))
    keep = os.environ.get("FABRICLAB_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for produced in (path, path.with_suffix(".png")):
            shutil.copyfile(produced, Path(keep) / f"{path.parent.name}-{produced.name}")
    assert page.console == [], page.console
    assert page.external_requests() == [], page.external_requests()
    assert page.requests == [path.resolve().as_uri()], page.requests
    shot = path.with_suffix(".png").read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000  # a real rendering, not an empty canvas
    facts = page.value
    assert facts["brokenLinks"] == [] and facts["links"] == [] and facts["scripts"] == 0
    assert all(item["shown"] for item in facts["items"]), [i["name"] for i in facts["items"] if not i["shown"]]
    assert facts["opens"] in (None, True)  # a collapsed block opens on a click
    assert not facts["overflowsPage"]  # wide tables and pictures scroll inside their box
    return facts


VOID = {"meta", "link", "br", "hr", "img", "input", "source", "wbr", "col", "area", "base", "embed", "param", "track"}
# SVG elements Graphviz and the figures write self-closing (<path ... />): the parser reports them as start+end.


class Tree(HTMLParser):
    """Tags, classes, ids and the text under each element, checking that every element is closed in order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.elements: list[tuple[str, dict]] = []
        self.texts: dict[int, list[str]] = {}
        self.errors: list[str] = []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {[t for t, _ in self.stack]}")

    def handle_starttag(self, tag, attrs):
        element = (tag, dict(attrs))
        self.elements.append(element)
        if tag not in VOID:
            self.stack.append(element)
            self.texts[id(element)] = []

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        for element in self.stack:
            self.texts[id(element)].append(data)

    def find(self, tag: str, cls: str | None = None) -> list[tuple[str, dict]]:
        return [e for e in self.elements if e[0] == tag and (cls is None or cls in e[1].get("class", "").split())]

    def text(self, element) -> str:
        return "".join(self.texts.get(id(element), []))
