"""The lake keeps the runs the warehouse keeps: `[run] keep_runs` prunes both.

Every Spark table of a run is read back into the warehouse, so a run folder
is a copy, kept for readers of the lake (another Spark job, an audit). Once
publishing has trimmed a run's per-user rows from the warehouse (ledger,
`keep_runs`), its folder goes too, as do the folders of runs that failed;
a run whose user_features the warehouse still holds keeps its folder. A lake
belongs to one warehouse (the default lake sits beside the warehouse file):
its run ids are that warehouse's.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import duckdb

from retention.config.pipeline_file import Pipeline

log = logging.getLogger(__name__)
RUN_FOLDER = re.compile(r"run_([0-9]+)")


def prune_lake(con: duckdb.DuckDBPyConnection, pipeline: Pipeline) -> list[Path]:
    """Delete the run folders of runs whose per-user rows the warehouse no longer keeps."""
    lake = pipeline.spark.lake_dir(pipeline.run.warehouse)
    if not lake.is_dir():
        return []
    kept = {row[0] for row in con.execute("SELECT DISTINCT run_id FROM user_features").fetchall()}
    removed = []
    for folder in sorted(lake.iterdir()):
        match = RUN_FOLDER.fullmatch(folder.name)
        if match and folder.is_dir() and int(match.group(1)) not in kept:
            shutil.rmtree(folder)
            removed.append(folder)
            log.info("  deleted lake folder %s (its run is no longer kept)", folder.name)
    return removed
