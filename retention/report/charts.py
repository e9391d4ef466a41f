"""The report's charts: plain SVG strings, no charting library and no script.

The page must open offline from an attachment, so charts are drawn here.
Every mark stays readable for everyone: each colour has a contrast ratio of
at least 3:1 against the white page (WCAG's bar for graphics), lines differ
by dash pattern as well as by colour, and confidence bands are drawn as
dotted bounds, not as pale fills that would vanish. Charts keep their text
at a readable size on a phone: each scales down only to `MIN_SCALE` of its
drawn width and scrolls sideways past that. Each chart carries an SVG
`<title>` so screen readers and tooltips can name it, and every label goes
through `esc` (labels come from the data).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retention.report.formats import esc, fmt_num, is_missing

# Okabe-Ito hues, darkened where needed to reach 3:1 on white.
PALETTE = ("#0072B2", "#D55E00", "#007A5A", "#B04A86", "#8C6D1F", "#6A3D9A", "#767676")
FIRST_COLOUR = "#222222"  # the reference series ("all users") is drawn dark and thicker
DASHES = ("", "7 3", "2 3", "9 3 2 3", "12 4", "4 2 1 2", "1 2")
TIER_STYLES = {  # one look per tier on every chart: (colour, dash)
    "core": ("#0072B2", ""),
    "active": ("#007A5A", "7 3"),
    "valid": ("#8C6D1F", "2 3"),
    "new": ("#6A3D9A", "9 3 2 3"),
    "at_risk": ("#D55E00", "12 4"),
    "churned": ("#222222", "4 2 1 2"),
    "junk": ("#767676", "1 2"),
}
AXIS_COLOUR = "#6e7781"
WIDE, SMALL = 760, 420  # drawn widths of a full-width chart and of a small multiple
MIN_SCALE = 0.78  # 13 px text never renders below 10 px
PHONE_WIDTH = 340  # what is left of a 390 px screen beside the page margins
CHART_HINT = "Swipe sideways to see the whole chart →"


def style(index: int, name: str = "") -> tuple[str, str]:
    """(colour, dash) of a series: its tier's look, else the index-th of the palette."""
    if name in TIER_STYLES:
        return TIER_STYLES[name]
    return PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]


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


def _svg_open(title: str, width: int, height: int) -> str:
    """A captioned, scrollable figure around the chart; close with `_CLOSE`."""
    floor = round(width * MIN_SCALE)
    hint = f'<p class="hint" aria-hidden="true">{CHART_HINT}</p>' if floor > PHONE_WIDTH else ""
    return (
        f'<figure><figcaption>{esc(title)}</figcaption>{hint}<div class="scroll">'
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'class="chart" style="min-width:{floor}px"><title>{esc(title)}</title>'
    )


_CLOSE = "</svg></div></figure>"


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    value_format: Callable[[object], str],
    colours: Sequence[str] | None = None,
    label_width: int = 130,
) -> str:
    """Horizontal bars, one per (label, value), value printed at the end of each bar."""
    bar_width, row = WIDE - label_width - 90, 26
    height = row * len(items) + 10
    top = max((value for _, value in items if not is_missing(value)), default=0) or 1
    parts = [_svg_open(title, WIDE, height)]
    for index, (label, value) in enumerate(items):
        y = 5 + index * row
        width = 0 if is_missing(value) else max(float(value) / top * bar_width, 1)
        colour = colours[index] if colours else PALETTE[0]
        parts.append(
            f"<g><title>{esc(f'{label}: {value_format(value)}')}</title>"
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" '
            f'fill="{colour}"></rect>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 16}">{esc(value_format(value))}'
            "</text></g>"
        )
    return "".join(parts) + _CLOSE


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
    """How the axes of a line chart are labelled and bounded, and how wide it is drawn."""

    x_label: str
    y_label: str
    x_format: Callable[[float], str] = fmt_num
    y_format: Callable[[float], str] = fmt_num
    y_min: float | None = None
    y_max: float | None = None
    step: bool = False  # Kaplan-Meier curves are step functions
    x_ticks: Callable[[float, float], list[float]] = nice_ticks
    width: int = WIDE
    markers: bool = False  # dots on each point: for a few points far apart
    height: int = 300


