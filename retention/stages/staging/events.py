"""Raw events -> `stg_events` and `rejected_events`.

Python only builds the mapping view (source column names are the user's, so
they are quoted here); the parsing, rejection reasons and de-duplication are
the SQL models in `sql/staging/`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

import duckdb

from retention.config.pipeline_file import EVENT_COLUMNS, Pipeline
from retention.errors import ConfigError, DataQualityError, SourceError
from retention.sources.files import CSV_REJECTS, open_source
from retention.stages.staging.reject_hints import reject_summary
from retention.warehouse.sql_files import quote_identifier, run_sql, stored_table

TEMPORAL_TYPES = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")
NUMERIC_PREFIXES = (
    "DOUBLE",
    "FLOAT",
    "DECIMAL",
    "INTEGER",
    "BIGINT",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
    "REAL",
)
MAX_EVENT_TIME = dt.date(2200, 1, 1)
# Built in this order over parsed_events (sql/staging/<name>.sql): views, except
# the two small tables of repeated ids, which must not be recomputed per read.
STAGING_MODELS = (
    ("usable_events", "VIEW"),
    ("duplicate_keys", "TABLE"),
    ("repeated_copies", "TABLE"),
    ("first_copies", "TABLE"),
    ("stg_events", "VIEW"),
)
log = logging.getLogger(__name__)
LATE_AS_OF_DAYS = 90  # an as_of this long after the last event gets a warning
TIME_OF_DAY_DIRECTIVES = re.compile(r"%[HIpMSfgnzZcX]")  # strptime fields below a day


@dataclass(frozen=True)
class StagingCounts:
    """How the source rows split: read = staged + rejected + duplicate + after_as_of."""

    rows_read: int
    rows_staged: int
    rows_rejected: int
    rows_duplicate: int
    rows_after_as_of: int
    as_of: dt.date

    @classmethod
    def from_split(
        cls, read: int, staged: int, rejected: int, after: int, as_of: dt.date
    ) -> StagingCounts:
        """The counts of a staging; the duplicates are what the rest leaves of read."""
        duplicate = read - rejected - after - staged
        return cls(read, staged, rejected, duplicate, after, as_of)


def stage_events(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int) -> StagingCounts:
    """Stage this run's events; the caller decides when the transaction commits.

    Every source row is parsed once into the temp table parsed_events; the
    rejected ones are copied to rejected_events. `stg_events` is then a temp
    view over the parsed rows (usable, up to as_of, first copies only), shaped
    like the warehouse table of that name, which the features read: copying
    tens of millions of rows, or writing them into the file, costs more than
    the features' passes over the view. With [run] keep_staged_events they are
    also written into the warehouse. `drop_staged_events` frees them.
    """
    check_event_time_format(con, pipeline)
    source = open_source(con, pipeline.events, "src_events_raw")
    con.execute(_mapping_view_sql(pipeline, source.column_types))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE event_type_map (source_value VARCHAR, event_type VARCHAR)"
    )
    con.executemany(
        "INSERT INTO event_type_map VALUES (?, ?)", list(pipeline.events.event_type_map)
    )
    run_sql(con, "staging/macros.sql", {})
    params = staging_params(pipeline, run_id)
    drop_staged_events(con)
    run_sql(
        con,
        "staging/parsed_events.sql",
        params,
        prefix="CREATE OR REPLACE TEMP TABLE parsed_events AS",
    )
    params["as_of"] = choose_as_of(
        pipeline, *run_sql(con, "staging/event_date_range.sql", {}).fetchall()[0]
    )
    insert_rejected(con, "rejected_events", params)
    malformed = 0
    if source.format == "csv":
        malformed = insert_rejected(con, "rejected_csv_lines", params)
        con.execute(f"DROP TABLE IF EXISTS {CSV_REJECTS[0]}; DROP TABLE IF EXISTS {CSV_REJECTS[1]}")
    con.execute(
        "CREATE TEMP TABLE staging_settings AS "
        "SELECT $run_id::BIGINT AS run_id, $as_of::DATE AS as_of",
        {"run_id": run_id, "as_of": params["as_of"]},
    )
    for name, kind in STAGING_MODELS:
        run_sql(con, f"staging/{name}.sql", {}, prefix=f"CREATE TEMP {kind} {name} AS")
    conflicting = insert_rejected(con, "rejected_conflicting_copies", params)
    read, rejected, after = run_sql(con, "staging/staging_counts.sql", params).fetchall()[0]
    rejected += conflicting
    staged = con.execute("SELECT count(*) FROM stg_events").fetchall()[0][0]
    if pipeline.run.keep_staged_events:
        con.execute(
            f"INSERT INTO {stored_table(con, 'stg_events')} BY NAME FROM temp.main.stg_events"
        )
    return StagingCounts.from_split(
        read + malformed, staged, rejected + malformed, after, params["as_of"]
    )


def insert_rejected(con: duckdb.DuckDBPyConnection, model: str, params: dict) -> int:
    """Append the rows of the staging model `model` to rejected_events; returns how many."""
    prefix = "INSERT INTO rejected_events BY NAME"
    return run_sql(con, f"staging/{model}.sql", params, prefix=prefix).fetchall()[0][0]


def staging_params(pipeline: Pipeline, run_id: int) -> dict:
    """The parameters of the staging models (parsed_events.sql and the ones after it)."""
    return {
        "run_id": run_id,
        "use_event_time_format": pipeline.events.event_time_format is not None,
        "event_time_format": pipeline.events.event_time_format or "%Y-%m-%d %H:%M:%S",
        "event_time_format_is_date": _is_date_format(pipeline.events.event_time_format),
        "min_event_time": pipeline.min_event_time,
        "max_event_time": MAX_EVENT_TIME,
        "amount_mapped": "amount" in pipeline.events.columns,
        "decimal_comma": pipeline.events.decimal_separator == ",",
        "timezone": pipeline.run.timezone,
    }


def choose_as_of(pipeline: Pipeline, first: dt.date | None, last: dt.date | None) -> dt.date:
    """The run's as_of from the usable events' first and last days
    (event_date_range.sql): the pipeline's, or with as_of = "latest" the last
    day, which must exist. An as_of before all the data, or long after it, is
    almost always a mistake: it gets a warning."""
    if pipeline.run.as_of is not None:
        as_of = pipeline.run.as_of
    elif last is None:
        raise SourceError(
            f"[source.events] path {pipeline.events.path}: no usable event to take "
            'as_of = "latest" from'
        )
    else:
        as_of = last
    if first is None:
        return as_of
    if as_of < first:
        log.warning(
            "as_of %s is before the first event (%s): the run has no users; choose a later --as-of",
            as_of,
            first,
        )
    elif (as_of - last).days > LATE_AS_OF_DAYS:
        log.warning(
            "as_of %s is %d days after the last event (%s): every user will look long quiet; "
            "is the source up to date?",
            as_of,
            (as_of - last).days,
            last,
        )
    return as_of


def drop_staged_events(con: duckdb.DuckDBPyConnection) -> None:
    """Free the run's parsed rows and the views over them (a no-op when there are none)."""
    for name, kind in reversed(STAGING_MODELS):
        con.execute(f"DROP {kind} IF EXISTS temp.main.{name}")
    con.execute("DROP TABLE IF EXISTS temp.main.staging_settings")
    con.execute("DROP TABLE IF EXISTS temp.main.parsed_events")


