"""Model honesty: how far the scores can be trusted, shown beside the scores.

The calibration chart puts the purchase model's predictions next to what
users then did (the latest out-of-sample backtest, with its date, since a
backtest is not rerun every night), and the tier ordering check says PASS
or FAIL in words. The CLV distribution, the RFM grid and the hazard ratios
with their 95% intervals show what the models say about the users; the
parameter table shows what was fitted and whether it converged.
"""

from __future__ import annotations

from retention.report import charts
from retention.report.context import Context
from retention.report.formats import esc, fmt_int, fmt_money, fmt_num, fmt_pct
from retention.report.markup import HeatCell, heat_table, table
from retention.report.today import tier_order

CLV_BINS = 24
BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+")
ORDER_GROUPS = (("core_active", ("core", "active")), ("valid", ("valid",)))
ORDER_GROUPS += (("at_risk", ("at_risk",)), ("churned", ("churned",)))
# model_params rows that describe a fit rather than being one of its parameters
FIT_FACTS = {
    "log_likelihood", "converged", "n_users", "n_fit_users", "n_fit_events", "n_churned",
    "fit_seconds", "distinct_triples", "fallback", "reference_channel",
}  # fmt: skip


def calibration(ctx: Context) -> str:
    """Predicted against actual purchases per user by frequency, and the ordering check."""
    rows = ctx.query("calibration", ("evaluations",))
    if not rows:
        return ""
    first = rows[0]
    intro = (
        f'<p class="meta">Backtest {first["evaluation_id"]} of {first["created_at"]:%Y-%m-%d}: '
        f"scores as of {first['as_of']}, outcomes over the next {first['horizon_days']} days "
        "(out of sample: nothing after that day reached the scores).</p>"
    )
    return intro + _ordering(rows) + _calibration_chart(ctx, rows) + _backtest_tables(rows)


def _calibration_chart(ctx: Context, rows: list[dict]) -> str:
    buckets: dict[str, dict[str, float]] = {}
    for r in rows:
        if r["section"] == "frequency_bucket":
            buckets.setdefault(r["label"], {})[r["metric"]] = r["value"]
    labels = [b for b in BUCKETS if b in buckets] + sorted(set(buckets) - set(BUCKETS))
    if not labels:
        return ""
    xs = list(range(len(labels)))
    series = [
        charts.Series("predicted", xs, [buckets[b].get("predicted_per_user") for b in labels]),
        charts.Series("actual", xs, [buckets[b].get("actual_per_user") for b in labels]),
    ]
    axes = charts.Axes(
        "repeat purchase days before as_of (calibration frequency)", "purchases per user",
        lambda x: labels[round(x)] if 0 <= round(x) < len(labels) else "", fmt_num, 0,
        x_ticks=lambda low, high: [float(x) for x in xs], markers=True,
    )  # fmt: skip
    title = f"Calibration: predicted vs actual purchases per user, product {ctx.product}"
    return charts.line_chart(title, series, axes)


def _ordering(rows: list[dict]) -> str:
    """PASS when the share active in the horizon falls from core/active to churned."""
    tiers: dict[str, dict[str, float]] = {}
    passed = None
    for r in rows:
        if r["section"] == "tier":
            tiers.setdefault(r["label"], {})[r["metric"]] = r["value"]
        elif r["section"] == "policy" and r["label"] == "share_active_falls":
            passed = bool(r["value"])
    shares = []
    for group, members in ORDER_GROUPS:
        users = sum(tiers.get(t, {}).get("users") or 0 for t in members)
        active = sum(
            (tiers.get(t, {}).get("users") or 0) * (tiers.get(t, {}).get("share_active") or 0)
            for t in members
        )
        if users:
            shares.append(f"{group} {fmt_pct(active / users)}")
    if passed is None:
        verdict = '<span class="flat">not checked in this backtest</span>'
    else:
        verdict = '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'
    detail = esc(" > ".join(shares))
    return (
        f'<p class="ordering">Tier ordering (share active next horizon must fall): {verdict}'
        f"{': ' + detail if detail else ''}</p>"
    )


def _backtest_tables(rows: list[dict]) -> str:
    tiers: dict[str, dict[str, object]] = {}
    model = []
    for r in rows:
        if r["section"] == "tier":
            tiers.setdefault(r["label"], {})[r["metric"]] = r["value"]
        elif r["section"] == "purchase_model":
            model.append((r["metric"].replace("_", " "), r["value"]))
    metrics = ("users", "share_active", "purchases_per_user", "revenue_per_user")
    columns = [("Tier", None), ("Users", fmt_int), ("Share active", fmt_pct)]
    columns += [("Purchases per user", fmt_num), ("Revenue per user", fmt_money)]
    table_rows = [
        (tier, *(tiers[tier].get(m) for m in metrics)) for tier in sorted(tiers, key=tier_order)
    ]
    out = table(columns, table_rows, cls="backtest") if table_rows else ""
    if model:
        out += table([("Purchase model", None), ("Value", fmt_num)], model, cls="model-checks")
    return out


