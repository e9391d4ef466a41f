"""`retention report`: one self-contained HTML page about one run.

The page is read by people who did not run the pipeline (a CRM lead, a
manager on a train), often from an e-mail attachment on a phone, so it must
open with no network and no scripts: CSS and SVG charts are inline and a
Content Security Policy forbids loading anything. It answers an operator's
morning in the order they ask: per product, first *today* (users per tier
and what changed, the KPIs, the biggest moves, the files to upload), then
the *history* across runs, then how far the *models* can be trusted, and
last the detail tables. Sections whose tables are missing (an older
warehouse) or empty (no backtest yet) are left out, not shown blank.
Values from the data (user ids, channels, segments) are escaped everywhere,
since event logs are not trusted input.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb

from retention.output_files import check_target, write_text_atomically
from retention.report import history, metrics, models_section, playbook_files, runs, today
from retention.report.context import Context, fetch, table_names
from retention.report.formats import esc, fmt_int, fmt_money, fmt_pct
from retention.report.markup import GENERATOR, page, rows_table, table
from retention.report.survival import survival
from retention.report.today import tier_order
from retention.warehouse.publish import warehouse_files
from retention.warehouse.sql_files import read_sql

log = logging.getLogger(__name__)

GROUPS = (("today", "Today"), ("history", "History"), ("models", "Models"), ("details", "Details"))


def build_report(
    warehouse: Path,
    out: Path,
    protected: tuple[Path, ...] = (),
    overwrite: bool = False,
    run_id: int | None = None,
    exports: Path | None = None,
) -> Path:
    """Write the HTML report of run `run_id` (default: the published run) to `out`.

    `exports` is the pipeline's exports folder, where the run's files are
    looked for first (see `playbook_files`). `out` may replace an earlier
    report (or any file with `overwrite`), never the warehouse, its
    companions or the `protected` files (the pipeline and its sources). The
    report holds per-product aggregates only, no user-level rows, so it is
    written 0644 to be shared; it links to the export files, which stay private.
    """
    check_target(out, "--out", (*warehouse_files(warehouse), *protected), _is_report, overwrite)
    started = time.perf_counter()
    with runs.connect(warehouse) as con:
        run = runs.reported_run(con, warehouse, run_id)
        days = runs.published_days(con, run)
        base = {
            "con": con, "tables": table_names(con), "run": run, "out": out, "days": days,
            "previous": runs.previous_day(con, days),
            "exports": _export_folder(con, warehouse, run, exports),
        }  # fmt: skip
        products = _products(con, run["run_id"])
        sections = [
            _product_section(Context(**base, product=product, anchor=f"p{index}"))
            for index, product in enumerate(products, start=1)
        ]
        html = _page(base, products, sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out, html, mode=0o644)
    log.info("report %s (%d KB) in %.1f s", out, len(html) // 1024, time.perf_counter() - started)
    return out


def _is_report(path: Path) -> bool:
    """Whether `path` is a report this command wrote (its generator tag near the top)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">'.encode() in head


