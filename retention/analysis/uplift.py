"""`retention uplift`: did a run's campaigns change what users did?

For each playbook of a run, per product and over every product pooled
(product_id NULL), sent users are compared with its holdout users
(held out by a hash, before contactability was checked, and counted only if
they had a channel) over the horizon after the run's as_of: share active,
purchases and revenue per user. Difference of means with a 95% interval from
the normal approximation (Welch standard error), and the lift relative to the
holdout. The outcome events come from the source staged up to as_of +
horizon in a scratch database, like `retention evaluate`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from retention.config.pipeline_file import Pipeline
from retention.errors import RetentionError
from retention.stages.staging.events import stage_events
from retention.warehouse.publish import open_warehouse
from retention.warehouse.sql_files import quote_literal, run_sql

log = logging.getLogger(__name__)

METRICS = ("active", "purchases", "revenue")
RESULT_COLUMNS = [
    "playbook",
    "product_id",  # None: every product of the playbook pooled
    "metric",
    "sent_users",
    "holdout_users",
    "sent_value",
    "holdout_value",
    "difference",
    "ci_lower",
    "ci_upper",
    "relative_lift",
]
Z_95 = 1.959963984540054
OUTCOME_RUN_ID = -1


def measure_uplift(pipeline: Pipeline, run_id: int, horizon_days: int) -> pd.DataFrame:
    """Per playbook and metric: sent vs holdout, difference, 95% interval, relative lift."""
    with tempfile.TemporaryDirectory(prefix="retention-uplift-") as scratch:
        with open_warehouse(Path(scratch) / "outcomes.duckdb") as con:
            as_of = _copy_assignments(con, pipeline.run.warehouse, run_id)
            end = as_of + dt.timedelta(days=horizon_days)
            counts = stage_events(con, pipeline.with_overrides(as_of=end), OUTCOME_RUN_ID)
            if counts.rows_after_as_of == 0 and counts.as_of < end:
                log.warning("the source ends before as_of + horizon; later days count as inactive")
            params = {
                "outcome_run_id": OUTCOME_RUN_ID,
                "as_of": as_of,
                "horizon_days": horizon_days,
            }
            run_sql(
                con,
                "outcomes/window_outcomes.sql",
                params,
                prefix="CREATE TEMP TABLE window_outcomes AS",
            )
            outcomes = run_sql(con, "uplift/campaign_outcomes.sql", {}).df()
    results = compare_arms(outcomes)
    _store(pipeline, run_id, horizon_days, results)
    return results


def compare_arms(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per playbook: the pooled comparison first, then one per product.

    Each product has its own rhythm and scale (a daily app, a B2B account), so
    a pooled effect can hide a product where the playbook does nothing or
    harm; the holdout is drawn at the same share in every product, so the
    pooled row is their user-weighted average.
    """
    rows = []
    for playbook, users in outcomes.groupby("playbook", sort=True):
        groups = [(None, users), *users.groupby("product_id", sort=True)]
        for product, group in groups:
            sent, holdout = group[group.arm == "sent"], group[group.arm == "holdout"]
            for metric in METRICS:
                rows.append(
                    {
                        "playbook": playbook,
                        "product_id": product,
                        "metric": metric,
                        **_difference(sent[metric], holdout[metric]),
                    }
                )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)  # no rows: a run with no campaign users


def _difference(sent: pd.Series, holdout: pd.Series) -> dict:
    n_sent, n_holdout = len(sent), len(holdout)
    mean_sent = float(sent.mean()) if n_sent else math.nan
    mean_holdout = float(holdout.mean()) if n_holdout else math.nan
    diff = mean_sent - mean_holdout
    if n_sent > 1 and n_holdout > 1:
        se = math.sqrt(sent.var(ddof=1) / n_sent + holdout.var(ddof=1) / n_holdout)
    else:
        se = math.nan
    return {
        "sent_users": n_sent,
        "holdout_users": n_holdout,
        "sent_value": mean_sent,
        "holdout_value": mean_holdout,
        "difference": diff,
        "ci_lower": diff - Z_95 * se,
        "ci_upper": diff + Z_95 * se,
        "relative_lift": diff / mean_holdout if mean_holdout else math.nan,
    }


def _copy_assignments(con: duckdb.DuckDBPyConnection, warehouse: Path, run_id: int) -> dt.date:
    if not warehouse.is_file():
        raise RetentionError(f"warehouse {warehouse} does not exist; run the pipeline first")
    con.execute(f"ATTACH {quote_literal(str(warehouse))} AS published (READ_ONLY)")
    found = con.execute(
        "SELECT as_of FROM published.runs WHERE run_id = $run_id AND status = 'published'",
        {"run_id": run_id},
    ).fetchall()
    if not found:
        raise RetentionError(f"run {run_id} is not a published run of warehouse {warehouse}")
    con.execute(
        "CREATE TEMP TABLE campaign_users AS SELECT * FROM published.playbook_assignments "
        "WHERE run_id = $run_id AND playbook IS NOT NULL",
        {"run_id": run_id},
    )
    con.execute("DETACH published")
    return found[0][0]


def _store(pipeline: Pipeline, run_id: int, horizon_days: int, results: pd.DataFrame) -> None:
    if results.empty:
        return
    with open_warehouse(pipeline.run.warehouse) as con:
        con.register("uplift_frame", results)
        con.execute(
            "INSERT INTO uplift_results BY NAME SELECT $run_id AS run_id, "
            "now()::timestamp AS measured_at, $horizon AS horizon_days, * FROM uplift_frame",
            {"run_id": run_id, "horizon": horizon_days},
        )
