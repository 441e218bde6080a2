"""One self-contained HTML report: inline CSS and SVG, no scripts, no external assets.

Pure: a title and a list of sections in, one HTML document out. `lab.test
--report` and `lab.scenario` build their reports from this model:

    render_html(title, sections, subtitle="") -> str

    Section(title, text="", picture=None, caption="", items=(), blocks=(), commands=(), figures=())
        text      a paragraph under the heading
        picture   SVG markup inlined as is (lab.graph's picture: lab.commands.graph.svg_text)
        caption   one line under the picture
        figures   Split or Timeline of the whole section (a scenario's loss per step), above its items
        items     the checks or steps of this section, in order (Item)
        blocks    preformatted text (Pre): status tables, route diffs, logs
        commands  shell commands that reproduce what the section shows, one per entry

    Item(name, verdict, expected="", observed="", seconds=None, figures=(), blocks=(), facts=())
        verdict   PASS, FAIL or SKIP (anything else is shown as written, styled like FAIL)
        figures   Split or Timeline, drawn as small inline SVG
        blocks    Pre blocks of this item (a failed item's blocks start open)
        facts     (key, value) pairs shown as a small table (measured numbers, file paths)

    Pre(title, text, open=False)   a collapsible <details> block with <pre> text
    Split(title, parts, unit="")   one stacked bar: parts = ((label, value), ...), e.g. flows per uplink
    Timeline(title, span_ms, windows=(), marks=(), limit_ms=None, axis="ms")
        a time axis from 0 to span_ms; windows = ((start_ms, end_ms), ...) drawn red (loss);
        marks = ((t_ms, label), ...) as ticks (link down, link up); limit_ms as a dashed line

Every item is an <article class="item" data-verdict="..."> with its name in <h3>;
the summary at the top counts verdicts and links to every item.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Sequence

from .report_svg import split_svg, timeline_svg

VERDICTS = ("PASS", "FAIL", "SKIP")


@dataclass(frozen=True)
class Pre:
    title: str
    text: str
    open: bool = False


@dataclass(frozen=True)
class Split:
    title: str
    parts: tuple[tuple[str, float], ...]
    unit: str = ""


@dataclass(frozen=True)
class Timeline:
    title: str
    span_ms: float
    windows: tuple[tuple[float, float], ...] = ()
    marks: tuple[tuple[float, str], ...] = ()
    limit_ms: float | None = None
    axis: str = "ms"


@dataclass(frozen=True)
class Item:
    name: str
    verdict: str
    expected: str = ""
    observed: str = ""
    seconds: float | None = None
    figures: tuple = ()
    blocks: tuple[Pre, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""
    picture: str | None = None
    caption: str = ""
    items: tuple[Item, ...] = ()
    blocks: tuple[Pre, ...] = ()
    commands: tuple[str, ...] = field(default_factory=tuple)
    figures: tuple = ()


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


def _verdict_class(verdict: str) -> str:
    return verdict.lower() if verdict in VERDICTS else "fail"


def _pre(block: Pre, force_open: bool = False) -> str:
    opened = " open" if block.open or force_open else ""
    return (f'<details class="block"{opened}><summary>{esc(block.title)}</summary>'
            f"<pre>{esc(block.text)}</pre></details>")


def _figure(fig) -> str:
    if isinstance(fig, Split):
        svg = split_svg(fig.title, fig.parts, fig.unit)
    elif isinstance(fig, Timeline):
        svg = timeline_svg(fig.title, fig.span_ms, fig.windows, fig.marks, fig.limit_ms, fig.axis)
    else:
        raise TypeError(f"unknown figure {fig!r}: use Split or Timeline")
    return f'<figure class="chart">{svg}</figure>'


def _figures(figures) -> str:
    return '<div class="figures">' + "".join(_figure(f) for f in figures) + "</div>"


def _item(item: Item, slug: str) -> str:
    cls = _verdict_class(item.verdict)
    secs = f'<span class="secs">{item.seconds:.2f} s</span>' if item.seconds is not None else ""
    parts = [f'<article class="item {cls}" id="{slug}" data-verdict="{esc(item.verdict)}">',
             f'<header><span class="verdict {cls}">{esc(item.verdict)}</span><h3>{esc(item.name)}</h3>{secs}</header>']
    if item.expected or item.observed:
        parts.append('<dl class="eo">' + (f"<dt>expected</dt><dd>{esc(item.expected)}</dd>" if item.expected else "")
                     + (f"<dt>observed</dt><dd>{esc(item.observed)}</dd>" if item.observed else "") + "</dl>")
    if item.figures:
        parts.append(_figures(item.figures))
    if item.facts:
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in item.facts)
        parts.append(f'<table class="facts">{rows}</table>')
    parts += [_pre(b, force_open=cls == "fail") for b in item.blocks]
    parts.append("</article>")
    return "".join(parts)


def _commands(commands: Sequence[str]) -> str:
    lines = "\n".join(f"$ {esc(c)}" for c in commands)
    return f'<pre class="commands"><code>{lines}</code></pre>'


def render_html(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    used: set[str] = set()
    slugs = [[_slug(i.name, used) for i in s.items] for s in sections]
    counts = {v: 0 for v in VERDICTS}
    toc = []
    for section, section_slugs in zip(sections, slugs):
        for item, slug in zip(section.items, section_slugs):
            key = item.verdict if item.verdict in VERDICTS else "FAIL"
            counts[key] += 1
            cls = _verdict_class(item.verdict)
            toc.append(f'<li><a href="#{slug}"><span class="verdict {cls}">{esc(item.verdict)}</span> {esc(item.name)}</a></li>')
    pills = "".join(f'<span class="pill {v.lower()}">{counts[v]} {v}</span>' for v in VERDICTS if counts[v])
    overall = "fail" if counts["FAIL"] else "pass"
    body = [f'<header class="top {overall}"><h1>{esc(title)}</h1>',
            f'<p class="subtitle">{esc(subtitle)}</p>' if subtitle else "",
            f'<div class="pills">{pills}</div>' if pills else "",
            f'<ol class="toc">{"".join(toc)}</ol>' if toc else "", "</header><main>"]
    for section, section_slugs in zip(sections, slugs):
        body.append(f'<section><h2>{esc(section.title)}</h2>')
        if section.text:
            body.append(f"<p>{esc(section.text)}</p>")
        if section.picture:
            body.append(f'<figure class="picture">{section.picture}'
                        + (f"<figcaption>{esc(section.caption)}</figcaption>" if section.caption else "") + "</figure>")
        elif section.caption:
            body.append(f'<p class="caption">{esc(section.caption)}</p>')
        if section.figures:
            body.append(_figures(section.figures))
        body += [_item(i, slug) for i, slug in zip(section.items, section_slugs)]
        body += [_pre(b) for b in section.blocks]
        if section.commands:
            body.append(_commands(section.commands))
        body.append("</section>")
    body.append('</main><footer>fabriclab report · self-contained: no scripts, no external files</footer>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")


CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--skip:#6e7781;--ink:#1f2328;--muted:#59636e;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:var(--ink);background:#fff}
header.top{padding:24px 32px 16px;border-bottom:4px solid var(--pass);background:var(--bg)}
header.top.fail{border-bottom-color:var(--fail)}
h1{margin:0 0 4px;font-size:26px}
h2{font-size:20px;margin:28px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{display:inline;font-size:16px;margin:0 8px;font-family:ui-monospace,"DejaVu Sans Mono",monospace}
.subtitle{margin:0 0 10px;color:var(--muted)}
main{padding:0 32px 32px;max-width:1200px}
.pills{margin:6px 0}
.pill{display:inline-block;padding:2px 12px;margin-right:8px;border-radius:999px;color:#fff;font-weight:600}
.pill.pass{background:var(--pass)}.pill.fail{background:var(--fail)}.pill.skip{background:var(--skip)}
.toc{columns:3 220px;margin:10px 0 0;padding-left:20px}
.toc a{color:var(--ink);text-decoration:none}
.verdict{display:inline-block;min-width:44px;text-align:center;padding:0 6px;border-radius:4px;font-size:12px;font-weight:700;color:#fff}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}.verdict.skip{background:var(--skip)}
.item{border:1px solid var(--line);border-left:6px solid var(--pass);border-radius:6px;padding:10px 14px;margin:12px 0;background:#fff}
.item.fail{border-left-color:var(--fail);background:#fff8f8}.item.skip{border-left-color:var(--skip)}
.item header{display:flex;align-items:center}
.secs{margin-left:auto;color:var(--muted);font-size:13px}
dl.eo{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}
dl.eo dt{color:var(--muted);font-size:13px}dl.eo dd{margin:0}
.figures{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
figure{margin:0}
figure.chart{border:1px solid var(--line);border-radius:6px;padding:6px;background:var(--bg)}
figure.picture{border:1px solid var(--line);border-radius:6px;padding:8px;overflow-x:auto;text-align:center}
figure.picture svg{max-width:100%;height:auto}
figcaption,.caption{color:var(--muted);font-size:13px;margin-top:4px}
table.facts{border-collapse:collapse;font-size:13px;margin:6px 0}
table.facts th{text-align:left;color:var(--muted);font-weight:normal;padding:1px 12px 1px 0;vertical-align:top}
table.facts td{font-family:ui-monospace,"DejaVu Sans Mono",monospace;word-break:break-all}
details.block{margin:6px 0}details.block summary{cursor:pointer;color:var(--muted);font-size:13px}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px;overflow-x:auto;font:12.5px/1.45 ui-monospace,"DejaVu Sans Mono",monospace}
pre.commands{background:#0d1117;color:#e6edf3;border-color:#0d1117}
footer{padding:16px 32px;color:var(--muted);font-size:12px;border-top:1px solid var(--line)}
"""
