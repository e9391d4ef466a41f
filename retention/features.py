"""Staged events -> `user_features`, one row per (product_id, user_id).

Each feature model in `sql/features/` becomes a temp table of the run; the
last one, `user_features.sql`, joins them into the stored table. Everything is
relative to the run's as_of, so a rerun gives the same features.
The sessions (`run_sessions`) outlive the stage: the daily metrics count them
too, and rebuilding them costs as much as all other features.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb

from retention.config import Pipeline
from retention.sqlfiles import run_sql

log = logging.getLogger(__name__)

SHARED_MODELS = ("run_sessions",)  # dropped by the metrics stage
FEATURE_MODELS = (
    "user_days",
    "user_activity",
    "user_sessions",
    "user_purchases",
    "user_bot_signals",
    "user_btyd",
)


def build_features(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's user_features; returns the number of users."""
    params = {
        "run_id": run_id,
        "as_of": as_of,
        "unit_days": pipeline.run.unit_days,
        "session_gap_minutes": pipeline.session_gap_minutes,
        "amount_mapped": "amount" in pipeline.events.columns,
    }
    for model in (*SHARED_MODELS, *FEATURE_MODELS):
        log.info("  feature model %s", model)
        run_sql(
            con, f"features/{model}.sql", params, prefix=f"CREATE OR REPLACE TEMP TABLE {model} AS"
        )
    run_sql(con, "features/user_features.sql", params, prefix="INSERT INTO user_features BY NAME")
    for model in FEATURE_MODELS:
        con.execute(f"DROP TABLE {model}")
    return con.execute(
        "SELECT count(*) FROM user_features WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]
