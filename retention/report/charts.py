"""How the offline HTML report draws: formats, tables, heatmaps, SVG charts, the page.

The report must open on a laptop with no network and no JavaScript, so charts
are plain SVG strings drawn here instead of a charting library, and the style
sheet is inline. Every piece of text that reaches the markup goes through
`esc`, because labels (channel names, segment names) come from the data and
may contain markup. Each chart carries an SVG `<title>` so screen readers and
tooltips can name it; tables head their rows and columns with `<th scope>`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D1F", "#999999")
FIRST_COLOUR = "#222222"  # the reference series ("all users") is drawn dark and thicker
MISSING = "–"

GENERATOR = "retention report"  # marks a file `retention report` may write again


def esc(value: object) -> str:
    """Text from anywhere, safe inside HTML text and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(value: object) -> str:
    """12441 -> "12,441"."""
    return MISSING if is_missing(value) else f"{round(float(value)):,}"


def fmt_pct(value: object) -> str:
    """0.6354 -> "63.5%"; small shares keep two decimals so they do not read as 0."""
    if is_missing(value):
        return MISSING
    pct = float(value) * 100
    return f"{pct:.2f}%" if 0 < abs(pct) < 1 else f"{pct:,.1f}%"


def fmt_tick_pct(value: object) -> str:
    """Axis ticks are round numbers: 0.2 -> "20%"."""
    return f"{float(value) * 100:.0f}%"


def fmt_money(value: object) -> str:
    """Amounts: cents below 1,000, whole units (with separators) above."""
    if is_missing(value):
        return MISSING
    number = float(value)
    return f"{number:,.2f}" if abs(number) < 1000 else f"{number:,.0f}"


def fmt_num(value: object) -> str:
    """Model parameters and ratios: four significant digits, any magnitude."""
    if is_missing(value):
        return MISSING
    number = float(value)
    if number != 0 and (abs(number) >= 1e6 or abs(number) < 1e-3):
        return f"{number:.3e}"
    return f"{number:,.4g}" if abs(number) < 1e4 else f"{number:,.0f}"


def fmt_day(value: float) -> str:
    """A day ordinal (as used on date axes) -> "2024-06-03"."""
    return dt.date.fromordinal(round(value)).isoformat()


def heat_colour(share: object) -> str:
    """Background for a 0..1 value in a heatmap table: white to deep blue.

    Text stays dark on light cells and turns white on dark ones, so every cell
    keeps enough contrast to read.
    """
    if is_missing(share):
        return ""
    t = min(max(float(share), 0.0), 1.0) ** 0.6  # spread out the low end, where most cells sit
    red, green, blue = (round(255 + (end - 255) * t) for end in (8, 69, 148))
    text = "#fff" if t > 0.7 else "#111"  # both keep a contrast ratio above 4.5
    return f"background:rgb({red},{green},{blue});color:{text}"


Column = tuple[str, Callable[[object], str] | None]  # header, formatter (None: text)


def table(columns: Sequence[Column], rows: Iterable[Sequence], caption: str = "", cls="") -> str:
    """A table whose first column heads each row; formatted columns are right-aligned."""
    head = "".join(
        f'<th scope="col"{"" if fmt is None else " class=num"}>{esc(h)}</th>' for h, fmt in columns
    )
    body = []
    for row in rows:
        cells = []
        for index, ((_, fmt), value) in enumerate(zip(columns, row, strict=True)):
            tag = "th" if index == 0 else "td"
            attrs = (' scope="row"' if index == 0 else "") + ("" if fmt is None else " class=num")
            cells.append(f"<{tag}{attrs}>{esc(value if fmt is None else fmt(value))}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="{cls}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


@dataclass(frozen=True)
class HeatCell:
    """One cell of a heatmap table: its text, the 0..1 value that shades it, a tooltip."""

    text: str
    share: float | None = None
    title: str = ""


def heat_table(
    corner: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[HeatCell]]], cls: str
) -> str:
    """A matrix with shaded cells (tier migration, cohort retention); empty cells stay blank."""
    head = "".join(f'<th scope="col" class="num">{esc(c)}</th>' for c in columns)
    body = []
    for label, cells in rows:
        tds = "".join(
            f'<td class="num" style="{heat_colour(c.share)}" title="{esc(c.title)}">'
            f"{esc(c.text)}</td>"
            for c in cells
        )
        body.append(f'<tr><th scope="row">{esc(label)}</th>{tds}</tr>')
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr><th scope="col">{esc(corner)}</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round axis ticks (steps of 1, 2 or 5 times a power of ten) covering low..high."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int(math.ceil((high - start) / step)) + 1)]


