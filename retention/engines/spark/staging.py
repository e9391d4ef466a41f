"""The staging stage on Spark, for event files whose times are already typed.

A Parquet source whose event_time is a timestamp column (and whose amount,
if mapped, is a number) needs no text parsing: Spark reads the files,
applies the same reasons in the same order (sql/staging/parsed_events.spark.sql)
and removes duplicates with the same portable models as DuckDB, and the
staged events land in the run's lake folder, where the features read them.
Every other source stages on DuckDB as before and is handed to Spark as
Parquet: text times are parsed by DuckDB's rules (its formats, offsets,
epoch digits and DST choices), which Spark's parsers do not share, and CSV
and JSON files by DuckDB's readers and rejected-line numbers (README, "Past
one machine"). `why_not_on_spark` says which.

The rejected rows and the copies of repeated events are few: they come back
to DuckDB, which writes rejected_events from them with its own text casts, so
the table reads the same on both engines.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb

from retention.config.pipeline_file import EVENT_COLUMNS, Pipeline
from retention.config.source_keys import is_url
from retention.engines.spark.features import run_model
from retention.engines.spark.lake_files import (
    insert_from_lake,
    lake_files,
    run_folder,
    spark_path,
    temp_table_from_lake,
    write_lake_view,
)
from retention.engines.spark.session import spark_session
from retention.sources.files import OpenedSource, detect_format, open_source, resolve_files
from retention.stages.staging.events import (
    STAGING_MODELS,
    StagingCounts,
    check_event_time_format,
    choose_as_of,
    contract_columns,
    insert_rejected,
    stage_events,
    staging_params,
)
from retention.warehouse.sql_files import run_sql, stored_table
from retention.warehouse.steps import step

log = logging.getLogger(__name__)
# strip_blank's pattern (sql/staging/macros.sql) for Java's regex engine: its
# \s and \v together are RE2's \s and \v (and U+0085, U+2028, U+2029, which
# \p{Z} and \x{85} hold anyway), so it strips the same characters.
BLANK_PATTERN = r"^[\s\v\p{Z}\x{85}]+|[\s\v\p{Z}\x{85}]+$"
# DuckDB's names of the source types Spark reads to the same values
TIME_TYPES = ("TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE")
NUMBER_TYPES = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT")
# a text column may also be an integer column (both engines write its digits)
TEXT_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "TINYINT")
# the models' tables on Spark, written to the lake for the steps after them
TABLES = ("parsed_events", *(name for name, kind in STAGING_MODELS if kind == "TABLE"))


def stage_events_on_spark(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int
) -> StagingCounts:
    """Stage this run's events on Spark where the source allows, else on DuckDB."""
    source = pipeline.events
    check_event_time_format(con, pipeline)  # a bad format is refused on either engine
    reason = _why_not_before_opening(pipeline)
    opened = None
    if reason is None:
        opened = open_source(con, source, "src_events_raw")
        reason = why_not_on_spark(pipeline, opened.column_types)
    params = {**staging_params(pipeline, run_id), "blank_pattern": BLANK_PATTERN}
    if reason is None:
        spark = spark_session(pipeline.spark)
        folder = run_folder(pipeline, run_id)
        reason = _parse_on_spark(spark, pipeline, params, opened, folder)
    if reason is not None:
        log.info("  staging on DuckDB: %s", reason)
        return stage_events(con, pipeline, run_id)
    return _stage(con, spark, pipeline, params, opened, folder)


def _why_not_before_opening(pipeline: Pipeline) -> str | None:
    source = pipeline.events
    if source.format == "postgres":
        return f"{source.section} is a PostgreSQL table"
    if is_url(source.path):
        return f"{source.section} path {source.path} is in object storage"
    files, hive = resolve_files(source)
    if hive:
        return f"{source.section} path {source.path} is a hive-partitioned folder"
    fmt = detect_format(source, files)
    if fmt != "parquet":
        return f"{source.section} files are {fmt}, whose text DuckDB's readers parse"
    return None


def why_not_on_spark(pipeline: Pipeline, column_types: dict[str, str]) -> str | None:
    """Why a Parquet source with these column types stages on DuckDB (None: on Spark)."""
    columns = pipeline.events.columns
    where = pipeline.events.section
    time_type = column_types[columns["event_time"]]
    if time_type not in TIME_TYPES:
        return (
            f"{where} event_time column {columns['event_time']!r} is {time_type}, not a timestamp"
        )
    amount = columns.get("amount")
    if amount is not None and column_types[amount] not in NUMBER_TYPES:
        return f"{where} amount column {amount!r} is {column_types[amount]}, not a number"
    for contract in EVENT_COLUMNS:
        name = columns.get(contract)
        if contract not in ("event_time", "amount") and name is not None:
            if column_types[name] not in TEXT_TYPES:
                return f"{where} {contract} column {name!r} is {column_types[name]}, not text"
    return None


def _parse_on_spark(
    spark, pipeline: Pipeline, params: dict, opened: OpenedSource, folder: Path
) -> str | None:
    """Read the files and write the parsed rows to the lake; None, or why Spark cannot.

    A set of files Spark cannot read as one table, e.g. a column that is a
    number in one file and text in another (DuckDB unites them by name and
    type), stages on DuckDB instead of failing the run. Only the read of the
    files' schemas is guarded: a failure after it is a real error and stops
    the run.
    """
    # mergeSchema: files with different columns are read by name, as DuckDB's union_by_name
    reader = spark.read.option("mergeSchema", "true") if len(opened.files) > 1 else spark.read
    try:
        raw = reader.parquet(*(spark_path(name) for name in opened.files))
    except Exception as exc:  # Spark's errors arrive as Py4J and pyspark exception types
        where = f"{pipeline.events.section} path {pipeline.events.path}"
        return f"Spark cannot read {where} as one table ({_spark_message(exc)})"
    raw.createOrReplaceTempView("src_events_raw")
    spark.sql(
        _mapping_sql(pipeline), args={"default_event_type": pipeline.events.default_event_type}
    ).createOrReplaceTempView("src_events")
    spark.createDataFrame(
        list(pipeline.events.event_type_map), "source_value string, event_type string"
    ).createOrReplaceTempView("event_type_map")
    with step("spark parsed_events"):
        parsed = run_model(spark, "staging/parsed_events.sql", params)
        write_lake_view(spark, parsed, folder, "parsed_events")
    return None


