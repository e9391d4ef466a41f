"""Kaplan-Meier survival by acquisition channel: the chart and the table.

"All users" is the reference, drawn dark and thick; the largest channels
follow, each in its own colour and dash. A channel that holds every user
draws the very same curve as "all users", one on top of the other, so the
two are merged into one labelled line rather than drawn twice; channels too
small for a readable band stay in the table only.
"""

from __future__ import annotations

import dataclasses

from retention.report import charts
from retention.report.context import Context
from retention.report.formats import fmt_int, fmt_num, fmt_pct, fmt_tick_pct
from retention.report.markup import table

MAX_CHANNEL_CURVES = 6  # more lines than this make a chart nobody can read
MIN_CURVE_USERS = 100  # smaller groups' confidence bands cover the chart; they stay in the table
SURVIVAL_DAYS = (30, 90, 365)
CURVE_COLUMNS = ("timeline_days", "survival", "ci_lower", "ci_upper")
ALL = ("all", "all")


def survival(ctx: Context) -> str:
    rows = ctx.rows(
        "survival_curves",
        "SELECT group_kind, group_value, timeline_days, survival, ci_lower, ci_upper, at_risk "
        "FROM survival_curves WHERE run_id = $run_id AND product_id = $product AND group_kind "
        "IN ('all', 'acquisition_channel') ORDER BY group_kind, group_value, timeline_days",
    )
    curves: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        curves.setdefault((r["group_kind"], r["group_value"]), []).append(r)
    if not curves:
        return ""
    size = {key: max(p["at_risk"] for p in points) for key, points in curves.items()}
    keys = sorted(curves, key=lambda k: (k[0] != "all", -size[k], k[1]))  # all users first
    names = {key: key[1] for key in keys} | {ALL: "all users"}
    same = [k for k in keys if k != ALL and ALL in size and size[k] == size[ALL]]
    if same:  # one channel holds everyone: its curve is the all-users curve
        names[ALL] = f"all users (all from {same[0][1]})"
    columns = [("Channel", None), ("Users", fmt_int)]
    columns += [(f"Survival at {d} days", fmt_pct) for d in SURVIVAL_DAYS]
    table_rows = [
        (names[key], size[key], *(_survival_at(curves[key], d) for d in SURVIVAL_DAYS))
        for key in keys
    ]
    drawn = [k for k in keys if k not in same]
    chart = _chart(ctx, curves, drawn, size, names)
    return chart + table(columns, table_rows, cls="survival")


def _chart(ctx: Context, curves: dict, keys: list, size: dict, names: dict) -> str:
    """All users with its 95% band, and the largest channels without (they would crowd)."""
    big = [key for key in keys if key == ALL or size[key] >= MIN_CURVE_USERS]
    shown = big[: MAX_CHANNEL_CURVES + 1]
    series = []
    for key in shown:
        xs, ys, lower, upper = ([p[c] for p in curves[key]] for c in CURVE_COLUMNS)
        band = key == ALL
        series.append(
            charts.Series(names[key], xs, ys, lower if band else None, upper if band else None)
        )
    axes = charts.Axes("days since first seen", "still active", fmt_num, fmt_tick_pct)
    axes = dataclasses.replace(axes, y_min=0, y_max=1, step=True)
    chart = charts.line_chart(f"Kaplan-Meier survival, product {ctx.product}", series, axes)
    note = '<p class="meta">Dotted thin lines: the 95% band of all users.</p>'
    hidden = len(keys) - len(shown)
    if hidden:
        note += (
            f'<p class="meta">Channels with fewer than {MIN_CURVE_USERS} users or past the '
            f"{MAX_CHANNEL_CURVES} largest are in the table only ({hidden}).</p>"
        )
    return chart + note


def _survival_at(points: list[dict], day: int) -> float | None:
    """The Kaplan-Meier estimate at `day`, or None past the last observed time."""
    if not points or points[-1]["timeline_days"] < day:
        return None
    before = [p["survival"] for p in points if p["timeline_days"] <= day]
    return before[-1] if before else 1.0
