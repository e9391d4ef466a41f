"""The warehouse file: copy-on-write publishing and the `runs` ledger.

Analysts must be able to query the published data at any time, also while
tonight's run writes, and must always see one complete run. DuckDB lets one
process write a file and locks every other process out, so a writer never
opens the published file: it copies it into the folder `<warehouse>.building`,
works on the copy, checkpoints and closes it, and renames it onto the
published file in one step (`os.replace`). Readers open the published file
read-only; one that opened it before the rename keeps reading the old,
complete file. A `<warehouse>.lock` file (an OS lock, released if the process
dies) keeps two writers from racing. A killed writer leaves only a stale
`.building` folder, which the next writer deletes: the published file is
untouched. The folder is owner-only (0700): the copy, DuckDB's write-ahead
log and its spill files hold personal data and are created with the
process's default permissions.

Inside the copy, a run is written under its own run_id and shown by the
latest_* views only once marked published. A run that fails is marked failed
(its half-written rows deleted, rejected_events kept to show why) and that
ledger is published, still showing the previous run as the latest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from retention import __version__
from retention.errors import WarehouseError
from retention.schema_docs import apply_comments
from retention.sqlfiles import run_sql

# Tables a failed run's rows are deleted from (rejected_events stay, to show why).
RUN_TABLES = (
    "user_features",
    "user_scores",
    "model_params",
    "user_tiers",
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
# Per-user detail trimmed to the last [run] keep_runs published runs.
PER_USER_HISTORY = ("user_features", "user_scores", "user_survival", "contacts")
SCHEMA_FILES = (
    "warehouse/schema.sql",
    "warehouse/survival_schema.sql",
    "warehouse/contacts_schema.sql",
    "warehouse/metrics_schema.sql",
)
# Readable by DuckDB 1.0 and later (checked with 1.1.3 and 2.0.1).
DEFAULT_STORAGE_VERSION = "v1.0.0"


@contextlib.contextmanager
def open_warehouse(
    path: Path,
    threads: int | None = None,
    memory_limit: str | None = None,
    storage_version: str = DEFAULT_STORAGE_VERSION,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a private copy of the warehouse, published on a clean exit.

    If the body raises, the copy is thrown away and the published file is
    left exactly as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    private = path.with_name(path.name + ".building")
    building = private / path.name
    with _writer_lock(path):
        _remove_private(private)
        private.mkdir(mode=0o700)
        os.chmod(private, 0o700)  # whatever the umask
        if path.exists():
            shutil.copyfile(path, building)
        try:
            con = _connect(building, path, storage_version)
        except WarehouseError:
            _remove_private(private)
            raise
        try:
            _configure(con, private / "spill", threads, memory_limit)
            yield con
            con.execute("CHECKPOINT")
        except BaseException:
            con.close()
            _remove_private(private)
            raise
        con.close()
        os.chmod(building, 0o600)
        os.replace(building, path)
        _sync_folder(path.parent)
        _remove_private(private)


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseError(
                f"warehouse {path} is being written by another run; wait for it to finish"
            ) from None
        yield
    finally:
        handle.close()


def _connect(building: Path, published: Path, storage_version: str) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(
            str(building), config={"storage_compatibility_version": storage_version}
        )
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise WarehouseError(f"warehouse {published} cannot be opened: {first_line}") from None


def _configure(con, spill: Path, threads: int | None, memory_limit: str | None) -> None:
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET temp_directory = $dir", {"dir": str(spill)})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    con.begin()
    for schema in SCHEMA_FILES:
        run_sql(con, schema, {})
    apply_comments(con)
    con.commit()


def _remove_private(private: Path) -> None:
    """Delete a writer's private folder (or the `.building` file of older versions)."""
    if private.is_dir() and not private.is_symlink():
        shutil.rmtree(private)
    else:
        private.unlink(missing_ok=True)
    private.with_name(private.name + ".wal").unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (a crash right after must not undo the publish)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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


def publish_run(con: duckdb.DuckDBPyConnection, run_id: int, keep_runs: int, **values) -> None:
    """Make the run the one latest_* views show, and trim history.

    Staged events (kept only with [run] keep_staged_events) are kept for this
    run only; the per-user detail tables
    (PER_USER_HISTORY) for the last `keep_runs` published runs. Tiers,
    assignments, sends, model parameters and the ledger are kept for good:
    they are small and feed tier_history, uplift and frequency caps.
    """
    con.begin()
    update_run(con, run_id, status="published", finished_at=_now(), **values)
    con.execute(
        f"DELETE FROM {stored_table(con, 'stg_events')} WHERE run_id <> $run_id",
        {"run_id": run_id},
    )
    kept = "SELECT run_id FROM runs WHERE status = 'published' ORDER BY run_id DESC LIMIT $keep"
    for table in PER_USER_HISTORY:
        con.execute(f"DELETE FROM {table} WHERE run_id NOT IN ({kept})", {"keep": keep_runs})
    con.commit()


def stored_table(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The warehouse file's table `name`, even where a temp table of the run shadows it.

    A run stages its events into a temp table `stg_events` (fast, never
    written to disk); the file's own `stg_events` holds them only when the
    pipeline asks to keep them.
    """
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    return '"' + catalog.replace('"', '""') + '".main."' + name.replace('"', '""') + '"'


def fail_run(con: duckdb.DuckDBPyConnection, run_id: int, error: str) -> None:
    """Mark a run failed and delete its half-written rows (rejected_events stay)."""
    with contextlib.suppress(duckdb.Error):
        con.rollback()
    con.begin()
    for table in (*RUN_TABLES, stored_table(con, "stg_events")):
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": run_id})
    update_run(con, run_id, status="failed", finished_at=_now(), error=error)
    con.commit()
