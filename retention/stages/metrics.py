"""A run's staged events, features and tiers -> the operating metrics.

Three tables an operator reads daily, per product: `daily_metrics` (PV, UV,
sessions, buyers, GMV, conversion, order value, repeat purchases),
`channel_metrics` (users, tiers, revenue and, when a costs file is given,
spend, cost per user and ROI per acquisition channel) and `cohort_retention`
(day-N retention of monthly first-seen cohorts). The definitions are in the
header of each model in `sql/metrics/`; this module only prepares the optional
costs source and runs the models in order.

Costs are a side input an operator exports by hand from ad platforms, so a
bad row there must not cost the run: it is skipped and counted in a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import duckdb

from retention.config.pipeline_file import SourceSettings
from retention.sources.files import CSV_REJECTS, open_source
from retention.stages.features import SHARED_MODELS, ensure_shared_model
from retention.warehouse.sql_files import quote_identifier, run_sql

log = logging.getLogger(__name__)

METRIC_TABLES = ("daily_metrics", "channel_metrics", "cohort_retention")
# Contract columns of the costs source; product_id is optional (without it a
# cost row counts for every product).
COST_COLUMNS = ("channel", "day", "spend")
OPTIONAL_COST_COLUMNS = ("product_id",)
RAW_COSTS = "src_costs_raw"
TEMP_TABLES = ("src_costs", "cost_rows", *SHARED_MODELS)


def build_metrics(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    as_of: dt.date,
    session_gap_minutes: int,
    costs: SourceSettings | None = None,
) -> int:
    """Write this run's daily_metrics, channel_metrics and cohort_retention; returns rows written.

    Needs the run's user_days and user_timelines (built with the
    features, or here from stg_events),
    user_features and user_tiers (and the tables of
    warehouse/metrics_schema.sql, which opening the warehouse creates). Rows the run
    already has in these tables are replaced, so a retried stage does not
    double them; the caller decides when the transaction commits.
    """
    _load_costs(con, costs, run_id, as_of)
    params = {"run_id": run_id, "as_of": as_of, "session_gap_minutes": session_gap_minutes}
    for model in SHARED_MODELS:
        ensure_shared_model(con, model, params)
    written = 0
    try:
        for table in METRIC_TABLES:
            con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": run_id})
            run_sql(con, f"metrics/{table}.sql", params, prefix=f"INSERT INTO {table} BY NAME")
            rows = con.execute(
                f"SELECT count(*) FROM {table} WHERE run_id = $run_id", {"run_id": run_id}
            ).fetchall()[0][0]
            log.debug("  %s: %s rows", table, f"{rows:,}")
            written += rows
    finally:
        for name in TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return written


def cost_columns(costs: SourceSettings) -> dict[str, str]:
    """Contract name -> source column; unmapped required columns keep their own name."""
    columns = {name: name for name in COST_COLUMNS}
    columns.update(costs.columns)
    return columns


def _load_costs(
    con: duckdb.DuckDBPyConnection, costs: SourceSettings | None, run_id: int, as_of: dt.date
) -> None:
    """Create the temp table `cost_rows` (empty without a costs source) and log bad rows."""
    if costs is None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE src_costs (product_id VARCHAR, channel VARCHAR, "
            "day VARCHAR, spend VARCHAR)"
        )
    else:
        _open_costs(con, replace(costs, columns=cost_columns(costs)))
    decimal_comma = costs is not None and costs.decimal_separator == ","
    run_sql(
        con,
        "metrics/cost_rows.sql",
        {"decimal_comma": decimal_comma},
        prefix="CREATE OR REPLACE TEMP TABLE cost_rows AS",
    )
    if costs is not None:
        _log_cost_rows(con, costs, run_id, as_of)


def _open_costs(con: duckdb.DuckDBPyConnection, costs: SourceSettings) -> None:
    """Create `src_costs`: the contract columns as text, whatever the source types."""
    opened = open_source(con, costs, RAW_COSTS)
    if opened.format == "csv":
        malformed = con.execute(
            f"SELECT count(DISTINCT (scan_id, file_id, line)) FROM {CSV_REJECTS[0]}"
        ).fetchall()[0][0]
        if malformed:
            log.warning(
                "%s path %s: %d malformed CSV lines skipped (wrong field count or bad quoting)",
                costs.section,
                costs.path,
                malformed,
            )
        con.execute(f"DROP TABLE IF EXISTS {CSV_REJECTS[0]}; DROP TABLE IF EXISTS {CSV_REJECTS[1]}")
    selected = ", ".join(
        f"CAST({quote_identifier(costs.columns[name])} AS VARCHAR) AS {name}"
        if name in costs.columns
        else f"CAST(NULL AS VARCHAR) AS {name}"
        for name in (*OPTIONAL_COST_COLUMNS, *COST_COLUMNS)
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE src_costs AS SELECT {selected} FROM {RAW_COSTS}")
    con.execute(f"DROP {'VIEW' if opened.format == 'parquet' else 'TABLE'} {RAW_COSTS}")


def _log_cost_rows(
    con: duckdb.DuckDBPyConnection, costs: SourceSettings, run_id: int, as_of: dt.date
) -> None:
    """Warn about skipped cost rows by reason, and about spend that every product shows."""
    rejected = con.execute(
        "SELECT reject_reason, count(*) FROM cost_rows WHERE reject_reason IS NOT NULL "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    if rejected:
        log.warning(
            "%s path %s: %d cost rows skipped (%s)",
            costs.section,
            costs.path,
            sum(count for _, count in rejected),
            ", ".join(f"{reason} {count}" for reason, count in rejected),
        )
    later = con.execute(
        "SELECT count(*) FROM cost_rows WHERE reject_reason IS NULL AND day > $as_of",
        {"as_of": as_of},
    ).fetchall()[0][0]
    if later:
        log.info("  %s: %d cost rows dated after as_of %s not counted", costs.section, later, as_of)
    products = con.execute(
        "SELECT count(DISTINCT product_id) FROM user_features WHERE run_id = $run_id",
        {"run_id": run_id},
    ).fetchall()[0][0]
    if "product_id" not in costs.columns and products > 1:
        log.warning(
            "%s maps no product_id column: each of the %d products shows the whole spend of "
            "a channel, so do not add spend up across products",
            costs.section,
            products,
        )
