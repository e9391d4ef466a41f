"""The top of each product: how the users are, what changed, what to do today.

An operator opens the report in the morning with three questions, and this
section answers them before any chart: users per tier with the change since
the previous day's published run; the KPIs they watch against that run and
against four weeks earlier; the biggest movements between tiers with the CLV
that moved; and, per playbook, the files to upload (see `playbook_files`).
A KPI the event log cannot support (no visits: no PV or session length; no
amounts: no GMV or order value) says so, instead of showing 0 or 100%.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from retention.config.defaults import TIERS
from retention.report.context import Context
from retention.report.formats import (
    MISSING,
    arrow,
    esc,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_pct,
    fmt_points,
    fmt_signed,
    is_missing,
)

COMPARE_DAYS = 28  # "the same day four weeks earlier": same weekday, so weekly rhythms cancel
MAX_MOVEMENTS = 6
# A move to a tier ranked higher here is an upgrade (shown green), lower a downgrade.
TIER_RANK = {"core": 6, "active": 5, "valid": 4, "new": 3, "at_risk": 2, "churned": 1, "junk": 0}
GROWTH_IS_BAD = {"at_risk", "churned", "junk"}


def tier_order(tier: str) -> tuple[int, str]:
    return (TIERS.index(tier) if tier in TIERS else len(TIERS), tier)


def tier_cards(ctx: Context) -> str:
    """One card per tier: users now, and the change since the previous day's run."""
    rows = sorted(ctx.query("today_tiers", ("user_tiers",)), key=lambda r: tier_order(r["tier"]))
    if not rows:
        return ""
    cards = []
    for r in rows:
        change = r["change"]
        if is_missing(change):
            detail = '<span class="change flat">first run: no change to show</span>'
        else:
            relative = change / r["previous_users"] if r["previous_users"] else None
            share = f" ({fmt_signed(relative, fmt_pct)})" if relative is not None else ""
            tone = _tone(change, r["tier"] in GROWTH_IS_BAD)
            detail = (
                f'<span class="change {tone}">{arrow(change)} {fmt_signed(change)}{share}</span>'
            )
        cards.append(
            f'<li class="card tier" data-tier="{esc(r["tier"])}"><div class="label">'
            f'{esc(r["tier"])}</div><div class="value">{fmt_int(r["users"])}</div>{detail}</li>'
        )
    return f'<ul class="cards tiers-today" aria-label="Users per tier">{"".join(cards)}</ul>'


def _tone(change: float, growth_is_bad: bool) -> str:
    if change == 0:
        return "flat"
    return "down" if (change > 0) == growth_is_bad else "up"


@dataclass(frozen=True)
class Kpi:
    key: str  # column of sql/report/kpi_window.sql
    label: str
    fmt: Callable[[object], str]
    share: bool = False  # changes of shares are in percentage points
    needs: str = ""  # log_support column the metric needs


KPIS = (
    Kpi("uv_per_day", "UV per day", fmt_num, needs="has_visits"),
    Kpi("buyers_30d", "Buyers in 30 days", fmt_int),
    Kpi("gmv_30d", "GMV in 30 days", fmt_money, needs="has_amounts"),
    Kpi("conversion_rate", "Conversion", fmt_pct, share=True, needs="has_visits"),
    Kpi("average_order_value", "Average order value", fmt_money, needs="has_amounts"),
    Kpi("repeat_purchase_rate", "Repeat purchase rate", fmt_pct, share=True),
    Kpi("pv_per_day", "PV per day", fmt_num, needs="has_page_views"),
    Kpi("avg_session_seconds", "Session length (s)", fmt_num, needs="has_visits"),
)
UNSUPPORTED = {
    "has_visits": "not measurable: the log has no visit or page-view events",
    "has_page_views": "not measurable: the log has no page-view events",
    "has_amounts": "not measurable: the log has no purchase amounts",
}


def support(ctx: Context) -> dict[str, bool]:
    """Which metrics the product's log supports (all, when user_features is missing)."""
    rows = ctx.query("log_support", ("user_features",))
    return rows[0] if rows else dict.fromkeys(UNSUPPORTED, True)


