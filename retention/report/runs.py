"""Which run a report is about, and which runs it compares with.

By default the published run (newest as_of; of that day's runs, the last to
finish), as `latest_*` shows. `--run` picks any published run instead, for
a look back at an older day or at a rerun. "Previous" is always the
published run of the previous as_of day, so a report compares day with day
however many reruns a day had. The warehouse is opened read-only, so a
report never changes what it reports on.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from retention.errors import WarehouseError
from retention.report.context import fetch
from retention.warehouse.sql_files import read_sql

_PUBLISHED_SQL = (
    "SELECT run_id FROM runs WHERE status = 'published' AND as_of IS NOT NULL "
    "ORDER BY as_of DESC, finished_at DESC, run_id DESC LIMIT 1"
)


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
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


def reported_run(con: duckdb.DuckDBPyConnection, warehouse: Path, run_id: int | None) -> dict:
    """The run to report: `run_id`, or the published one. Raises when there is none."""
    try:
        if run_id is None:
            found = fetch(con, _PUBLISHED_SQL)
            if not found:
                raise WarehouseError(
                    f"warehouse {warehouse} has no published run yet; nothing to report"
                )
            run_id = found[0]["run_id"]
        rows = fetch(con, "SELECT * FROM runs WHERE run_id = $run_id", run_id=run_id)
    except duckdb.CatalogException:
        raise WarehouseError(f"{warehouse} is not a retention warehouse (no runs table)") from None
    if not rows:
        known = [r["run_id"] for r in fetch(con, "SELECT run_id FROM runs ORDER BY 1")]
        listed = ", ".join(map(str, known[-10:])) or "none"
        raise WarehouseError(f"--run {run_id}: no such run in {warehouse}; runs are: {listed}")
    run = rows[0]
    if run["status"] != "published" or run["as_of"] is None:
        raise WarehouseError(
            f"--run {run_id}: that run is {run['status']}, not published; "
            "only a published run has complete tables to report"
        )
    return run


def published_days(con: duckdb.DuckDBPyConnection, run: dict) -> list[dict]:
    """One published run per as_of day up to the run's own, oldest first."""
    return fetch(con, read_sql("report/run_days.sql"), run_id=run["run_id"], as_of=run["as_of"])


def previous_day(con: duckdb.DuckDBPyConnection, days: list[dict]) -> dict | None:
    """The published run of the day before the reported one (its full `runs` row)."""
    if len(days) < 2:
        return None
    rows = fetch(con, "SELECT * FROM runs WHERE run_id = $run_id", run_id=days[-2]["run_id"])
    return rows[0]