def check_reject_ratio(
    con: duckdb.DuckDBPyConnection, counts: StagingCounts, pipeline: Pipeline, run_id: int
) -> None:
    """Fail the run when more rows are unusable than the pipeline allows.

    The error says why (the top reasons, an example value, the setting that
    would fix it when the values make it recognisable) and how to see all.
    """
    if counts.rows_read == 0:
        raise SourceError(f"[source.events] path {pipeline.events.path}: the source has no rows")
    ratio = counts.rows_rejected / counts.rows_read
    if ratio > pipeline.max_reject_ratio:
        summary = reject_summary(con, run_id, pipeline.path, pipeline.run.warehouse)
        raise DataQualityError(
            f"{counts.rows_rejected:,} of {counts.rows_read:,} rows ({ratio:.1%}) were rejected, "
            f"more than [validation] max_reject_ratio = {pipeline.max_reject_ratio:g}; "
            f"the top reasons:\n{summary}"
        )


def check_event_time_format(con: duckdb.DuckDBPyConnection, pipeline: Pipeline) -> None:
    """A format DuckDB cannot use would fail the read of every row: say so up front."""
    time_format = pipeline.events.event_time_format
    if time_format is None:
        return
    try:
        con.execute("SELECT try_strptime('', $format)", {"format": time_format})
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0].split("Error: ", 1)[-1]
        raise ConfigError(
            f"{pipeline.path}: {pipeline.events.section} event_time_format = "
            f'"{time_format}": expected a strptime format such as "%d/%m/%Y %H:%M" ({reason})'
        ) from None


