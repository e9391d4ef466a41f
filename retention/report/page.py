"""`retention report`: one self-contained HTML page about the published run.

The page is read by people who did not run the pipeline (a CRM lead, a
manager on a train), often from an e-mail attachment, so it must open with no
network and no scripts: CSS and SVG charts are inline and a Content Security
Policy forbids loading anything. The warehouse is opened read-only, so a
report never changes what it reports on. Sections whose tables are missing
(an older warehouse) or empty (no backtest yet) are left out, not shown
blank. Values from the data (user ids, channels, segments) are escaped
everywhere, since event logs are not trusted input.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention.config.defaults import TIERS
from retention.errors import WarehouseError
from retention.output_files import check_target, write_text_atomically
from retention.report import charts, metrics
from retention.report.charts import esc, fmt_int, fmt_money, fmt_num, fmt_pct
from retention.report.metrics import DAILY_WINDOW_DAYS
from retention.warehouse.publish import warehouse_files

log = logging.getLogger(__name__)

MAX_CHANNEL_CURVES = 8  # more lines than this make a chart nobody can read
MIN_CURVE_USERS = 100  # smaller groups' confidence bands cover the chart; they stay in the table
SURVIVAL_DAYS = (30, 90, 365)
CURVE_COLUMNS = ("timeline_days", "survival", "ci_lower", "ci_upper")
# model_params rows that describe a fit rather than being one of its parameters
FIT_FACTS = {
    "log_likelihood", "converged", "n_users", "n_fit_users", "n_fit_events", "n_churned",
    "fit_seconds", "distinct_triples", "fallback", "reference_channel",
}  # fmt: skip


def build_report(
    warehouse: Path, out: Path, protected: tuple[Path, ...] = (), overwrite: bool = False
) -> Path:
    """Write the HTML report of the warehouse's published run to `out`; return `out`.

    `out` may replace an earlier report (or any file with `overwrite`), never
    the warehouse, its companions or the `protected` files (the pipeline and
    its sources). The report holds per-product aggregates only, no user-level
    rows, so it is written 0644 to be shared.
    """
    check_target(out, "--out", (*warehouse_files(warehouse), *protected), _is_report, overwrite)
    started = time.perf_counter()
    with _connect(warehouse) as con:
        run = _published_run(con, warehouse)
        tables = _table_names(con)
        products = [r["product_id"] for r in _rows(con, _PRODUCTS_SQL, run_id=run["run_id"])]
        sections = [
            _product_section(_Context(con, tables, run, product, f"p{index}"))
            for index, product in enumerate(products, start=1)
        ]
    page = _page(run, products, sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out, page, mode=0o644)
    log.info("report %s (%d KB) in %.1f s", out, len(page) // 1024, time.perf_counter() - started)
    return out


def _is_report(path: Path) -> bool:
    """Whether `path` is a report this command wrote (its generator tag near the top)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return f'<meta name="generator" content="{charts.GENERATOR}">'.encode() in head


@dataclass(frozen=True)
class _Context:
    """What every section of one product's part of the page reads from."""

    con: duckdb.DuckDBPyConnection
    tables: frozenset[str]
    run: dict
    product: str
    anchor: str  # prefix of the element ids of this product's sections

    def rows(self, table: str, sql: str) -> list[dict]:
        """Rows of `sql` (which reads `table`) for this product; none if the table is absent."""
        if table not in self.tables:
            return []
        return _rows(self.con, sql, run_id=self.run["run_id"], product=self.product)


