"""The operational sections of `retention report`: daily metrics, acquisition
channels and cohort retention, read from the metrics tables of the published
run (`latest_daily_metrics`, `latest_channel_metrics`, `latest_cohort_retention`).
Each returns HTML, or nothing when its table is missing or empty.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from retention.report import charts
from retention.report.charts import fmt_int, fmt_money, fmt_num, fmt_pct

DAILY_WINDOW_DAYS = 90


class ProductContext(Protocol):
    """The part of report._Context the sections use: one product's rows of a table."""

    product: str

    def rows(self, table: str, sql: str) -> list[dict]: ...


def daily(ctx: ProductContext) -> str:
    rows = ctx.rows(
        "latest_daily_metrics",
        "SELECT * FROM latest_daily_metrics WHERE product_id = $product AND day > "
        f"(SELECT max(day) FROM latest_daily_metrics WHERE product_id = $product) "
        f"- INTERVAL {DAILY_WINDOW_DAYS} DAY ORDER BY day",
    )
    if not rows:
        return ""
    days = [r["day"].toordinal() for r in rows]
    parts = []
    for column, label in (("unique_users", "UV"), ("gmv", "GMV")):
        axes = charts.Axes("day", label, charts.fmt_day, fmt_int, 0, x_ticks=charts.month_ticks)
        series = [charts.Series(label, days, [r[column] for r in rows])]
        parts.append(charts.line_chart(f"{label} per day, product {ctx.product}", series, axes))
    names = [("day", "Day", None), ("page_views", "PV", fmt_int), ("unique_users", "UV", fmt_int)]
    names += [
        ("sessions", "Sessions", fmt_int), ("avg_session_seconds", "Avg session (s)", fmt_num),
        ("buyers", "Buyers", fmt_int), ("orders", "Orders", fmt_int), ("gmv", "GMV", fmt_money),
        ("conversion_rate", "Conversion", fmt_pct), ("average_order_value", "AOV", fmt_money),
        ("repeat_purchase_rate", "Repeat rate", fmt_pct),
    ]  # fmt: skip
    recent = [tuple(r[key] for key, _, _ in names) for r in reversed(rows[-7:])]
    columns = [(header, fmt) for _, header, fmt in names]
    return "".join(parts) + charts.table(columns, recent, "The last 7 days", cls="daily")


def channels(ctx: ProductContext) -> str:
    rows = ctx.rows(
        "latest_channel_metrics",
        "SELECT acquisition_channel, users_acquired, active_users, core_users, share_active, "
        "share_core, revenue_total, revenue_30d, spend, cost_per_user, roi "
        "FROM latest_channel_metrics WHERE product_id = $product "
        "ORDER BY users_acquired DESC, acquisition_channel",
    )
    columns = [("Channel", None), ("Users acquired", fmt_int), ("Active", fmt_int)]
    columns += [("Core", fmt_int), ("Share active", fmt_pct), ("Share core", fmt_pct)]
    columns += [("Revenue", fmt_money), ("Revenue 30d", fmt_money), ("Spend", fmt_money)]
    columns += [("Cost per user", fmt_money), ("ROI", fmt_pct)]
    return charts.rows_table(columns, rows, "channels")


def cohorts(ctx: ProductContext) -> str:
    rows = ctx.rows(
        "latest_cohort_retention",
        "SELECT cohort_month, cohort_users, day_n, eligible_users, retained_on_day, "
        "retention_on_day FROM latest_cohort_retention WHERE product_id = $product "
        "AND eligible_users > 0 AND retention_on_day IS NOT NULL",
    )
    if not rows:
        return ""
    cells = {(r["cohort_month"], r["day_n"]): r for r in rows}
    sizes = {r["cohort_month"]: r["cohort_users"] for r in rows}
    day_ns = sorted({r["day_n"] for r in rows})
    top = max(r["retention_on_day"] for r in rows) or 1  # shade relative to the best cell
    matrix = [
        (
            month.strftime("%Y-%m") if isinstance(month, dt.date) else str(month),
            [charts.HeatCell(fmt_int(sizes[month]))]
            + [_cohort_cell(cells.get((month, day_n)), top) for day_n in day_ns],
        )
        for month in sorted(sizes)
    ]
    return (
        '<p class="meta">Share of each monthly cohort active on day N after joining; the '
        f"darkest cell is the highest ({fmt_pct(top)}); blank: the cohort is too young.</p>"
        + charts.heat_table("Cohort", ["Users", *(f"day {d}" for d in day_ns)], matrix, "cohorts")
    )


def _cohort_cell(row: dict | None, top: float) -> charts.HeatCell:
    if row is None:
        return charts.HeatCell("")
    title = f"{fmt_int(row['retained_on_day'])} of {fmt_int(row['eligible_users'])} users"
    share = row["retention_on_day"]
    return charts.HeatCell(fmt_pct(share), share / top, title)