def _is_date_format(time_format: str | None) -> bool:
    """Whether a strptime format reads calendar days only (no hour, no offset)."""
    if time_format is None:
        return False
    return TIME_OF_DAY_DIRECTIVES.search(time_format.replace("%%", "")) is None


def _mapping_view_sql(pipeline: Pipeline, column_types: dict[str, str]) -> str:
    """`src_events`: the source under contract names, as text, plus typed shortcuts.

    Unmapped optional columns become constants: product "default" and the
    pipeline's default_event_type. Parquet timestamps and numbers skip text
    parsing through `event_time_typed` / `amount_typed`; a DATE column is a
    calendar day, so it starts at midnight in the pipeline's time zone (like a
    plain date in text), not at midnight UTC.
    """
    columns = pipeline.events.columns
    typed_time = _typed_time_sql(pipeline, column_types.get(columns["event_time"], ""))
    typed_amount = "CAST(NULL AS DOUBLE)"
    if column_types.get(columns.get("amount", ""), "").startswith(NUMERIC_PREFIXES):
        typed_amount = f"CAST({quote_identifier(columns['amount'])} AS DOUBLE)"
    # A typed column needs no text copy (casting millions of values to text
    # costs seconds); rejected_events shows its typed value as text instead.
    typed = {"event_time"} if typed_time is not None else set()
    if typed_amount.startswith('CAST("'):
        typed.add("amount")
    default_type = _literal(pipeline.events.default_event_type)
    select = contract_columns(pipeline, typed, quote_identifier, "VARCHAR", default_type)
    select += [
        f"{typed_time or 'CAST(NULL AS TIMESTAMP)'} AS event_time_typed",
        f"{typed_amount} AS amount_typed",
        "source_file",
    ]
    return (
        "CREATE OR REPLACE TEMP VIEW src_events AS SELECT "
        + ", ".join(select)
        + " FROM src_events_raw"
    )


def contract_columns(
    pipeline: Pipeline, typed: set[str], quote, text_type: str, default_event_type: str
) -> list[str]:
    """The select list of the source's text columns under contract names, for either
    engine (its identifier `quote`, its `text_type`, its SQL for the default event
    type): mapped columns as text, except the `typed` ones, which come through
    event_time_typed / amount_typed; an unmapped product_id is "default", an
    unmapped event_type the pipeline's default_event_type; the rest NULL."""
    columns = pipeline.events.columns
    select = []
    for contract in EVENT_COLUMNS:
        if contract in columns and contract not in typed:
            select.append(f"CAST({quote(columns[contract])} AS {text_type}) AS {contract}")
        elif contract == "product_id" and contract not in columns:
            select.append("'default' AS product_id")
        elif contract == "event_type" and contract not in columns:
            select.append(f"{default_event_type} AS event_type")
        else:
            select.append(f"CAST(NULL AS {text_type}) AS {contract}")
    return select


def _typed_time_sql(pipeline: Pipeline, time_type: str) -> str | None:
    """SQL for a source time column DuckDB already typed, or None for text."""
    time_column = quote_identifier(pipeline.events.columns["event_time"])
    if time_type == "DATE":
        zone = _literal(pipeline.run.timezone)
        return f"timezone('UTC', timezone({zone}, CAST({time_column} AS TIMESTAMP)))"
    if time_type in TEMPORAL_TYPES:
        return f"CAST({time_column} AS TIMESTAMP)"
    if time_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {time_column})"
    return None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
