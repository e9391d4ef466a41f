"""The `runs` ledger inside the warehouse: start, record, publish or fail a run.

Inside the copy, a run is written under its own run_id and shown by the
latest_* views only once marked published. A run that fails is marked failed
(its half-written rows deleted, rejected_events kept to show why) and that
ledger is published, still showing the previous run as the latest.

Which published run is the latest is decided by the data's day, not the
clock: the newest as_of, and of that day's runs the last to finish (the
`published_run` view). So an Airflow or cron backfill of an older day is
stored under its own run_id, queryable and in tier_history, while the
latest_* views keep showing the newest day; a rerun of the newest day
replaces it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import duckdb

from retention.version import __version__
from retention.warehouse import lake_views
from retention.warehouse.sql_files import stored_table

# Tables a failed run's rows are deleted from (rejected_events stay, to show why).
RUN_TABLES = (
    "user_features",
    "user_scores",
    "model_params",
    "user_tiers",
    "product_rhythm",
    "survival_curves",
    "hazard_ratios",
    "user_survival",
    "contacts",
    "playbook_assignments",
    "sends",
    "daily_metrics",
    "channel_metrics",
    "cohort_retention",
)
# Per-user detail trimmed to the last [run] keep_runs published runs (and the latest).
PER_USER_HISTORY = ("user_features", "user_scores", "user_survival", "contacts")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def start_run(con: duckdb.DuckDBPyConnection, pipeline: Path) -> int:
    """Close out runs that died, then open a new run; returns its run_id."""
    stale = [
        r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()
    ]
    for run_id in stale:
        fail_run(con, run_id, "interrupted: the process stopped before the run finished")
    con.execute(
        "INSERT INTO runs (run_id, pipeline, started_at, status, retention_version) "
        "SELECT coalesce(max(run_id), 0) + 1, $pipeline, $now, 'running', $version FROM runs",
        {"pipeline": str(pipeline), "now": _now(), "version": __version__},
    )
    return con.execute("SELECT max(run_id) FROM runs").fetchall()[0][0]


def record_stage(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    stage: str,
    started: dt.datetime,
    seconds: float,
    rows: int | None,
) -> None:
    con.execute(
        "INSERT INTO run_stages VALUES ($run_id, $stage, $started, $seconds, $rows)",
        {"run_id": run_id, "stage": stage, "started": started, "seconds": seconds, "rows": rows},
    )


def record_steps(
    con: duckdb.DuckDBPyConnection, run_id: int, stage: str, steps: list[tuple[str, float]]
) -> None:
    """Store a stage's steps, summed per name, in the order each name first ended."""
    totals: dict[str, list[float]] = {}
    for name, seconds in steps:
        total = totals.setdefault(name, [0.0, 0])
        total[0] += seconds
        total[1] += 1
    if not totals:  # a stage that ran no SQL model and no named step
        return
    con.executemany(
        "INSERT INTO run_steps VALUES (?, ?, ?, ?, ?)",
        [[run_id, stage, name, seconds, calls] for name, (seconds, calls) in totals.items()],
    )


def update_run(con: duckdb.DuckDBPyConnection, run_id: int, **values) -> None:
    """Set columns of this run's ledger row (names are this module's, not the user's)."""
    assignments = ", ".join(f"{column} = ${column}" for column in values)
    con.execute(
        f"UPDATE runs SET {assignments} WHERE run_id = $run_id", {**values, "run_id": run_id}
    )


def publish_run(con: duckdb.DuckDBPyConnection, run_id: int, keep_runs: int, **values) -> bool:
    """Mark the run published and trim history; return whether it is now the latest.

    The run is the latest (the one latest_* views show) unless a published
    run has a newer as_of: then it is a backfill, stored beside it. Staged
    events (kept only with [run] keep_staged_events) are kept for the latest
    run only; the per-user detail tables (PER_USER_HISTORY) for the last
    `keep_runs` runs to finish, and always for the latest, however long ago
    it finished. Tiers, assignments, sends, model parameters and the ledger
    are kept for good: they are small and feed tier_history, uplift and
    frequency caps. On a Spark warehouse the trimmed runs' lake files are
    retired instead (warehouse/lake_views.py).
    """
    con.begin()
    update_run(con, run_id, status="published", finished_at=_now(), **values)
    latest = latest_run_id(con)
    con.execute(
        f"DELETE FROM {stored_table(con, 'stg_events')} WHERE run_id IS DISTINCT FROM $latest",
        {"latest": latest},
    )
    kept = (
        "SELECT run_id FROM (SELECT run_id FROM runs WHERE status = 'published' "
        "ORDER BY run_id DESC LIMIT $keep) UNION ALL SELECT run_id FROM published_run"
    )
    lake = lake_views.uses_lake(con)
    for table in PER_USER_HISTORY:
        if lake and table in lake_views.LAKE_TABLES:
            lake_views.retire(con, table, kept, {"keep": keep_runs}, by_run=run_id)
        else:
            con.execute(f"DELETE FROM {table} WHERE run_id NOT IN ({kept})", {"keep": keep_runs})
    con.commit()
    return latest == run_id


def latest_run_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The run the latest_* views show (newest as_of, then last to finish); None before any."""
    rows = con.execute("SELECT run_id FROM published_run").fetchall()
    return rows[0][0] if rows else None


def is_latest(con: duckdb.DuckDBPyConnection, run_id: int) -> bool:
    """Whether `run_id` is the run the latest_* views show (False for a backfill or a failure).

    Exports use it to decide whether a run's folder may become LATEST.
    """
    return latest_run_id(con) == run_id


def fail_run(con: duckdb.DuckDBPyConnection, run_id: int, error: str) -> None:
    """Mark a run failed and delete its half-written rows (rejected_events stay)."""
    with contextlib.suppress(duckdb.Error):
        con.rollback()
    con.begin()
    tables = (*RUN_TABLES, stored_table(con, "stg_events"))
    if lake_views.uses_lake(con):  # a Spark warehouse: unlist the run's lake files instead
        lake_views.drop_run(con, run_id)
        tables = tuple(table for table in tables if table not in lake_views.LAKE_TABLES)
    for table in tables:
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": run_id})
    update_run(con, run_id, status="failed", finished_at=_now(), error=error)
    con.commit()