@dataclass(frozen=True)
class _Scale:
    x0: float
    x1: float
    y0: float
    y1: float
    width: int
    height: int
    left: int = 64
    right: int = 40
    top: int = 12
    bottom: int = 44

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1
        return self.left + (value - self.x0) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1
        return self.top + (1 - (value - self.y0) / span) * (self.height - self.top - self.bottom)


def line_chart(title: str, series: Sequence[Series], axes: Axes) -> str:
    """Lines (dotted bounds for bands) on shared axes; a legend when there are several."""
    xs = [x for s in series for x in s.xs]
    ys = [y for s in series for y in [*s.ys, *(s.lower or ()), *(s.upper or ())]]
    ys = [y for y in ys if not is_missing(y)]
    if not xs or not ys:
        return ""
    x_low, x_high = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    x_ticks = [x for x in axes.x_ticks(x_low, x_high) if x_low <= x <= x_high + 1e-9]
    low = axes.y_min if axes.y_min is not None else min(ys)
    high = axes.y_max if axes.y_max is not None else max(ys)
    y_ticks = nice_ticks(low, high, 5 if axes.height >= 250 else 4)
    scale = _Scale(x_low, x_high, y_ticks[0], y_ticks[-1], axes.width, axes.height)
    columns = max(1, (axes.width - scale.left) // 170)
    legend_rows = math.ceil(len(series) / columns) if len(series) > 1 else 0
    parts = [_svg_open(title, axes.width, axes.height + 22 * legend_rows)]
    parts.append(_grid(scale, x_ticks, y_ticks, axes))
    reference = len(series) > 1 and series[0].name.startswith("all users")
    looks = [_look(index, line.name, reference) for index, line in enumerate(series)]
    for line, (colour, dash) in zip(series, looks, strict=True):
        thick = reference and line is series[0]
        parts.append(_line(line, colour, dash, scale, axes, thick))
    if legend_rows:
        parts.append(_legend(series, looks, scale, columns))
    return "".join(parts) + _CLOSE


def _look(index: int, name: str, reference: bool) -> tuple[str, str]:
    if reference:
        return (FIRST_COLOUR, "") if index == 0 else style(index - 1, name)
    return style(index, name)


def _grid(scale: _Scale, x_ticks: list[float], y_ticks: list[float], axes: Axes) -> str:
    bottom, right, left = scale.height - scale.bottom, scale.width - scale.right, scale.left
    parts = ['<g class="axis">']
    for y in y_ticks:
        py = scale.y(y)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{py:.1f}" y2="{py:.1f}" class="grid"></line>'
            f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">{esc(axes.y_format(y))}'
            "</text>"
        )
    every = max(1, math.ceil(len(x_ticks) * 80 / (right - left)))  # labels never collide
    for index, x in enumerate(x_ticks):
        px = scale.x(x)
        label = esc(axes.x_format(x)) if index % every == 0 else ""
        parts.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{bottom}" y2="{bottom + 4}"></line>'
            f'<text x="{px:.1f}" y="{bottom + 17}" text-anchor="middle">{label}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"></line>'
        f'<text x="{(left + right) / 2}" y="{scale.height - 6}" text-anchor="middle">'
        f"{esc(axes.x_label)}</text>"
        f'<text transform="translate(14 {(scale.top + bottom) / 2}) rotate(-90)" '
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


def _polyline(points, scale: _Scale, colour: str, dash: str, width: float) -> str:
    path = " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in points)
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}"'
        f"{dashes}></polyline>"
    )


def _line(line: Series, colour: str, dash: str, scale: _Scale, axes: Axes, thick: bool) -> str:
    points = _points(line.xs, line.ys, axes.step)
    parts = [f"<g><title>{esc(line.name)}</title>"]
    if line.lower is not None and line.upper is not None:
        for bound in (line.lower, line.upper):  # the 95% band's edges, thin and dotted
            parts.append(_polyline(_points(line.xs, bound, axes.step), scale, colour, "1 3", 1))
    parts.append(_polyline(points, scale, colour, dash, 2.8 if thick else 2))
    if axes.markers:
        parts += [
            f'<circle cx="{scale.x(x):.1f}" cy="{scale.y(y):.1f}" r="3.5" fill="{colour}"></circle>'
            for x, y in points
        ]
    return "".join(parts) + "</g>"


