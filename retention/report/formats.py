"""How the report writes values: escaped text, grouped integers, percents, money, deltas.

Every piece of text that reaches the markup goes through `esc`, because labels
(channel names, segment names, playbooks) come from the data and may contain
markup. Missing values print as a dash, never as 0, so "not measured" cannot
be read as "nothing happened".
"""

from __future__ import annotations

import datetime as dt
import html
import math

MISSING = "–"
MINUS = "−"  # a real minus sign: a hyphen reads as a dash next to numbers


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


def fmt_signed(value: object, fmt=fmt_int) -> str:
    """+32, −12, ±0: the sign always shows, so a change never reads as a level."""
    if is_missing(value):
        return MISSING
    number = float(value)
    if number == 0:
        return "±0"
    text = fmt(abs(number))
    return f"+{text}" if number > 0 else f"{MINUS}{text}"


def fmt_points(value: object) -> str:
    """A difference of two shares in percentage points: 0.012 -> "+1.2 pts"."""
    if is_missing(value):
        return MISSING
    return f"{fmt_signed(float(value) * 100, lambda v: f'{float(v):.1f}')} pts"


def arrow(value: object) -> str:
    """▲ up, ▼ down, = unchanged (the number next to it says by how much)."""
    if is_missing(value):
        return ""
    return "▲" if float(value) > 0 else "▼" if float(value) < 0 else "="