def month_ticks(low: float, high: float) -> list[float]:
    """First days of the months between two day ordinals (a date axis reads best so)."""
    first, last = dt.date.fromordinal(math.ceil(low)), dt.date.fromordinal(math.floor(high))
    ticks, month = [], dt.date(first.year, first.month, 1)
    while month <= last:
        if month >= first:
            ticks.append(float(month.toordinal()))
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return ticks


def bar_chart(
    title: str, items: Sequence[tuple[str, float]], value_format: Callable[[object], str]
) -> str:
    """Horizontal bars, one per (label, value), value printed at the end of each bar."""
    label_width, bar_width, row = 130, 420, 26
    height = row * len(items) + 10
    top = max((value for _, value in items if not is_missing(value)), default=0) or 1
    parts = [_svg_open(title, label_width + bar_width + 90, height)]
    for index, (label, value) in enumerate(items):
        y = 5 + index * row
        width = 0 if is_missing(value) else max(float(value) / top * bar_width, 1)
        text = f"{label}: {value_format(value)}"
        parts.append(
            f"<g><title>{esc(text)}</title>"
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"></rect>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 16}">{esc(value_format(value))}'
            "</text></g>"
        )
    parts.append("</svg></figure>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    """One line of a line chart, with an optional confidence band."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    lower: Sequence[float] | None = None
    upper: Sequence[float] | None = None


@dataclass(frozen=True)
class Axes:
    """How the axes of a line chart are labelled and bounded."""

    x_label: str
    y_label: str
    x_format: Callable[[float], str] = fmt_num
    y_format: Callable[[float], str] = fmt_num
    y_min: float | None = None
    y_max: float | None = None
    step: bool = False  # Kaplan-Meier curves are step functions
    x_ticks: Callable[[float, float], list[float]] = nice_ticks


WIDTH, HEIGHT = 1000, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 45, 15, 45
LEGEND_COLUMNS = 5


def line_chart(title: str, series: Sequence[Series], axes: Axes) -> str:
    """Lines (and bands) on shared axes, with a legend when there is more than one line."""
    xs = [x for s in series for x in s.xs]
    ys = [y for s in series for y in [*s.ys, *(s.lower or ()), *(s.upper or ())]]
    ys = [y for y in ys if not is_missing(y)]
    if not xs or not ys:
        return ""
    x_low, x_high = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    x_ticks = [x for x in axes.x_ticks(x_low, x_high) if x_low <= x <= x_high + 1e-9]
    low = axes.y_min if axes.y_min is not None else min(ys)
    high = axes.y_max if axes.y_max is not None else max(ys)
    y_ticks = nice_ticks(low, high, 5)
    scale = _Scale(x_low, x_high, y_ticks[0], y_ticks[-1])
    legend_rows = math.ceil(len(series) / LEGEND_COLUMNS) if len(series) > 1 else 0
    height = HEIGHT + 22 * legend_rows
    parts = [_svg_open(title, WIDTH, height), _grid(scale, x_ticks, y_ticks, axes)]
    for index, line in enumerate(series):
        colour = FIRST_COLOUR if index == 0 and len(series) > 1 else PALETTE[index % len(PALETTE)]
        parts.append(_line(line, colour, scale, axes.step, thick=index == 0))
    if legend_rows:
        parts.append(_legend(series, HEIGHT))
    parts.append("</svg></figure>")
    return "".join(parts)


@dataclass(frozen=True)
class _Scale:
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1
        return LEFT + (value - self.x0) / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1
        return TOP + (1 - (value - self.y0) / span) * (HEIGHT - TOP - BOTTOM)


def _svg_open(title: str, width: int, height: int) -> str:
    """A captioned figure around the chart; `_svg_close` ends both."""
    return (
        f'<figure><figcaption>{esc(title)}</figcaption><svg role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" class="chart">'
        f"<title>{esc(title)}</title>"
    )


def _grid(scale: _Scale, x_ticks: list[float], y_ticks: list[float], axes: Axes) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = ['<g class="axis">']
    for y in y_ticks:
        py = scale.y(y)
        parts.append(
            f'<line x1="{LEFT}" x2="{right}" y1="{py:.1f}" y2="{py:.1f}" class="grid"></line>'
            f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{esc(axes.y_format(y))}'
            "</text>"
        )
    for x in x_ticks:
        px = scale.x(x)
        parts.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{bottom}" y2="{bottom + 4}"></line>'
            f'<text x="{px:.1f}" y="{bottom + 17}" text-anchor="middle">'
            f"{esc(axes.x_format(x))}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}"></line>'
        f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{esc(axes.x_label)}</text>"
        f'<text transform="translate(14 {(TOP + bottom) / 2}) rotate(-90)" '
        f'text-anchor="middle">{esc(axes.y_label)}</text></g>'
    )
    return "".join(parts)


