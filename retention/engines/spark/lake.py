"""The lake keeps the files the warehouse's views read, and one publish more.

On the Spark engine the per-user tables are views over the lake's Parquet
(warehouse/lake_views.py), so the lake is the data, not a copy. After each
publish:
- the files that an earlier publish retired (`[run] keep_runs` trimmed their
  runs) are deleted: neither the published file nor the one being published
  reads them, and a reader of the file before that has had one publish to
  finish;
- a run folder with no listed file left (a failed run, a killed one, a run
  trimmed long ago) is deleted whole;
- a run whose per-user detail is trimmed but whose tiers and assignments are
  kept for good (they feed tier_history and uplift) keeps those folders only:
  its staged events and intermediate tables go;
- a run whose per-user detail is kept keeps its whole folder, intermediate
  tables included, for readers of the lake (another Spark job, an audit).
A lake belongs to one warehouse (the default lake sits beside the warehouse
file): its run ids are that warehouse's.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.warehouse.ledger import PER_USER_HISTORY

log = logging.getLogger(__name__)
RUN_FOLDER = re.compile(r"run_([0-9]+)")


def prune_lake(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int) -> list[Path]:
    """Delete what no view reads any more (see above); returns the deleted run folders."""
    lake = pipeline.spark.lake_dir(pipeline.run.warehouse).resolve()
    con.execute("DELETE FROM lake_files WHERE retired_by < $run_id", {"run_id": run_id})
    if not lake.is_dir():
        return []
    listed: dict[int, set[str]] = {}
    whole: set[int] = set()
    for run, table, path in con.execute(
        "SELECT run_id, table_name, path FROM lake_files"
    ).fetchall():
        folder = lake / f"run_{run}"
        if Path(path).is_relative_to(folder):
            listed.setdefault(run, set()).add(Path(path).relative_to(folder).parts[0])
        if table in PER_USER_HISTORY:
            whole.add(run)
    removed = []
    for folder in sorted(lake.iterdir()):
        match = RUN_FOLDER.fullmatch(folder.name)
        if not match or not folder.is_dir() or int(match.group(1)) in whole:
            continue
        run = int(match.group(1))
        if run not in listed:
            shutil.rmtree(folder)
            removed.append(folder)
            log.info("  deleted lake folder %s (no view reads it)", folder.name)
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name not in listed[run]:
                _remove(entry)
    return removed


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()
