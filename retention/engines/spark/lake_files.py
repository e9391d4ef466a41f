"""The run's lake folder, and the moves of tables into and out of it.

Every Spark stage reads its inputs from `lake/run_<id>/<table>/` as views,
writes what the next stage needs there as Parquet, and reads its stored
tables into the warehouse from there (inside the stage's transaction, so a
killed run publishes nothing). One module names and moves them all, so the
stages cannot drift apart in how a table reaches the lake or the warehouse.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.warehouse.sql_files import literal_path, quote_literal

GLOB_CHARACTERS = re.compile(r"([\\*?\[\]{}])")  # Hadoop's glob syntax


def lake_folder(pipeline: Pipeline, run_id: int) -> Path:
    """This run's lake folder, `lake/run_<id>/` (one subfolder of Parquet per table)."""
    return pipeline.spark.lake_dir(pipeline.run.warehouse) / f"run_{run_id}"


def run_folder(pipeline: Pipeline, run_id: int) -> Path:
    """This run's lake folder, emptied first (an unpublished run may have used the id)."""
    folder = lake_folder(pipeline, run_id)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def spark_path(path: Path | str) -> str:
    """A path for Spark's readers, which take every path as a glob pattern: its
    pattern characters escaped, so `events[1].parquet` is that file (unescaped,
    Spark reads `events1.parquet` instead, without a word)."""
    return GLOB_CHARACTERS.sub(r"\\\1", str(path))


def read_lake_views(spark, folder: Path, tables: Mapping[str, str]) -> None:
    """Register lake tables as Spark views: view name -> its folder in `folder`."""
    for view, table in tables.items():
        spark.read.parquet(spark_path(folder / table)).createOrReplaceTempView(view)


def read_listed_views(spark, con: duckdb.DuckDBPyConnection, run_id: int, tables) -> None:
    """Register this run's rows of the warehouse's lake views as Spark views of those names:
    the files listed for them (warehouse/lake_views.py), wherever the stage wrote them."""
    from retention.warehouse.lake_views import run_files

    for table in tables:
        paths = [spark_path(path) for path in run_files(con, run_id, table)]
        spark.read.parquet(*paths).createOrReplaceTempView(table)


def write_lake_view(spark, frame, folder: Path, name: str) -> None:
    """Write a Spark frame to the lake once and read it back as the view `name`
    (a view over a plan would be recomputed by every later read)."""
    frame.write.parquet(str(folder / name))
    spark.read.parquet(spark_path(folder / name)).createOrReplaceTempView(name)


def lake_files(folder: Path, table: str) -> str:
    """A lake table's Parquet files as a DuckDB list for read_parquet(), each as that
    one file (`literal_path`: a lake path with [ or ? in it is no pattern)."""
    files = sorted(str(path) for path in (folder / table).glob("*.parquet"))
    return "[" + ", ".join(quote_literal(literal_path(name)) for name in files) + "]"


def temp_table_from_lake(
    con: duckdb.DuckDBPyConnection, name: str, folder: Path, table: str
) -> None:
    """The lake table `table` as DuckDB's temp table `name` (replacing one of that name)."""
    files = lake_files(folder, table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_parquet({files})")


def insert_from_lake(con: duckdb.DuckDBPyConnection, table: str, folder: Path, name: str) -> None:
    """Append the lake table `name` to the warehouse table `table`, by column name."""
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet({lake_files(folder, name)})"
    )


def hand_over(con: duckdb.DuckDBPyConnection, spark, query: str, path, view: str) -> None:
    """A DuckDB query's rows to Spark as Parquet in the lake, as the Spark view `view`."""
    con.execute(f"COPY ({query}) TO {quote_literal(str(path))} (FORMAT parquet)")
    spark.read.parquet(spark_path(path)).createOrReplaceTempView(view)