def _legend(series: Sequence[Series], looks, scale: _Scale, columns: int) -> str:
    parts = ['<g class="legend">']
    for index, (line, (colour, dash)) in enumerate(zip(series, looks, strict=True)):
        x = scale.left + (index % columns) * 170
        y = scale.height + 4 + (index // columns) * 22
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{x}" x2="{x + 26}" y1="{y + 2}" y2="{y + 2}" stroke="{colour}" '
            f'stroke-width="2.5"{dashes}></line>'
            f'<text x="{x + 32}" y="{y + 6}">{esc(_shorten(line.name, 18))}</text>'
        )
    return "".join(parts) + "</g>"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def histogram(title: str, bins: Sequence[tuple[str, float]], axes: Axes, note: str = "") -> str:
    """Vertical bars over labelled bins (a distribution); `note` is printed top right."""
    if not bins:
        return ""
    top = max(count for _, count in bins) or 1
    y_ticks = nice_ticks(0, top, 4)
    scale = _Scale(0, len(bins), 0, y_ticks[-1], axes.width, axes.height)
    slot = (scale.width - scale.left - scale.right) / len(bins)
    parts = [_svg_open(title, axes.width, axes.height), _grid(scale, [], y_ticks, axes)]
    every = max(1, math.ceil(len(bins) * 60 / (scale.width - scale.left - scale.right)))
    for index, (label, count) in enumerate(bins):
        x, y = scale.x(index) + 1, scale.y(count)
        shown = esc(label) if index % every == 0 else ""
        parts.append(
            f"<g><title>{esc(f'{label}: {axes.y_format(count)}')}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{scale.y(0) - y:.1f}" fill="{PALETTE[0]}"></rect>'
            f'<text x="{x + slot / 2:.1f}" y="{scale.height - scale.bottom + 17}" '
            f'text-anchor="middle">{shown}</text></g>'
        )
    if note:
        parts.append(
            f'<text x="{scale.width - scale.right}" y="24" text-anchor="end">{esc(note)}</text>'
        )
    return "".join(parts) + _CLOSE


@dataclass(frozen=True)
class Interval:
    """One row of a forest plot: an estimate with its 95% interval."""

    label: str
    estimate: float
    lower: float | None
    upper: float | None


def forest_plot(title: str, rows: Sequence[Interval], x_label: str, reference: float = 1.0):
    """Estimates as dots with interval whiskers on a log axis, a dashed line at `reference`."""
    values = [
        v for r in rows for v in (r.estimate, r.lower, r.upper) if not is_missing(v) and v > 0
    ]
    if not values:
        return ""
    low, high = math.log(min(*values, reference) * 0.95), math.log(max(*values, reference) * 1.05)
    label_width, row = 210, 24
    height = 36 + row * len(rows)
    span = WIDE - label_width - 30

    def x(value: float) -> float:
        return label_width + (math.log(value) - low) / (high - low) * span

    ref = x(reference)
    parts = [
        _svg_open(title, WIDE, height),
        f'<line x1="{ref:.1f}" x2="{ref:.1f}" y1="4" y2="{height - 30}" stroke="{AXIS_COLOUR}" '
        'stroke-dasharray="4 3"></line>',
        f'<text x="{ref:.1f}" y="{height - 14}" text-anchor="middle">{esc(x_label)} = '
        f"{fmt_num(reference)}</text>",
    ]
    for index, r in enumerate(rows):
        y = 14 + index * row
        text = f"{r.label}: {fmt_num(r.estimate)} ({fmt_num(r.lower)} to {fmt_num(r.upper)})"
        parts.append(f"<g><title>{esc(text)}</title>")
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 4}" text-anchor="end">'
            f"{esc(_shorten(r.label, 28))}</text>"
        )
        if not is_missing(r.lower) and not is_missing(r.upper) and r.lower > 0:
            parts.append(
                f'<line x1="{x(r.lower):.1f}" x2="{x(r.upper):.1f}" y1="{y}" y2="{y}" '
                f'stroke="{PALETTE[0]}" stroke-width="2"></line>'
            )
        if r.estimate > 0:
            parts.append(
                f'<circle cx="{x(r.estimate):.1f}" cy="{y}" r="4.5" fill="{PALETTE[0]}"></circle>'
            )
        parts.append("</g>")
    return "".join(parts) + _CLOSE
