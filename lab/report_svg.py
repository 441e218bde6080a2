"""The report's small figures as inline SVG text: a split bar and a loss timeline.

Pure string building; every text is XML-escaped. Sizes are fixed (the report's
CSS lets them sit side by side); each SVG carries a <title> for screen readers.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7B3294", "#999999")
LOSS = "#D62728"
FONT = 'font-family="system-ui,DejaVu Sans,Arial,sans-serif"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def _open(width: int, height: int, title: str, cls: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {FONT}><title>{_e(title)}</title>'
            f'<text x="4" y="14" font-size="12" font-weight="600" fill="#1f2328">{_e(title)}</text>')


def split_svg(title: str, parts: Sequence[tuple[str, float]], unit: str = "", width: int = 420) -> str:
    """One stacked bar, one segment per part, with value and share under it."""
    parts = [(str(label), max(0.0, float(value))) for label, value in parts]
    total = sum(v for _, v in parts)
    rows = (len(parts) + 1) // 2
    height = 58 + 16 * rows
    out = [_open(width, height, title, "split")]
    left, bar_w, top, bar_h = 4, width - 8, 22, 24
    if total <= 0:
        out.append(f'<rect x="{left}" y="{top}" width="{bar_w}" height="{bar_h}" fill="#eeeeee" rx="3"/>'
                   f'<text x="{left + bar_w / 2}" y="{top + 16}" font-size="11" text-anchor="middle" fill="#59636e">no data</text>')
    x = float(left)
    for index, (label, value) in enumerate(parts):
        w = bar_w * value / total if total > 0 else 0
        colour = PALETTE[index % len(PALETTE)]
        if w > 0:
            out.append(f'<rect class="segment" x="{x:.1f}" y="{top}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                       f"<title>{_e(label)}: {_num(value)} {_e(unit)}</title></rect>")
            if w > 46:
                out.append(f'<text x="{x + w / 2:.1f}" y="{top + 16}" font-size="11" font-weight="600" '
                           f'text-anchor="middle" fill="#ffffff">{_e(label)} {_num(value)}</text>')
        x += w
    # A tick at half: an even split is what ECMP aims for.
    out.append(f'<line x1="{left + bar_w / 2}" y1="{top - 3}" x2="{left + bar_w / 2}" y2="{top + bar_h + 3}" '
               'stroke="#1f2328" stroke-dasharray="2,2" stroke-width="1"/>')
    for index, (label, value) in enumerate(parts):
        col, row = index % 2, index // 2
        lx, ly = left + col * (bar_w / 2), top + bar_h + 18 + row * 16
        share = f" ({100 * value / total:.0f} %)" if total > 0 else ""
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{PALETTE[index % len(PALETTE)]}"/>'
                   f'<text class="legend" x="{lx + 14}" y="{ly}" font-size="11" fill="#1f2328">'
                   f"{_e(label)}: {_num(value)} {_e(unit)}{share}</text>")
    out.append("</svg>")
    return "".join(out)


def nice_step(span: float, ticks: int = 6) -> float:
    """A 1/2/5 x 10^k step giving about `ticks` intervals over span."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def timeline_svg(title: str, span_ms: float, windows: Sequence[tuple[float, float]] = (),
                 marks: Sequence[tuple[float, str]] = (), limit_ms: float | None = None,
                 axis: str = "ms", width: int = 560) -> str:
    """A time axis 0..span_ms with loss windows as red bars, marks as ticks and an optional limit line."""
    span = max(float(span_ms), 1e-9)
    height = 100
    left, right, axis_y = 8, width - 14, 68
    scale = (right - left) / span

    def x(t: float) -> float:
        return left + max(0.0, min(span, float(t))) * scale

    out = [_open(width, height, title, "timeline"),
           f'<rect x="{left}" y="{axis_y - 22}" width="{right - left}" height="18" fill="#e8f5e9" rx="2">'
           "<title>traffic delivered</title></rect>"]
    for start, end in windows:
        w = max(1.5, x(end) - x(start))
        out.append(f'<rect class="loss" x="{x(start):.1f}" y="{axis_y - 22}" width="{w:.1f}" height="18" fill="{LOSS}">'
                   f"<title>loss {_num(start)}-{_num(end)} {_e(axis)}: {_num(end - start)} {_e(axis)}</title></rect>")
        out.append(f'<text x="{x(start) + w / 2:.1f}" y="{axis_y - 26}" font-size="10" font-weight="600" '
                   f'text-anchor="middle" fill="{LOSS}">{_num(end - start)} {_e(axis)}</text>')
    if limit_ms is not None:
        lx = x(limit_ms)
        out.append(f'<line class="limit" x1="{lx:.1f}" y1="{axis_y - 30}" x2="{lx:.1f}" y2="{axis_y}" stroke="#9a6700" '
                   f'stroke-width="1.5" stroke-dasharray="4,3"/><text x="{lx - 3:.1f}" y="{axis_y - 32}" font-size="10" '
                   f'text-anchor="end" fill="#9a6700">limit {_num(limit_ms)} {_e(axis)}</text>')
    for t, label in marks:
        mx = x(t)
        out.append(f'<line class="mark" x1="{mx:.1f}" y1="{axis_y - 26}" x2="{mx:.1f}" y2="{axis_y + 2}" stroke="#1f2328" '
                   f'stroke-width="1.2"/><text x="{mx + 2:.1f}" y="{axis_y - 28}" font-size="10" fill="#1f2328">{_e(label)}</text>')
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}" stroke="#59636e" stroke-width="1"/>')
    step = nice_step(span)
    t = 0.0
    while t <= span + 1e-9:
        tx = x(t)
        out.append(f'<line x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 4}" stroke="#59636e"/>'
                   f'<text x="{tx:.1f}" y="{axis_y + 16}" font-size="10" text-anchor="middle" fill="#59636e">{_num(t)}</text>')
        t += step
    out.append(f'<text x="{right}" y="{axis_y + 16 + 12}" font-size="10" text-anchor="end" fill="#59636e">{_e(axis)}</text></svg>')
    return "".join(out)