def clv_distribution(ctx: Context) -> str:
    summary = ctx.query("clv_summary", ("user_scores",))
    if not summary or not summary[0]["users"]:
        return ""
    s = summary[0]
    bins = ctx.query("clv_distribution", ("user_scores",), bins=CLV_BINS)
    items = [
        (f"{fmt_money(b['low'])}+" if b["is_open"] else fmt_money(b["low"]), b["users"])
        for b in bins
    ]
    axes = charts.Axes("CLV (lower edge of each bar; the last bar is open)", "users",
                       y_format=fmt_int)  # fmt: skip
    note = f"median {fmt_money(s['median_clv'])}, mean {fmt_money(s['mean_clv'])}"
    intro = (
        f'<p class="meta">{fmt_int(s["users"])} of {fmt_int(s["all_users"])} users have a CLV '
        f"(buyers the purchase model scored); together {fmt_money(s['total_clv'])}.</p>"
    )
    return intro + charts.histogram(f"CLV distribution, product {ctx.product}", items, axes, note)


def rfm_grid(ctx: Context) -> str:
    """Recency (rows, 5 = most recent) by frequency-monetary (columns), shaded by users."""
    rows = ctx.query("rfm_grid", ("user_scores",))
    scored = [r for r in rows if r["r_score"] is not None and r["fm_score"] is not None]
    if not scored:
        return ""
    cells = {(r["r_score"], r["fm_score"]): r for r in scored}
    top = max(r["users"] for r in scored)
    fms = sorted({r["fm_score"] for r in scored})
    matrix = []
    for r_score in sorted({r["r_score"] for r in scored}, reverse=True):
        line = []
        for fm in fms:
            cell = cells.get((r_score, fm))
            if cell is None:
                line.append(HeatCell(""))
                continue
            title = f"{cell['segment']}: {fmt_int(cell['users'])} users, "
            title += f"average CLV {fmt_money(cell['avg_clv'])}"
            line.append(
                HeatCell(f"{fmt_int(cell['users'])} {cell['segment']}", cell["users"] / top, title)
            )
        matrix.append((f"R {r_score}", line))
    unscored = sum(r["users"] for r in rows if r not in scored)
    note = (
        '<p class="meta">Rows: recency score (5 = bought most recently); columns: '
        f"frequency-monetary score (5 = most and biggest orders). {fmt_int(unscored)} users "
        "without a purchase have no score.</p>"
    )
    return note + heat_table("R \\ FM", [f"FM {fm}" for fm in fms], matrix, "rfm-grid")


def hazard_ratios(ctx: Context) -> str:
    rows = ctx.rows(
        "hazard_ratios",
        "SELECT covariate, hazard_ratio, ci_lower, ci_upper, p_value FROM hazard_ratios "
        "WHERE run_id = $run_id AND product_id = $product ORDER BY hazard_ratio DESC",
    )
    if not rows:
        return ""
    intervals = [
        charts.Interval(r["covariate"], r["hazard_ratio"], r["ci_lower"], r["ci_upper"])
        for r in rows
    ]
    plot = charts.forest_plot(
        f"Churn hazard ratios with 95% intervals, product {ctx.product}", intervals, "no effect"
    )
    intro = (
        '<p class="meta">Cox model on standardised covariates: the change in the churn hazard '
        "per one standard deviation (below 1: users with more of it churn later; an interval "
        "across 1: no clear effect).</p>"
    )
    columns = [("Covariate", None), ("Hazard ratio", fmt_num), ("95% low", fmt_num)]
    columns += [("95% high", fmt_num), ("p", fmt_num)]
    return intro + plot + table(columns, [tuple(r.values()) for r in rows], cls="hazards")


def model_params(ctx: Context) -> str:
    rows = ctx.rows(
        "model_params",
        "SELECT model, param, value, note FROM model_params WHERE run_id = $run_id "
        "AND product_id = $product AND model <> 'kaplan_meier' ORDER BY rowid",
    )
    models: dict[str, dict[str, object]] = {}
    notes = []
    for r in rows:
        models.setdefault(r["model"], {})[r["param"]] = r["value"]
        if r["note"]:
            warn = ' class="warn"' if r["param"] == "fallback" else ""
            notes.append(f"<li{warn}>{esc(r['model'])} {esc(r['param'])}: {esc(r['note'])}</li>")
    table_rows = []
    for model, params in models.items():
        fitted = ", ".join(f"{k} = {fmt_num(v)}" for k, v in params.items() if k not in FIT_FACTS)
        converged = params.get("converged")
        table_rows.append((
            model, fitted or "–", params.get("log_likelihood"),
            params.get("n_users", params.get("n_fit_users")),
            None if converged is None else ("yes" if converged else "no"),
        ))  # fmt: skip
    columns = [("Model", None), ("Parameters", None), ("Log-likelihood", fmt_num)]
    columns += [("Users fitted", fmt_int), ("Converged", None)]
    fallbacks = f'<ul class="notes">{"".join(notes)}</ul>' if notes else ""
    return table(columns, table_rows, cls="models") + fallbacks if table_rows else ""
