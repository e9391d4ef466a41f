"""Whitespace-separated text files (`delimiter = "whitespace"`), read by DuckDB.

Files such as CDNOW_master.txt separate their columns by runs of spaces
(aligned for the eye, not by one delimiter), which no CSV dialect describes:
a space delimiter would see empty fields between the runs. So each line is
read whole (the unit separator U+001F, which text files do not hold, is the
nominal delimiter) and split on runs of whitespace in SQL, out of core like
any CSV read. Blank lines are skipped.

The columns are the first line's names (`header = true`), `column_names`, or
column0, column1, ... by position. A line with another number of fields is
not guessed at: it goes to DuckDB's CSV reject tables like a malformed CSV
line, so staging keeps it in `rejected_events` with its text.
"""

from __future__ import annotations

import duckdb

from retention.config.pipeline_file import SourceSettings
from retention.errors import SourceError
from retention.warehouse.sql_files import quote_identifier, quote_literal

LINE_DELIMITER = "\x1f"


def read_whitespace(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    files: list[str],
    name: str,
    rejects: tuple[str, str],
) -> None:
    """Create the temp table `name`: one text column per field, plus source_file."""
    lines = f"{name}_lines"
    _read_lines(con, source, files, lines, rejects)
    names = _column_names(con, source, lines)
    width = len(names)
    selected = ", ".join(
        f"parts[{i + 1}] AS {quote_identifier(column)}" for i, column in enumerate(names)
    )
    body = "NOT (is_first AND $header)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {selected}, source_file FROM {lines} "
        f"WHERE {body} AND len(parts) = $width ORDER BY file_index, line",
        {"header": source.header, "width": width},
    )
    errors, scans = rejects
    scan = _next_scan_id(con, scans)
    con.execute(
        f"INSERT INTO {scans} (scan_id, file_id, file_path) "
        f"SELECT DISTINCT $scan, file_index, source_file FROM {lines} "
        f"WHERE {body} AND len(parts) <> $width",
        {"scan": scan, "header": source.header, "width": width},
    )
    con.execute(
        f"INSERT INTO {errors} (scan_id, file_id, line, column_idx, csv_line, error_type, "
        "error_message) "
        "SELECT $scan, file_index, line, 0, text, "
        "CASE WHEN len(parts) < $width THEN 'MISSING COLUMNS' ELSE 'TOO MANY COLUMNS' END, "
        f"len(parts) || ' fields where the file has ' || $width FROM {lines} "
        f"WHERE {body} AND len(parts) <> $width",
        {"scan": scan, "header": source.header, "width": width},
    )
    con.execute(f"DROP TABLE {lines}")


def _read_lines(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    files: list[str],
    lines: str,
    rejects: tuple[str, str],
) -> None:
    """`lines`: file_index, line (number in its file), text, parts, is_first (the file's
    first non-blank line), source_file; blank lines left out.

    Line numbers come from the read order, so insertion order is kept for this read.
    """
    listed = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    errors, scans = rejects
    preserved = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {lines}_raw AS SELECT text, source_file "
            f"FROM read_csv({listed}, columns = {{'text': 'VARCHAR'}}, "
            f"delim = {quote_literal(LINE_DELIMITER)}, quote = '', escape = '', header = false, "
            f"auto_detect = false, filename = 'source_file', "
            f"encoding = {quote_literal(source.encoding)}, store_rejects = true, "
            f"rejects_table = '{errors}', rejects_scan = '{scans}')"
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise SourceError(f"{source.section} path {source.path}: cannot be read: {first}") from None
    finally:
        if not preserved:
            con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {lines} AS "
        "WITH numbered AS ("
        "  SELECT CAST(list_position($files, source_file) - 1 AS INTEGER) AS file_index, "
        "  row_number() OVER (PARTITION BY source_file ORDER BY rowid) AS line, "
        "  text, source_file, "
        "  regexp_split_to_array(regexp_replace(text, '^\\s+|\\s+$', '', 'g'), '\\s+') AS parts "
        f"  FROM {lines}_raw) "
        "SELECT *, row_number() OVER (PARTITION BY file_index ORDER BY line) = 1 AS is_first "
        "FROM numbered WHERE regexp_matches(text, '\\S')",
        {"files": files},
    )
    con.execute(f"DROP TABLE {lines}_raw")


def _column_names(con: duckdb.DuckDBPyConnection, source: SourceSettings, lines: str) -> list:
    """column_names, else the first file's header names, else column0... by its first line."""
    first = con.execute(
        f"SELECT parts FROM {lines} WHERE is_first ORDER BY file_index LIMIT 1"
    ).fetchall()
    if source.column_names:
        return list(source.column_names)
    if not first:
        raise SourceError(f"{source.section} path {source.path}: the file has no lines")
    if source.header:
        return list(first[0][0])
    return [f"column{i}" for i in range(len(first[0][0]))]


def _next_scan_id(con: duckdb.DuckDBPyConnection, scans: str) -> int:
    return con.execute(f"SELECT coalesce(max(scan_id), 0) + 1 FROM {scans}").fetchall()[0][0]
