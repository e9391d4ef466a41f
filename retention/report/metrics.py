"""The operational detail of `retention report`: the last days' metrics, acquisition
channels and cohort retention, from the reported run's metrics tables
(`daily_metrics`, `channel_metrics`, `cohort_retention`).

Cohort retention reads "came back on day N or later" by default: a user who
returns on day 8 has not been lost at day 7, and the on-that-exact-day rate
(much lower, and noisy) reads like churn when shown alone; it stays one
click away. Columns the event log cannot support are left out with a
sentence saying why, rather than shown as 0.
"""

from __future__ import annotations

from retention.report.context import Context
from retention.report.formats import fmt_int, fmt_money, fmt_num, fmt_pct
from retention.report.markup import HeatCell, heat_table, rows_table, table
from retention.report.today import UNSUPPORTED, support

DAILY_DAYS = 7
DAILY_COLUMNS = (  # column, header, format, what the log needs for it
    ("day", "Day", None, ""), ("page_views", "PV", fmt_int, "has_page_views"),
    ("unique_users", "UV", fmt_int, ""), ("sessions", "Sessions", fmt_int, "has_visits"),
    ("avg_session_seconds", "Avg session (s)", fmt_num, "has_visits"),
    ("buyers", "Buyers", fmt_int, ""), ("orders", "Orders", fmt_int, ""),
    ("gmv", "GMV", fmt_money, "has_amounts"),
    ("conversion_rate", "Conversion", fmt_pct, "has_visits"),
    ("average_order_value", "AOV", fmt_money, "has_amounts"),
    ("repeat_purchase_rate", "Repeat rate", fmt_pct, ""),
)  # fmt: skip


def daily(ctx: Context) -> str:
    rows = ctx.rows(
        "daily_metrics",
        "SELECT * FROM daily_metrics WHERE run_id = $run_id AND product_id = $product "
        f"ORDER BY day DESC LIMIT {DAILY_DAYS}",
    )
    if not rows:
        return ""
    supported = support(ctx)
    shown = [c for c in DAILY_COLUMNS if supported.get(c[3], True)]
    left_out = [c for c in DAILY_COLUMNS if not supported.get(c[3], True)]
    columns = [(header, fmt) for _, header, fmt, _ in shown]
    body = [tuple(r[key] for key, *_ in shown) for r in rows]
    notes = {}
    for _, header, _, need in left_out:
        notes.setdefault(UNSUPPORTED[need], []).append(header)
    note = "".join(
        f'<p class="meta unsupported">{", ".join(headers)}: {text}.</p>'
        for text, headers in notes.items()
    )
    return table(columns, body, f"The last {len(rows)} days with events", cls="daily") + note


def channels(ctx: Context) -> str:
    rows = ctx.rows(
        "channel_metrics",
        "SELECT acquisition_channel, users_acquired, active_users, core_users, share_active, "
        "share_core, revenue_total, revenue_30d, spend, cost_per_user, roi "
        "FROM channel_metrics WHERE run_id = $run_id AND product_id = $product "
        "ORDER BY users_acquired DESC, acquisition_channel",
    )
    columns = [("Channel", None), ("Users acquired", fmt_int), ("Active", fmt_int)]
    columns += [("Core", fmt_int), ("Share active", fmt_pct), ("Share core", fmt_pct)]
    columns += [("Revenue", fmt_money), ("Revenue 30d", fmt_money), ("Spend", fmt_money)]
    columns += [("Cost per user", fmt_money), ("ROI", fmt_pct)]
    return rows_table(columns, rows, "channels")


def cohorts(ctx: Context) -> str:
    """On-or-after-day-N retention, with the exact-day table behind a toggle."""
    rows = ctx.rows(
        "cohort_retention",
        "SELECT cohort_month, cohort_users, day_n, eligible_users, retained_on_day, "
        "retained_on_or_after, retention_on_day, retention_unbounded FROM cohort_retention "
        "WHERE run_id = $run_id AND product_id = $product AND eligible_users > 0 "
        "AND retention_unbounded IS NOT NULL",
    )
    if not rows:
        return ""
    after = _matrix(rows, "retained_on_or_after", "retention_unbounded", "cohorts")
    exact = _matrix(rows, "retained_on_day", "retention_on_day", "cohorts-exact")
    return (
        '<p class="meta">Share of each monthly cohort seen again <strong>on or after</strong> '
        "day N after their first day (still around by then). Blank: the cohort is too young "
        "for day N.</p>"
        + after
        + "<details><summary>Show the share active on day N exactly</summary>"
        '<p class="meta">Only users with an event on that very day count, so these are much '
        "lower than the shares above and move with weekdays.</p>" + exact + "</details>"
    )


def _matrix(rows: list[dict], retained: str, share: str, cls: str) -> str:
    cells = {(r["cohort_month"], r["day_n"]): r for r in rows}
    sizes = {r["cohort_month"]: r["cohort_users"] for r in rows}
    day_ns = sorted({r["day_n"] for r in rows})
    top = max(r[share] or 0 for r in rows) or 1  # shade relative to the best cell
    matrix = [
        (
            str(month)[:7],
            [HeatCell(fmt_int(sizes[month]))]
            + [_cell(cells.get((month, day_n)), retained, share, top) for day_n in day_ns],
        )
        for month in sorted(sizes)
    ]
    return heat_table("Cohort", ["Users", *(f"day {d}" for d in day_ns)], matrix, cls)


def _cell(row: dict | None, retained: str, share: str, top: float) -> HeatCell:
    if row is None:
        return HeatCell("")
    title = f"{fmt_int(row[retained])} of {fmt_int(row['eligible_users'])} users"
    return HeatCell(fmt_pct(row[share]), (row[share] or 0) / top, title)