def kpi_windows(ctx: Context) -> dict[str, dict | None]:
    """The 30-day KPI rows ending today, on the previous run's day, and 4 weeks earlier."""
    if "daily_metrics" not in ctx.tables:
        return {}
    as_of = ctx.run["as_of"]
    windows = {"today": (ctx.run["run_id"], as_of)}
    if ctx.previous:
        windows["previous"] = (ctx.previous["run_id"], ctx.previous["as_of"])
    windows["four_weeks"] = (ctx.run["run_id"], as_of - dt.timedelta(days=COMPARE_DAYS))
    found = {}
    for name, (run_id, end) in windows.items():
        row = ctx.query("kpi_window", ("daily_metrics",), window_run_id=run_id, end=end)[0]
        found[name] = {**row, "end": end} if row["days"] else None
    return found if found["today"] else {}


def kpi_cards(ctx: Context) -> str:
    """The KPIs over the last 30 days, each against the previous run and four weeks earlier."""
    windows = kpi_windows(ctx)
    if not windows:
        return ""
    supported = support(ctx)
    cards = []
    for kpi in KPIS:
        if not supported.get(kpi.needs, True):
            body = f'<div class="value unsupported">{MISSING}</div>'
            body += f'<span class="change unsupported">{esc(UNSUPPORTED[kpi.needs])}</span>'
        else:
            value = windows["today"][kpi.key]
            body = f'<div class="value">{esc(kpi.fmt(value))}</div>'
            for name in ("previous", "four_weeks"):
                body += _kpi_change(kpi, value, windows.get(name), name)
        cards.append(
            f'<li class="card kpi" data-kpi="{kpi.key}"><div class="label">{esc(kpi.label)}'
            f"</div>{body}</li>"
        )
    today = windows["today"]["end"]
    note = (
        f'<p class="meta">The 30 days to {today}, from the daily metrics. UV, PV and buyers '
        "are summed per day (a user on three days counts three times); conversion is buyers "
        "over UV.</p>"
    )
    return f'{note}<ul class="cards kpis" aria-label="KPIs">{"".join(cards)}</ul>'


def _kpi_change(kpi: Kpi, value: object, other: dict | None, name: str) -> str:
    where = "previous run" if name == "previous" else "4 weeks before"
    if other is None:
        return f'<span class="change flat" data-vs="{name}">{where}: no data</span>'
    before = other[kpi.key]
    if is_missing(value) or is_missing(before):
        return f'<span class="change flat" data-vs="{name}">{where}: {MISSING}</span>'
    change = float(value) - float(before)
    if kpi.share:
        text = fmt_points(change)
    else:
        text = fmt_signed(change / before, fmt_pct) if before else fmt_signed(change, kpi.fmt)
    tone = _tone(change, False)
    return (
        f'<span class="change {tone}" data-vs="{name}" title="{esc(kpi.fmt(before))} to '
        f'{other["end"]}">{arrow(change)} {esc(text)} vs {where} ({other["end"]:%m-%d})</span>'
    )


def movements(ctx: Context) -> str:
    """The largest moves between tiers since the previous day, as sentences."""
    if ctx.previous is None:
        return ""
    rows = ctx.query("tier_movements", ("user_tiers", "user_scores"))
    if not rows:
        return '<p class="meta">No user changed tier since the previous run.</p>'
    items = [_movement(r) for r in rows[:MAX_MOVEMENTS]]
    more = len(rows) - MAX_MOVEMENTS
    tail = (
        f'<p class="meta">{more} smaller moves are in the tier flow below.</p>' if more > 0 else ""
    )
    return f'<ul class="moves">{"".join(items)}</ul>{tail}'


def _movement(r: dict) -> str:
    worth = "" if is_missing(r["clv"]) else f": worth {fmt_money(r['clv'])} in CLV"
    if r["from_tier"] == "(none)":
        text = f"{fmt_int(r['users'])} users seen for the first time are {r['to_tier']}{worth}"
        tone = "flat"
    else:
        text = f"{fmt_int(r['users'])} {r['from_tier']} users became {r['to_tier']}{worth}"
        up = TIER_RANK.get(r["to_tier"], 0) > TIER_RANK.get(r["from_tier"], 0)
        tone = "up" if up else "down"
    mark = {"up": "▲ ", "down": "▼ ", "flat": "+ "}[tone]
    pair = f'data-from="{esc(r["from_tier"])}" data-to="{esc(r["to_tier"])}"'
    return f'<li class="{tone}" {pair}>{mark}{esc(text)}</li>'
