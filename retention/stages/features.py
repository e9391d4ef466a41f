"""Staged events -> `user_features`, one row per (product_id, user_id).

Each feature model in `sql/features/` becomes a temp table of the run; the
last one, `user_features.sql`, joins them into the stored table. Everything is
relative to the run's as_of, so a rerun gives the same features.
The day roll-up (`user_days`) and the timelines (`user_timelines`) outlive the
stage: survival and the metrics read them instead of the events, so the
staged events are freed here (at tens of millions of rows they are most of
the run's memory).
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.stages.staging.events import drop_staged_events
from retention.warehouse.sql_files import run_sql

log = logging.getLogger(__name__)

# Read again by the survival scores and the metrics, which drop them.
SHARED_MODELS = ("user_days", "user_timelines")
FEATURE_MODELS = (
    "user_activity",
    "user_purchases",
    "user_btyd",
)


# Fewer gaps between active days than this, and a product keeps the fixed windows.
MIN_RHYTHM_GAPS = 100


def feature_params(pipeline: Pipeline, run_id: int, as_of: dt.date) -> dict:
    """The parameters of the feature models, the same on every engine."""
    return {
        "run_id": run_id,
        "as_of": as_of,
        "unit_days": pipeline.run.unit_days,
        "session_gap_minutes": pipeline.session_gap_minutes,
        "amount_mapped": "amount" in pipeline.events.columns,
    }


def build_features(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's user_features; returns the number of users."""
    params = feature_params(pipeline, run_id, as_of)
    for model in (*SHARED_MODELS, *FEATURE_MODELS):
        log.debug("  feature model %s", model)
        run_sql(
            con, f"features/{model}.sql", params, prefix=f"CREATE OR REPLACE TEMP TABLE {model} AS"
        )
    run_sql(con, "features/user_features.sql", params, prefix="INSERT INTO user_features BY NAME")
    # Each product's rhythm, from the same day roll-up: RFM recency and the tiers use it.
    con.execute("DELETE FROM product_rhythm WHERE run_id = $run_id", {"run_id": run_id})
    rhythm = {"run_id": run_id, "min_gaps": MIN_RHYTHM_GAPS}
    run_sql(con, "features/product_rhythm.sql", rhythm, prefix="INSERT INTO product_rhythm BY NAME")
    for model in FEATURE_MODELS:
        con.execute(f"DROP TABLE {model}")
    # Later stages read the roll-ups, not the events: free the run's parsed
    # rows (with keep_staged_events the warehouse table stays).
    drop_staged_events(con)
    return con.execute(
        "SELECT count(*) FROM user_features WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def ensure_shared_model(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> None:
    """Build a shared model (SHARED_MODELS) a stage needs, unless this run built it already.

    Lets a stage run on its own (tests, rebuilding metrics) on the staged events.
    """
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $name",
        {"name": name},
    ).fetchall()[0][0]
    if not exists:
        run_sql(con, f"features/{name}.sql", params, prefix=f"CREATE TEMP TABLE {name} AS")