def _products(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    sql = "SELECT DISTINCT product_id FROM user_tiers WHERE run_id = $run_id ORDER BY 1"
    return [r["product_id"] for r in fetch(con, sql, run_id=run_id)]


def _export_folder(con, warehouse: Path, run: dict, exports: Path | None) -> Path | None:
    if "sends" not in table_names(con):
        return None
    names = [
        r["file"] for r in fetch(con, read_sql("report/export_folders.sql"), run_id=run["run_id"])
    ]
    return playbook_files.find_export_folder(warehouse, names, run["run_id"], exports)


def _page(base: dict, products: list[str], sections: list[str]) -> str:
    run, previous = base["run"], base["previous"]
    name = Path(str(run["pipeline"])).name  # the file name only: reports travel, paths leak
    published = run["finished_at"]
    facts = [
        ("Run", str(run["run_id"])), ("As of", str(run["as_of"])),
        ("Compared with", f"run {previous['run_id']} ({previous['as_of']})" if previous else "–"),
        ("Published", f"{published:%Y-%m-%d %H:%M} UTC" if published else "–"),
        ("Users", fmt_int(run["users"])), ("Rows read", fmt_int(run["rows_read"])),
        ("Rows rejected", fmt_int(run["rows_rejected"])),
        ("Duplicates dropped", fmt_int(run["rows_duplicate"])),
        ("After as_of", fmt_int(run["rows_after_as_of"])),
    ]  # fmt: skip
    nav = [(f"p{index}", f"Product {product}") for index, product in enumerate(products, 1)]
    if len(products) == 1:
        nav = [(f"p1-{key}", label) for key, label in GROUPS]
    title = f"Retention report: {name}"
    return page(f"{title}, run {run['run_id']}", title, facts, nav, "".join(sections))


def _section(ctx: Context, key: str, heading: str, content: str) -> str:
    if not content:
        return ""
    return f'<section id="{ctx.anchor}-{key}"><h4>{esc(heading)}</h4>{content}</section>'


def _group(ctx: Context, key: str, heading: str, parts: list[str]) -> str:
    inner = "".join(parts)
    if not inner:
        return ""
    return f'<div class="group" id="{ctx.anchor}-{key}"><h3>{esc(heading)}</h3>{inner}</div>'


def _product_section(ctx: Context) -> str:
    since = f" since {ctx.previous['as_of']}" if ctx.previous else ""
    groups = [
        _group(ctx, "today", f"Today: {ctx.run['as_of']}", [
            _section(ctx, "tiers-today", "Users per tier" + since, today.tier_cards(ctx)),
            _section(ctx, "kpis", "KPIs, last 30 days", today.kpi_cards(ctx)),
            _section(ctx, "moves", "Biggest movements" + since, today.movements(ctx)),
            _section(ctx, "todo", "Playbooks: files to upload", playbook_files.today(ctx)),
        ]),
        _group(ctx, "history", "History across runs", [
            _section(ctx, "lifecycle", "Lifecycle", history.lifecycle(ctx)),
            _section(ctx, "flows", "Tier flow since the previous run", history.flows(ctx)),
            _section(ctx, "trends", "KPI trends", history.kpi_trends(ctx)),
        ]),
        _group(ctx, "models", "How far to trust the models", [
            _section(ctx, "calibration", "Latest backtest", models_section.calibration(ctx)),
            _section(ctx, "clv", "CLV distribution", models_section.clv_distribution(ctx)),
            _section(ctx, "rfm", "RFM grid", models_section.rfm_grid(ctx)),
            _section(ctx, "hazards", "Churn hazard ratios", models_section.hazard_ratios(ctx)),
            _section(ctx, "survival", "Survival by acquisition channel", survival(ctx)),
            _section(ctx, "params", "Fitted models", models_section.model_params(ctx)),
        ]),
        _group(ctx, "details", "Details", [
            _section(ctx, "tiers", "Tiers", _tiers(ctx)),
            _section(ctx, "segments", "RFM segments", _rfm_segments(ctx)),
            _section(ctx, "playbooks", "Playbook outcomes", playbook_files.outcomes(ctx)),
            _section(ctx, "daily", "Daily metrics", metrics.daily(ctx)),
            _section(ctx, "channels", "Acquisition channels", metrics.channels(ctx)),
            _section(ctx, "cohorts", "Cohort retention", metrics.cohorts(ctx)),
        ]),
    ]  # fmt: skip
    return (
        f'<section class="product" id="{ctx.anchor}"><h2>Product {esc(ctx.product)}</h2>'
        f"{_product_facts(ctx)}{''.join(groups)}</section>"
    )


def _product_facts(ctx: Context) -> str:
    counts = ctx.rows(
        "rejected_events",
        "SELECT (SELECT sum(events_total) FROM user_features "
        "WHERE run_id = $run_id AND product_id = $product)"
        " AS staged, (SELECT count(*) FROM rejected_events WHERE run_id = $run_id "
        "AND product_id = $product) AS rejected",
    )
    text = f"Run {ctx.run['run_id']}, as of {ctx.run['as_of']}"
    if counts:
        text += f"; {fmt_int(counts[0]['staged'])} events staged, "
        text += f"{fmt_int(counts[0]['rejected'])} rejected rows naming this product"
    return f'<p class="meta">{esc(text)}.</p>'


def _tiers(ctx: Context) -> str:
    rows = sorted(ctx.query("tier_summary", ("user_tiers",)), key=lambda r: tier_order(r["tier"]))
    columns = [("Tier", None), ("Users", fmt_int), ("Share", fmt_pct)]
    columns += [("Average CLV", fmt_money), ("Revenue 30d", fmt_money)]
    return rows_table(columns, rows, "tiers")


def _rfm_segments(ctx: Context) -> str:
    rows = ctx.rows(
        "user_scores",
        "SELECT rfm_segment, count(*) AS users, count(*) / sum(count(*)) OVER () AS share, "
        "avg(clv) AS avg_clv FROM user_scores WHERE run_id = $run_id AND product_id = $product "
        "GROUP BY ALL ORDER BY users DESC, rfm_segment",
    )
    columns = [("Segment", None), ("Users", fmt_int), ("Share", fmt_pct)]
    columns += [("Average CLV", fmt_money)]
    return table(columns, [tuple(r.values()) for r in rows], cls="rfm") if rows else ""
