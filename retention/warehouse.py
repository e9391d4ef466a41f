"""Open the warehouse file and keep the `runs` ledger.

A run is written under its own run_id and becomes visible (the latest_* views)
only when it is marked published, the last step of a run. A run that fails is
marked failed; a run whose process died stays "running" until the next run
finds it and marks it failed. Either way its half-written rows are deleted,
except rejected_events, which are kept so the user can see why it failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb

from retention import __version__
from retention.errors import WarehouseError
from retention.sqlfiles import run_sql

# Tables a failed run's rows are deleted from (rejected_events stay, to show why).
RUN_TABLES = (
    "stg_events",
    "user_features",
    "user_scores",
    "model_params",
    "user_tiers",
    "survival_curves",
    "hazard_ratios",
    "user_survival",
)


@contextlib.contextmanager
def open_warehouse(
    path: Path, threads: int | None = None, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the schema in place; closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseError(
                f"warehouse {path} is open in another process; close it and run again"
            ) from None
        raise WarehouseError(f"warehouse {path} cannot be opened: {exc}") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"warehouse {path} is not a DuckDB database: {exc}") from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET temp_directory = $dir", {"dir": str(path) + ".tmp"})
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute("SET memory_limit = $limit", {"limit": memory_limit})
        con.begin()
        run_sql(con, "warehouse/schema.sql", {})
        run_sql(con, "warehouse/survival_schema.sql", {})
        run_sql(con, "warehouse/contacts_schema.sql", {})
        con.commit()
        yield con
    finally:
        con.close()


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


def update_run(con: duckdb.DuckDBPyConnection, run_id: int, **values) -> None:
    """Set columns of this run's ledger row (names are this module's, not the user's)."""
    assignments = ", ".join(f"{column} = ${column}" for column in values)
    con.execute(
        f"UPDATE runs SET {assignments} WHERE run_id = $run_id", {**values, "run_id": run_id}
    )


def publish_run(con: duckdb.DuckDBPyConnection, run_id: int, **values) -> None:
    """Make the run the one latest_* views show; drop older runs' staged events."""
    con.begin()
    update_run(con, run_id, status="published", finished_at=_now(), **values)
    con.execute("DELETE FROM stg_events WHERE run_id <> $run_id", {"run_id": run_id})
    con.commit()


def fail_run(con: duckdb.DuckDBPyConnection, run_id: int, error: str) -> None:
    """Mark a run failed and delete its half-written rows (rejected_events stay)."""
    with contextlib.suppress(duckdb.Error):
        con.rollback()
    con.begin()
    for table in RUN_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": run_id})
    update_run(con, run_id, status="failed", finished_at=_now(), error=error)
    con.commit()
