"""`retention sql`: read-only SQL over the published warehouse.

The file is opened read-only (so it works while a run writes its private
copy), with external access switched off and the configuration locked, so a
query can neither write, nor attach other databases, nor read local files it
was not pointed at. Only statements that read are accepted. On a Spark
warehouse the per-user views read the lake's Parquet: exactly the files
`lake_files` lists are allowed, and no other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from retention.errors import RetentionError
from retention.output_files import check_target, write_atomically, write_text_atomically
from retention.warehouse.lake_views import lake_paths
from retention.warehouse.publish import warehouse_files

READING = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
}
FORMATS = ("table", "csv", "json", "parquet")
LEADING_COMMENT = re.compile(r"^\s*(--[^\n]*(\n|$)|/\*.*?\*/)", re.S)
EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN(\s*\((?:[^()]|\([^()]*\))*\)|\s+ANALY[SZ]E\b)?", re.I)


def connect_read_only(database: Path) -> duckdb.DuckDBPyConnection:
    """The published file, read-only, unable to reach other files or databases."""
    if not Path(database).is_file():
        raise RetentionError(f"warehouse {database} does not exist")
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        raise RetentionError(f"warehouse {database} cannot be opened: {_first_line(exc)}") from None
    lake = lake_paths(con)
    if lake:  # a Spark warehouse's per-user views read these files, and only these
        con.execute("SET allowed_paths = $paths", {"paths": lake})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(database: Path, sql: str, limit: int | None = None) -> tuple[pa.Table, bool]:
    """The result as an Arrow table (its first `limit` rows when given) and whether
    the query returned more rows than that."""
    with connect_read_only(database) as con:
        check_read_only(con, sql)
        try:
            relation = con.sql(sql)
            if limit is None:
                return relation.to_arrow_table(), False
            table = relation.limit(limit + 1).to_arrow_table()
        except duckdb.Error as exc:
            raise RetentionError(f"the query failed: {_first_line(exc)}") from None
        return table.slice(0, limit), table.num_rows > limit


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one statement that reads.

    DuckDB's parser reports one type per statement; only SELECT (which
    includes WITH, FROM-first, VALUES, DESCRIBE, SHOW and SUMMARIZE) and
    EXPLAIN are let through, and an EXPLAIN only of a SELECT: EXPLAIN ANALYZE
    runs the statement it explains.
    """
    statements = _parse(con, sql)
    if len(statements) != 1:
        raise RetentionError(f"give one statement, not {len(statements)}")
    kind = _kind(statements[0])
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _explained(sql)
        try:
            inner_statements = _parse(con, inner) if inner else []
        except RetentionError:
            inner_statements = []
        inner_kinds = [_kind(statement) for statement in inner_statements]
        if inner_kinds != [duckdb.StatementType.SELECT]:
            raise RetentionError(
                "EXPLAIN is allowed only of a SELECT (EXPLAIN ANALYZE runs the statement it "
                "explains)"
            )
    elif kind not in READING:
        raise RetentionError(
            f"only statements that read are allowed (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN); "
            f"this one is {kind.name if kind else 'of a kind this DuckDB cannot name'}"
        )


def _kind(statement) -> duckdb.StatementType | None:
    """The statement's type; None for one the Python binding has no name for."""
    try:
        return statement.type
    except ValueError:
        return None


def _explained(sql: str) -> str | None:
    """The statement an EXPLAIN explains, after comments and EXPLAIN's own options."""
    text = sql
    while True:
        stripped = LEADING_COMMENT.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    match = EXPLAIN_PREFIX.match(text)
    return text[match.end() :] if match else None


def write_result(
    table: pa.Table, fmt: str, out: Path | None, database: Path, overwrite: bool = False
) -> str | None:
    """Write the result to `out` in `fmt`; returns text for stdout when out is None.

    `out` is written whole or not at all (a temp file renamed into place),
    0600 (results may hold contact data), never over the warehouse or its
    companions, a DuckDB file, a symlink, or an existing file unless
    `overwrite`.
    """
    if fmt == "parquet" and out is None:
        raise RetentionError("--format parquet needs --out FILE")
    if out is not None:
        check_target(out, "--out", warehouse_files(database), overwrite=overwrite)
    if fmt == "parquet":
        write_atomically(out, lambda handle: pq.write_table(table, handle))
        return None
    if fmt == "csv":
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(_nested_as_json(table), sink)
        text = sink.getvalue().to_pybytes().decode("utf-8")
    else:
        text = json.dumps(table.to_pylist(), default=str, ensure_ascii=False, indent=1) + "\n"
    if out is None:
        return text
    write_text_atomically(out, text)
    return None


def _nested_as_json(table: pa.Table) -> pa.Table:
    """Lists, maps and structs as JSON text: a CSV cell holds one value."""
    for index, field in enumerate(table.schema):
        if pa.types.is_nested(field.type):
            values = table.column(index).to_pylist()
            if pa.types.is_map(field.type):  # pyarrow gives a map as (key, value) pairs
                values = [None if value is None else dict(value) for value in values]
            cells = [
                None if value is None else json.dumps(value, default=str, ensure_ascii=False)
                for value in values
            ]
            table = table.set_column(index, field.name, pa.array(cells, pa.string()))
    return table


def _parse(con: duckdb.DuckDBPyConnection, sql: str):
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise RetentionError(f"the query does not parse: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
