"""History across runs: the lifecycle over the published days, the flows between
the last two, and the KPI trends.

One run stands for each as_of day (`sql/report/run_days.sql`), so a day rerun
five times is one point, not five. The flows compare the reported run with
the previous day's and include users who stayed, so each row of the matrix
adds up to that tier's users on the previous day.
"""

from __future__ import annotations

import datetime as dt

from retention.report import charts
from retention.report.context import Context
from retention.report.formats import fmt_day, fmt_int, fmt_money, fmt_num, fmt_pct, fmt_tick_pct
from retention.report.markup import HeatCell, heat_table
from retention.report.today import KPIS, UNSUPPORTED, support, tier_order

TREND_DAYS = 180
MAX_FLOWS = 10
_TREND_FORMATS = {"fmt_pct": fmt_tick_pct, "fmt_money": fmt_money}


def _day_ticks(values: list[float]):
    """Ticks at the days themselves when there are few, else at month starts."""

    def ticks(low: float, high: float) -> list[float]:
        return sorted(set(values)) if len(set(values)) <= 8 else charts.month_ticks(low, high)

    return ticks


def lifecycle(ctx: Context) -> str:
    """Users per tier on every published day up to the reported one, a small chart per
    tier on its own scale (churned users outnumber core ones a hundredfold)."""
    run_ids = [day["run_id"] for day in ctx.days]
    rows = ctx.query("lifecycle", ("user_tiers",), run_ids=run_ids)
    if not rows:
        return ""
    by_tier: dict[str, dict[dt.date, int]] = {}
    for r in rows:
        by_tier.setdefault(r["tier"], {})[r["as_of"]] = r["users"]
    days = sorted({r["as_of"] for r in rows})
    xs = [float(day.toordinal()) for day in days]
    drawn = []
    for tier in sorted(by_tier, key=tier_order):
        axes = charts.Axes(
            "as_of day", "users", fmt_day, fmt_int, 0, x_ticks=_day_ticks(xs), markers=True,
            width=charts.SMALL, height=200,
        )  # fmt: skip
        series = [charts.Series(tier, xs, [by_tier[tier].get(day, 0) for day in days])]
        drawn.append(charts.line_chart(f"{tier}: users per published day", series, axes))
    note = (
        f'<p class="meta">{len(days)} published day(s), one run each, the last being run '
        f"{ctx.run['run_id']}; each tier on its own scale.</p>"
    )
    return f'{note}<div class="small-multiples">{"".join(drawn)}</div>'


def flows(ctx: Context) -> str:
    """The largest moves between tiers (a bar each) and the full from/to matrix."""
    if ctx.previous is None:
        return ""
    rows = ctx.query("tier_flows", ("user_tiers",))
    if not rows:
        return ""
    moves = [r for r in rows if r["from_tier"] != r["to_tier"]][:MAX_FLOWS]
    colours = [charts.style(0, r["to_tier"])[0] for r in moves]
    bars = charts.bar_chart(
        f"Largest tier moves since {ctx.previous['as_of']}, product {ctx.product}",
        [(f"{r['from_tier']} → {r['to_tier']}", r["users"]) for r in moves],
        fmt_int,
        colours,
        label_width=190,
    )
    return bars + _matrix(ctx, rows)


def _matrix(ctx: Context, rows: list[dict]) -> str:
    users = {(r["from_tier"], r["to_tier"]): r["users"] for r in rows}
    sources = sorted({r["from_tier"] for r in rows}, key=tier_order)
    targets = sorted({r["to_tier"] for r in rows}, key=tier_order)
    matrix = []
    for source in sources:
        total = sum(users.get((source, t), 0) for t in targets) or 1
        cells = []
        for target in targets:
            n = users.get((source, target), 0)
            title = f"{source} to {target}: {fmt_int(n)} users ({fmt_pct(n / total)})"
            cells.append(HeatCell(fmt_int(n), n / total, title))
        matrix.append((source, cells))
    return (
        f'<p class="meta">From run {ctx.previous["run_id"]} (as of {ctx.previous["as_of"]}) '
        f"to run {ctx.run['run_id']} (as of {ctx.run['as_of']}); rows are the earlier tier, "
        "shading the share of that row.</p>"
        + heat_table("from \\ to", targets, matrix, "migration")
    )


def kpi_trends(ctx: Context) -> str:
    """Each KPI as a trailing 30-day line over the last TREND_DAYS days (small multiples)."""
    rows = ctx.query("kpi_trends", ("daily_metrics",), days=TREND_DAYS)
    if not any(r["buyers_30d"] or r["uv_per_day"] for r in rows):
        return ""
    supported = support(ctx)
    xs = [float(r["day"].toordinal()) for r in rows]
    charts_html, missing = [], []
    for kpi in KPIS:
        if kpi.key not in rows[0]:
            continue
        if not supported.get(kpi.needs, True):
            missing.append(f"{kpi.label}: {UNSUPPORTED[kpi.needs]}")
            continue
        y_format = _TREND_FORMATS.get(kpi.fmt.__name__, fmt_num)
        axes = charts.Axes(
            "day", kpi.label, fmt_day, y_format, 0, x_ticks=charts.month_ticks,
            width=charts.SMALL, height=220,
        )  # fmt: skip
        series = [charts.Series(kpi.label, xs, [r[kpi.key] for r in rows])]
        charts_html.append(charts.line_chart(f"{kpi.label}, trailing 30 days", series, axes))
    note = "".join(f'<p class="meta unsupported">{text}.</p>' for text in missing)
    return f'<div class="small-multiples">{"".join(charts_html)}</div>{note}'