def _points(xs: Sequence[float], ys: Sequence[float], step: bool) -> list[tuple[float, float]]:
    """Pairs without missing values; a step function holds each value until the next x."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if not is_missing(y)]
    if not step:
        return pairs
    stepped: list[tuple[float, float]] = []
    for index, (x, y) in enumerate(pairs):
        if index:
            stepped.append((x, pairs[index - 1][1]))
        stepped.append((x, y))
    return stepped


def _line(line: Series, colour: str, scale: _Scale, step: bool, thick: bool) -> str:
    path = " ".join(
        f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in _points(line.xs, line.ys, step)
    )
    band = ""
    if line.lower is not None and line.upper is not None:
        upper = _points(line.xs, line.upper, step)
        lower = _points(line.xs, line.lower, step)[::-1]
        outline = " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in upper + lower)
        band = f'<polygon points="{outline}" fill="{colour}" fill-opacity="0.12"></polygon>'
    width = 2.5 if thick else 1.6
    return (
        f"<g><title>{esc(line.name)}</title>{band}"
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}">'
        "</polyline></g>"
    )


def _legend(series: Sequence[Series], top: int) -> str:
    parts = ['<g class="legend">']
    for index, line in enumerate(series):
        colour = FIRST_COLOUR if index == 0 else PALETTE[index % len(PALETTE)]
        x = LEFT + (index % LEGEND_COLUMNS) * 180
        y = top + 4 + (index // LEGEND_COLUMNS) * 22
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="4" fill="{colour}"></rect>'
            f'<text x="{x + 20}" y="{y + 6}">{esc(_shorten(line.name, 22))}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def page(title: str, heading: str, facts: list[tuple[str, str]], nav, main: str) -> str:
    """The whole document: strict CSP (nothing may load, no script may run), styles inline.

    `facts` are (label, value) pairs shown under the heading; `nav` is (element id, label).
    """
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    links = "".join(f'<li><a href="#{esc(anchor)}">{esc(label)}</a></li>' for anchor, label in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="{GENERATOR}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><header>"
        f'<h1>{esc(heading)}</h1><dl class="facts">{items}</dl>'
        f'<nav aria-label="Products"><ul>{links}</ul></nav></header>'
        f"<main>{main}</main></body></html>\n"
    )


CSS = """
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--band:#f6f8fa}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);margin:0 auto;max-width:1120px;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0}h2{font-size:20px;border-bottom:2px solid var(--ink);
padding-bottom:4px;margin-top:40px}h3{font-size:16px;margin:28px 0 8px}
.facts{display:flex;flex-wrap:wrap;gap:8px 24px;margin:8px 0}.facts div{min-width:110px}
.facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;font-weight:600}
nav ul{list-style:none;padding:0;display:flex;gap:16px}.meta{color:var(--muted);margin:4px 0}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:8px 0 12px;font-variant-numeric:
tabular-nums}caption{text-align:left;color:var(--muted);padding-bottom:4px}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
thead th{background:var(--band);font-weight:600;white-space:normal;vertical-align:bottom}
.num{text-align:right}
tbody tr:nth-child(even) th,tbody tr:nth-child(even) td:not([style]){background:#fbfcfd}
table.models td:nth-child(2){white-space:normal;max-width:520px}
.notes .warn{color:#8a4600}svg.chart{display:block;max-width:100%;height:auto;margin:4px 0}
figure{margin:12px 0}figcaption{color:var(--muted)}
svg text{font:12px system-ui,sans-serif;fill:var(--ink)}svg .grid{stroke:#e5e7eb}
svg .axis line{stroke:#8c959f}
@media print{h2{break-before:page}}
"""


def rows_table(columns: list[Column], rows: list[dict], cls: str) -> str:
    """Rows whose columns are the table's, in order; nothing when there are none."""
    return table(columns, [tuple(r.values()) for r in rows], cls=cls) if rows else ""
