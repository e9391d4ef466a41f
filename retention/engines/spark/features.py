"""The features stage on Spark: staged events -> user_features and the day roll-ups.

The staged events are in the run's lake folder: staged there by Spark
(engines/spark/staging.py), or staged by DuckDB and handed over as Parquet
(a source whose text DuckDB's rules parse); Spark runs the same `sql/features/`
models (transpiled by sqlglot, or a `name.spark.sql` variant where DuckDB's
version is outside the portable subset) and writes each per-user table as
Parquet beside them. The warehouse's view user_features is pointed at this
run's files, inside the stage's transaction (warehouse/lake_views.py), so a run
killed at any point publishes nothing, and every later stage, `retention sql`,
`report` and `export` see the usual tables.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from importlib import resources
from pathlib import Path

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.engines.spark.lake_files import (
    insert_from_lake,
    lake_folder,
    read_lake_views,
    run_folder,
    temp_table_from_lake,
    write_lake_view,
)
from retention.engines.spark.session import spark_session
from retention.stages.features import (
    FEATURE_MODELS,
    MIN_RHYTHM_GAPS,
    SHARED_MODELS,
    feature_params,
)
from retention.stages.staging.events import drop_staged_events
from retention.warehouse.lake_views import add_files
from retention.warehouse.sql_files import quote_literal, read_sql
from retention.warehouse.steps import step

log = logging.getLogger(__name__)
# Written to the lake and read back: the stored tables and the roll-ups later stages read.
STORED = {"user_features": "user_features", "product_rhythm": "product_rhythm"}
TEMP = SHARED_MODELS
MARKER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")  # Spark's :name parameters


def spark_sql(name: str) -> str:
    """Spark SQL of `sql/<name>`: its `.spark.sql` variant, else the transpiled DuckDB file."""
    variant = name.removesuffix(".sql") + ".spark.sql"
    if resources.files("retention.sql").joinpath(variant).is_file():
        return read_sql(variant)
    from retention.engines.spark.portable import transpile

    return transpile(read_sql(name))


def build_features_on_spark(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's user_features and product_rhythm via Spark; returns the number of users."""
    if staged_on_duckdb(con):
        folder = run_folder(pipeline, run_id)
        with step("hand the staged events to spark"):
            con.execute(
                f"COPY (SELECT * FROM stg_events) TO {quote_literal(str(folder / 'stg_events'))} "
                "(FORMAT parquet, PER_THREAD_OUTPUT true)"
            )
    else:  # staged on Spark (engines/spark/staging.py), into this run's emptied folder
        folder = lake_folder(pipeline, run_id)
    spark = spark_session(pipeline.spark)
    params = {**feature_params(pipeline, run_id, as_of), "min_gaps": MIN_RHYTHM_GAPS}
    read_lake_views(spark, folder, {"stg_events": "stg_events"})
    with step("spark features"):
        for model in (*SHARED_MODELS, *FEATURE_MODELS, "user_features", "product_rhythm"):
            frame = run_model(spark, f"features/{model}.sql", params)
            if model in STORED or model in TEMP:
                write_lake_view(spark, frame, folder, model)
            else:
                frame.createOrReplaceTempView(model)
    with step("read the spark tables"):
        _load(con, folder, run_id)
    drop_staged_events(con)
    return con.execute(
        "SELECT count(*) FROM user_features WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def staged_on_duckdb(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this run's events were staged on DuckDB (its temp view stg_events)."""
    query = "SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = 'stg_events'"
    return con.execute(query).fetchall()[0][0] > 0


def run_model(spark, name: str, params: dict, sql: str | None = None):
    """A Spark DataFrame of `sql/<name>` (or of `sql`, its Spark text) with its parameters."""
    sql = sql or spark_sql(name)
    args = {key: params[key] for key in set(MARKER.findall(sql))}
    log.debug("  spark model %s", name)
    return spark.sql(sql, args=args)


def _load(con: duckdb.DuckDBPyConnection, folder: Path, run_id: int) -> None:
    """user_features listed for its view, product_rhythm (one row per product) into the
    warehouse, and the roll-ups as temp tables for the metrics stage."""
    add_files(con, run_id, "user_features", folder / "user_features")
    con.execute("DELETE FROM product_rhythm WHERE run_id = $run_id", {"run_id": run_id})
    insert_from_lake(con, "product_rhythm", folder, "product_rhythm")
    for table in TEMP:
        temp_table_from_lake(con, table, folder, table)