def _spark_message(exc: Exception) -> str:
    """The first line of what Spark (the JVM, when it is a Py4J error) said."""
    java = getattr(exc, "java_exception", None)
    text = str(java.getMessage()) if java is not None else str(exc)
    lines = [line.strip().rstrip(":") for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _stage(
    con: duckdb.DuckDBPyConnection,
    spark,
    pipeline: Pipeline,
    params: dict,
    opened: OpenedSource,
    folder: Path,
) -> StagingCounts:
    """Stage on Spark from the parsed rows `_parse_on_spark` wrote to the lake."""
    dates = run_model(spark, "staging/event_date_range.sql", {}).first()
    params["as_of"] = choose_as_of(pipeline, *dates)
    spark.createDataFrame(
        [(params["run_id"], params["as_of"])], "run_id bigint, as_of date"
    ).createOrReplaceTempView("staging_settings")
    with step("spark dedup"):
        for name, kind in STAGING_MODELS:
            frame = run_model(spark, f"staging/{name}.sql", {})
            if kind == "TABLE":
                write_lake_view(spark, frame, folder, name)
            else:
                frame.createOrReplaceTempView(name)
        spark.table("stg_events").write.parquet(str(folder / "stg_events"))
    read, rejected, after = run_model(spark, "staging/staging_counts.sql", params).first()
    with step("rejected rows to duckdb"):
        rejected += _rejected_events(con, spark, folder, opened.files, params)
    staged_files = lake_files(folder, "stg_events")
    staged = con.execute(f"SELECT count(*) FROM read_parquet({staged_files})").fetchall()[0][0]
    if pipeline.run.keep_staged_events:
        insert_from_lake(con, stored_table(con, "stg_events"), folder, "stg_events")
    for name in TABLES:
        shutil.rmtree(folder / name)
    return StagingCounts.from_split(read, staged, rejected, after, params["as_of"])


def _rejected_events(
    con: duckdb.DuckDBPyConnection, spark, folder: Path, files: list[str], params: dict
) -> int:
    """Write rejected_events from Spark's rejected rows and conflicting copies; returns
    the conflicting copies (the caller counted the rejected rows)."""
    rows = folder / "rejected_rows"
    spark.table("parsed_events").where("reject_reason IS NOT NULL").coalesce(1).write.parquet(
        str(rows)
    )
    copies = folder / "conflicting_copies"
    spark.table("repeated_copies").where("is_conflicting").coalesce(1).write.parquet(str(copies))
    temp_table_from_lake(con, "rejected_rows", folder, rows.name)
    uris = con.execute("SELECT DISTINCT rejected_source_uri FROM rejected_rows").fetchall()
    uris = [uri for (uri,) in uris]
    con.execute("CREATE OR REPLACE TEMP TABLE source_files (uri VARCHAR, source_file VARCHAR)")
    names = _source_names(uris, files)
    if names:  # none when no row was rejected
        con.executemany("INSERT INTO source_files VALUES (?, ?)", names)
    run_sql(
        con,
        "staging/spark_rejected_rows.sql",
        {},
        prefix="CREATE OR REPLACE TEMP TABLE parsed_events AS",
    )
    con.execute("DROP TABLE rejected_rows; DROP TABLE source_files")
    insert_rejected(con, "rejected_events", params)
    temp_table_from_lake(con, "repeated_copies", folder, copies.name)
    conflicting = insert_rejected(con, "rejected_conflicting_copies", params)
    shutil.rmtree(rows)
    shutil.rmtree(copies)
    return conflicting


def _source_names(uris: list[str | None], files: list[str]) -> list[tuple[str, str]]:
    """Spark's URI of each file that had a rejected row -> the name the DuckDB engine gives it."""
    by_path = {os.path.realpath(name): name for name in files}
    out = []
    for uri in uris:
        if uri is not None:
            path = os.path.realpath(unquote(urlparse(uri).path))
            out.append((uri, by_path.get(path, path)))
    return out


def _mapping_sql(pipeline: Pipeline) -> str:
    """`src_events` on Spark: the source under contract names, as staging.events maps it
    on DuckDB (text columns as text, the typed time and amount as they are); the
    default event type is the parameter :default_event_type (Spark's string
    literals would read a backslash in it as an escape)."""
    columns = pipeline.events.columns
    typed = {"event_time", "amount"}  # the only kind of source that stages on Spark
    select = contract_columns(pipeline, typed, _quote, "STRING", ":default_event_type")
    amount = columns.get("amount")
    select += [
        f"CAST({_quote(columns['event_time'])} AS TIMESTAMP_NTZ) AS event_time_typed",
        f"CAST({_quote(amount)} AS DOUBLE) AS amount_typed"
        if amount
        else "CAST(NULL AS DOUBLE) AS amount_typed",
        "input_file_name() AS source_uri",
    ]
    return "SELECT " + ", ".join(select) + " FROM src_events_raw"


def _quote(name: str) -> str:
    """A source column name quoted for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"