def _connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not warehouse.is_file():
        raise WarehouseError(f"warehouse {warehouse} does not exist; run the pipeline first")
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseError(
                f"warehouse {warehouse} is being written by another process; "
                "run the report when that run has finished"
            ) from None
        raise WarehouseError(f"warehouse {warehouse} cannot be opened: {exc}") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"warehouse {warehouse} is not a DuckDB database: {exc}") from None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> list[dict]:
    """Query results as dicts; only the parameters the statement names are bound."""
    used = {name: value for name, value in params.items() if f"${name}" in sql}
    cursor = con.execute(sql, used)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _table_names(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Tables and views: the metric tables may be either, and may not exist yet."""
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return frozenset(row[0] for row in rows)


# The run of each as_of day (its last to finish), newest day first: the published
# run and the one tier_transitions compares it with. Read from `runs` itself, so
# a warehouse written by an older version reports the same runs.
_RUN_DAYS_SQL = (
    "SELECT * FROM runs WHERE status = 'published' AND as_of IS NOT NULL QUALIFY row_number() "
    "OVER (PARTITION BY as_of ORDER BY finished_at DESC, run_id DESC) = 1 "
    "ORDER BY as_of DESC LIMIT 2"
)


def _published_run(con: duckdb.DuckDBPyConnection, warehouse: Path) -> dict:
    """The published run (newest as_of), with the previous as_of day's run as `previous`."""
    try:
        runs = _rows(con, _RUN_DAYS_SQL)
    except duckdb.CatalogException:
        raise WarehouseError(f"{warehouse} is not a retention warehouse (no runs table)") from None
    if not runs:
        raise WarehouseError(f"warehouse {warehouse} has no published run yet; nothing to report")
    return {**runs[0], "previous": runs[1] if len(runs) > 1 else None}


_PRODUCTS_SQL = "SELECT DISTINCT product_id FROM user_tiers WHERE run_id = $run_id ORDER BY 1"


def _page(run: dict, products: list[str], sections: list[str]) -> str:
    name = Path(str(run["pipeline"])).name  # the file name only: reports travel, paths leak
    published = run["finished_at"]
    facts = [
        ("Run", str(run["run_id"])), ("As of", str(run["as_of"])),
        ("Published", f"{published:%Y-%m-%d %H:%M} UTC" if published else "–"),
        ("Rows read", fmt_int(run["rows_read"])), ("Rows staged", fmt_int(run["rows_staged"])),
        ("Rows rejected", fmt_int(run["rows_rejected"])),
        ("Duplicates dropped", fmt_int(run["rows_duplicate"])),
        ("After as_of", fmt_int(run["rows_after_as_of"])), ("Users", fmt_int(run["users"])),
    ]  # fmt: skip
    nav = [(f"p{index}", product) for index, product in enumerate(products, start=1)]
    title = f"Retention report: {name}"
    return charts.page(f"{title}, run {run['run_id']}", title, facts, nav, "".join(sections))


def _section(ctx: _Context, key: str, heading: str, content: str) -> str:
    if not content:
        return ""
    return f'<section id="{ctx.anchor}-{key}"><h3>{esc(heading)}</h3>{content}</section>'


def _tier_order(tier: str) -> tuple[int, str]:
    return (TIERS.index(tier) if tier in TIERS else len(TIERS), tier)


# ---- sections ---------------------------------------------------------------------------------


def _product_section(ctx: _Context) -> str:
    parts = [
        _section(ctx, "tiers", "Tiers", _tiers(ctx)),
        _section(ctx, "migration", "Tier migration since the previous run", _migration(ctx)),
        _section(ctx, "rfm", "RFM segments", _rfm(ctx)),
        _section(ctx, "models", "Purchase, spend and survival models", _models(ctx)),
        _section(ctx, "survival", "Survival by acquisition channel", _survival(ctx)),
        _section(ctx, "backtest", "Latest backtest", _backtest(ctx)),
        _section(ctx, "playbooks", "Playbook outcomes", _playbooks(ctx)),
        _section(ctx, "daily", f"Daily metrics, last {DAILY_WINDOW_DAYS} days", metrics.daily(ctx)),
        _section(ctx, "channels", "Acquisition channels", metrics.channels(ctx)),
        _section(ctx, "cohorts", "Cohort retention", metrics.cohorts(ctx)),
    ]
    return (
        f'<section class="product" id="{ctx.anchor}"><h2>Product {esc(ctx.product)}</h2>'
        f"{_product_facts(ctx)}{''.join(parts)}</section>"
    )


def _product_facts(ctx: _Context) -> str:
    counts = ctx.rows(
        "rejected_events",
        "SELECT (SELECT sum(events_total) FROM user_features "
        "WHERE run_id = $run_id AND product_id = $product)"
        " AS staged, (SELECT count(*) FROM rejected_events WHERE run_id = $run_id "
        "AND product_id = $product) AS rejected",
    )
    run = ctx.run
    text = f"Run {run['run_id']}, as of {run['as_of']}"
    if counts:
        text += f"; {fmt_int(counts[0]['staged'])} events staged, "
        text += f"{fmt_int(counts[0]['rejected'])} rejected rows naming this product"
    if run["finished_at"]:
        text += f"; published {run['finished_at']:%Y-%m-%d %H:%M} UTC"
    return f'<p class="meta">{esc(text)}.</p>'


def _tiers(ctx: _Context) -> str:
    rows = ctx.rows("tier_summary", "SELECT * FROM tier_summary WHERE product_id = $product")
    rows.sort(key=lambda r: _tier_order(r["tier"]))
    if not rows:
        return ""
    columns = [("Tier", None), ("Users", fmt_int), ("Share", fmt_pct)]
    columns += [("Average CLV", fmt_money), ("Revenue 30d", fmt_money)]
    table = charts.table(
        columns,
        [(r["tier"], r["users"], r["share"], r["avg_clv"], r["revenue_30d"]) for r in rows],
        cls="tiers",
    )
    chart = charts.bar_chart(
        f"Share of users per tier, product {ctx.product}",
        [(r["tier"], r["share"]) for r in rows],
        fmt_pct,
    )
    return table + chart


def _migration(ctx: _Context) -> str:
    previous = ctx.run["previous"]
    if previous is None:
        return ""
    rows = ctx.rows(
        "tier_transitions", "SELECT * FROM tier_transitions WHERE product_id = $product"
    )
    if not rows:
        return ""
    users = {(r["from_tier"], r["to_tier"]): r["users"] for r in rows}
    sources = sorted({r["from_tier"] for r in rows}, key=_tier_order)
    targets = sorted({r["to_tier"] for r in rows}, key=_tier_order)
    matrix = []
    for source in sources:
        total = sum(users.get((source, t), 0) for t in targets) or 1
        cells = []
        for target in targets:
            n = users.get((source, target), 0)
            title = f"{source} to {target}: {fmt_int(n)} users ({fmt_pct(n / total)})"
            cells.append(charts.HeatCell(fmt_int(n), n / total, title))
        matrix.append((source, cells))
    return (
        f'<p class="meta">From run {previous["run_id"]} (as of {previous["as_of"]}) to run '
        f"{ctx.run['run_id']}; rows are the earlier tier, shading the share of that row.</p>"
        + charts.heat_table("from \\ to", targets, matrix, "migration")
    )


def _rfm(ctx: _Context) -> str:
    rows = ctx.rows(
        "user_scores",
        "SELECT rfm_segment, count(*) AS users, count(*) / sum(count(*)) OVER () AS share, "
        "avg(clv) AS avg_clv FROM user_scores WHERE run_id = $run_id AND product_id = $product "
        "GROUP BY ALL ORDER BY users DESC, rfm_segment",
    )
    columns = [
        ("Segment", None),
        ("Users", fmt_int),
        ("Share", fmt_pct),
        ("Average CLV", fmt_money),
    ]
    return charts.rows_table(columns, rows, "rfm")


def _models(ctx: _Context) -> str:
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
    return charts.table(columns, table_rows, cls="models") + fallbacks if table_rows else ""


def _survival(ctx: _Context) -> str:
    rows = ctx.rows(
        "survival_curves",
        "SELECT group_kind, group_value, timeline_days, survival, ci_lower, ci_upper, at_risk "
        "FROM survival_curves WHERE run_id = $run_id AND product_id = $product AND group_kind "
        "IN ('all', 'acquisition_channel') ORDER BY group_kind, group_value, timeline_days",
    )
    curves: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        curves.setdefault((r["group_kind"], r["group_value"]), []).append(r)
    size = {key: max(p["at_risk"] for p in points) for key, points in curves.items()}
    keys = sorted(curves, key=lambda k: (k[0] != "all", -size[k], k[1]))  # all users first
    columns = [("Channel", None), ("Users", fmt_int)]
    columns += [(f"Survival at {d} days", fmt_pct) for d in SURVIVAL_DAYS]
    table_rows = [
        (_group_name(key), size[key], *(_survival_at(curves[key], d) for d in SURVIVAL_DAYS))
        for key in keys
    ]
    table = charts.table(columns, table_rows, cls="survival")
    return _survival_chart(ctx, curves, keys, size) + table if keys else ""


def _survival_chart(ctx: _Context, curves: dict, keys: list, size: dict) -> str:
    """All users and the largest channels, each with its 95% band."""
    big = [key for key in keys if key[0] == "all" or size[key] >= MIN_CURVE_USERS]
    shown = big[: MAX_CHANNEL_CURVES + 1]
    series = [
        charts.Series(_group_name(key), *([p[c] for p in curves[key]] for c in CURVE_COLUMNS))
        for key in shown
    ]
    axes = charts.Axes("days since first seen", "still active", fmt_num, charts.fmt_tick_pct)
    axes = dataclasses.replace(axes, y_min=0, y_max=1, step=True)
    chart = charts.line_chart(f"Kaplan-Meier survival, product {ctx.product}", series, axes)
    if len(shown) == len(keys):
        return chart
    return chart + (
        f'<p class="meta">Channels with fewer than {MIN_CURVE_USERS} users or past the '
        f"{MAX_CHANNEL_CURVES} largest are in the table only ({len(keys) - len(shown)} of "
        f"{len(keys) - 1}).</p>"
    )


def _group_name(key: tuple[str, str]) -> str:
    return "all users" if key[0] == "all" else key[1]


def _survival_at(points: list[dict], day: int) -> float | None:
    """The Kaplan-Meier estimate at `day`, or None past the last observed time."""
    if not points or points[-1]["timeline_days"] < day:
        return None
    before = [p["survival"] for p in points if p["timeline_days"] <= day]
    return before[-1] if before else 1.0


def _backtest(ctx: _Context) -> str:
    rows = ctx.rows(
        "evaluations",
        "SELECT * FROM evaluations WHERE product_id = $product AND evaluation_id = "
        "(SELECT max(evaluation_id) FROM evaluations WHERE product_id = $product)",
    )
    if not rows:
        return ""
    first = rows[0]
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
        (tier, *(tiers[tier].get(m) for m in metrics)) for tier in sorted(tiers, key=_tier_order)
    ]
    intro = (
        f'<p class="meta">Evaluation {first["evaluation_id"]}: tiers as of {first["as_of"]}, '
        f"outcomes over the next {first['horizon_days']} days (out of sample).</p>"
    )
    model_table = (
        charts.table([("Purchase model", None), ("Value", fmt_num)], model) if model else ""
    )
    return intro + charts.table(columns, table_rows, cls="backtest") + model_table


def _playbooks(ctx: _Context) -> str:
    rows = ctx.rows(
        "playbook_assignments",
        "SELECT coalesce(playbook, '(none)') AS playbook, "
        "coalesce(suppressed_reason, 'sent') AS outcome, count(*) AS users "
        "FROM playbook_assignments WHERE run_id = $run_id AND product_id = $product GROUP BY ALL",
    )
    if not rows:
        return ""
    counts = {(r["playbook"], r["outcome"]): r["users"] for r in rows}
    playbooks = sorted({r["playbook"] for r in rows}, key=lambda p: (p == "(none)", p))
    reasons = sorted({r["outcome"] for r in rows} - {"sent", "holdout"})
    columns = [("Playbook", None), ("Sent", fmt_int), ("Holdout", fmt_int)]
    columns += [(reason.replace("_", " "), fmt_int) for reason in reasons]
    table_rows = [
        (p, *(counts.get((p, outcome), 0) for outcome in ["sent", "holdout", *reasons]))
        for p in playbooks
    ]
    intro = '<p class="meta">Users per playbook: sent, held out, and not sent for each reason.</p>'
    return intro + charts.table(columns, table_rows, cls="playbooks")
