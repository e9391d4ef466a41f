"""Open a source (CSV and text, Parquet, JSON lines, PostgreSQL) as a DuckDB relation.

A source path is one file, a glob, or a (hive-partitioned) folder, on local
disk or in object storage (`s3://`, `gs://`, `az://`: listed and read through
fsspec, see object_store.py); or a PostgreSQL table or query (postgres.py).
Everything is checked up front so that the user gets one sentence naming the
file and what is wrong: no file, an empty file, a mapped column that does not
exist.

CSV and JSON are read with every column as text so that a bad value lands in
`rejected_events` with its reason instead of failing the whole read; CSV lines
that cannot be split into columns are captured too (DuckDB's reject tables).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention.config.pipeline_file import SourceSettings
from retention.config.source_keys import WHITESPACE, is_url
from retention.errors import SourceError
from retention.sources import object_store
from retention.sources.postgres import open_postgres
from retention.sources.whitespace import read_whitespace
from retention.warehouse.sql_files import literal_path, quote_literal

EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
COMPRESSIONS = (".gz", ".zst")
CSV_REJECTS = ("src_csv_reject_errors", "src_csv_reject_scans")


@dataclass(frozen=True)
class OpenedSource:
    """A readable source: its files, format and column types by name."""

    files: list[str]
    format: str
    hive: bool
    relation_sql: str  # a SELECT over the source, to be wrapped in a view
    column_types: dict[str, str]


def resolve_files(source: SourceSettings) -> tuple[list[str], bool]:
    """The files a source path names, and whether it is a hive-partitioned folder.

    A PostgreSQL source has one pseudo file: its label (the table's name).
    """
    path = source.path
    if source.format == "postgres":
        return [path], False
    if is_url(path):
        return object_store.list_files(source, lambda f: _format_of(f) is not None)
    if os.path.isfile(path):  # before the glob test: "events[1].csv" is a file name too
        return [path], False
    if os.path.isdir(path):
        files = sorted(
            p
            for p in glob.glob(os.path.join(path, "**", "*"), recursive=True)
            if os.path.isfile(p) and _format_of(p) is not None
        )
        hive = any("=" in part for f in files for part in Path(f).relative_to(path).parts[:-1])
        if not files:
            raise SourceError(f"{source.section} path {path}: the folder holds no event files")
        return files, hive
    if glob.has_magic(path):
        files = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        if not files:
            raise SourceError(f"{source.section} path {path}: no file matches this pattern")
        return files, False
    raise SourceError(f"{source.section} path {path}: file does not exist")


def _format_of(path: str) -> str | None:
    name = path.lower()
    for suffix in COMPRESSIONS:
        name = name.removesuffix(suffix)
    return EXTENSIONS.get(os.path.splitext(name)[1])


def detect_format(source: SourceSettings, files: list[str]) -> str:
    if source.format != "auto":
        return source.format
    formats = {_format_of(f) for f in files}
    if len(formats) == 1 and None not in formats:
        return formats.pop()
    raise SourceError(
        f"{source.section} path {source.path}: cannot tell the format from the file names; "
        'set format = "csv", "parquet" or "json"'
    )


def open_source(con: duckdb.DuckDBPyConnection, source: SourceSettings, name: str) -> OpenedSource:
    """Check the source and create the temp view `name` over it (source column names)."""
    if source.format == "postgres":
        open_postgres(con, source, name)
        return _opened(con, source, [source.path], "postgres", False, f"SELECT * FROM {name}", name)
    files, hive = resolve_files(source)
    if is_url(source.path):
        object_store.register(con, source)
        empty = object_store.empty_files(source, files)
    else:
        empty = [f for f in files if os.path.getsize(f) == 0]
    if empty:
        raise SourceError(f"{source.section} path {empty[0]}: the file is empty")
    fmt = detect_format(source, files)
    _check_text_settings(source, fmt)
    if fmt == "csv" and source.delimiter == WHITESPACE:
        read_whitespace(con, source, files, name, CSV_REJECTS)
        return _opened(con, source, files, fmt, hive, f"SELECT * FROM {name}", name)
    try:
        reader = _reader_sql(con, fmt, hive, files, source)
        if fmt == "parquet":
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {reader}")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {reader}")
        described = con.execute(f"DESCRIBE {name}").fetchall()
    except duckdb.Error as exc:
        raise SourceError(
            f"{source.section} path {source.path}: cannot be read as {fmt}: {_read_error(exc)}"
        ) from None
    column_types = {row[0]: row[1] for row in described if row[0] != "source_file"}
    check_mapped_columns(source, column_types, files)
    return OpenedSource(files, fmt, hive, reader, column_types)


def _opened(con, source: SourceSettings, files, fmt, hive, reader, name) -> OpenedSource:
    described = con.execute(f"DESCRIBE {name}").fetchall()
    column_types = {row[0]: row[1] for row in described if row[0] != "source_file"}
    check_mapped_columns(source, column_types, files)
    return OpenedSource(files, fmt, hive, reader, column_types)


def _check_text_settings(source: SourceSettings, fmt: str) -> None:
    """Text settings on a source whose files turned out to be Parquet or JSON are a mistake."""
    given = source.delimiter or source.quote is not None or source.column_names
    given = given or source.encoding != "utf-8" or not source.header
    given = given or source.decimal_separator != "."
    if fmt != "csv" and given:
        raise SourceError(
            f"{source.section} path {source.path}: the files are {fmt}, which has no delimiter, "
            "quote, encoding, header, column_names or decimal_separator; remove those keys"
        )


def _reader_sql(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    hive: bool,
    files: list[str],
    source: SourceSettings,
) -> str:
    """A SELECT over the files; text everywhere except Parquet's own types.

    The file list is written into the SQL as quoted literals because a view
    over the source cannot take bound parameters, each as that one file
    (`literal_path`: the names are resolved already, and DuckDB would glob
    `events[1].csv` again).
    """
    listed = "[" + ", ".join(quote_literal(literal_path(f)) for f in files) + "]"
    hive_opt = "true" if hive else "false"
    common = f"filename = 'source_file', hive_partitioning = {hive_opt}"
    if fmt == "parquet":
        return f"SELECT * FROM read_parquet({listed}, {common}, union_by_name = true)"
    if fmt == "csv":
        # DuckDB keeps malformed lines only without union_by_name: CSV files of
        # one source must share their columns.
        errors, scans = CSV_REJECTS
        return (
            f"SELECT * FROM read_csv({listed}, {common}, all_varchar = true, "
            f"{_dialect_sql(source)}, "
            f"store_rejects = true, rejects_table = '{errors}', rejects_scan = '{scans}')"
        )
    common += ", union_by_name = true"
    detect = f"SELECT * FROM read_json({listed}, {common}, format = 'auto', records = true)"
    names = [row[0] for row in con.execute(f"DESCRIBE {detect}").fetchall()]
    as_text = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names if n != "source_file")
    return (
        f"SELECT * FROM read_json({listed}, {common}, format = 'auto', records = true, "
        f"columns = {{{as_text}}})"
    )


def _dialect_sql(source: SourceSettings) -> str:
    """read_csv options for the source's text settings; unset ones are left to DuckDB's sniffer.

    A quote character set by the pipeline also escapes itself by doubling, as in CSV.
    """
    options = [f"header = {'true' if source.header else 'false'}"]
    if source.delimiter:
        options.append(f"delim = {quote_literal(source.delimiter)}")
    if source.quote is not None:
        options.append(f"quote = {quote_literal(source.quote)}")
        options.append(f"escape = {quote_literal(source.quote)}")
    if source.encoding != "utf-8":
        options.append(f"encoding = {quote_literal(source.encoding)}")
    if source.column_names:
        options.append("names = [" + ", ".join(quote_literal(n) for n in source.column_names) + "]")
    return ", ".join(options)


def check_mapped_columns(
    source: SourceSettings, columns, files: list[str], only: tuple[str, ...] | None = None
) -> None:
    """Raise SourceError naming the first mapped column (of `only`, if given) missing from
    the source's `columns`."""
    for contract, column in source.columns.items():
        if (only is None or contract in only) and column not in columns:
            listed = ", ".join(columns)
            where = files[0] if len(files) == 1 else source.path
            raise SourceError(
                f'{source.section.rstrip("]")}.columns] {contract} = "{column}": '
                f'no column "{column}" in {where}; columns are: {listed}'
            )


def _read_error(exc: Exception) -> str:
    """DuckDB's first line, plus the reason line of a CSV error ("CSV Error on Line: 1"
    alone says nothing; the offending line itself may be megabytes long)."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    if "CSV Error" in lines[0]:
        reasons = [line for line in lines[1:3] if line and not line.startswith("Original Line")]
        return ": ".join(lines[:1] + reasons[:1])
    return lines[0]
