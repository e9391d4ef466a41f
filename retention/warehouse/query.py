"""`retention sql`: read-only SQL over the published warehouse.

The file is opened read-only (so it works while a run writes its private
copy), with external access switched off and the configuration locked, so a
query can neither write, nor attach other databases, nor read local files it
was not pointed at. Only statements that read are accepted.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from retention.errors import RetentionError

READING = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
}
FORMATS = ("table", "csv", "json", "parquet")


def connect_read_only(database: Path) -> duckdb.DuckDBPyConnection:
    """The published file, read-only, unable to reach other files or databases."""
    if not Path(database).is_file():
        raise RetentionError(f"warehouse {database} does not exist")
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        raise RetentionError(f"warehouse {database} cannot be opened: {_first_line(exc)}") from None
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(database: Path, sql: str) -> tuple[pa.Table, str]:
    """The result as an Arrow table, and DuckDB's own text rendering of it."""
    with connect_read_only(database) as con:
        statements = _parse(con, sql)
        if len(statements) != 1:
            raise RetentionError(f"give one statement, not {len(statements)}")
        kind = statements[0].type
        if kind not in READING:
            raise RetentionError(
                f"only statements that read are allowed (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN); "
                f"this one is {kind.name}"
            )
        try:
            relation = con.sql(sql)
            return relation.to_arrow_table(), str(relation)
        except duckdb.Error as exc:
            raise RetentionError(f"the query failed: {_first_line(exc)}") from None


def write_result(table: pa.Table, fmt: str, out: Path | None) -> str | None:
    """Write the result to `out` in `fmt`; returns text for stdout when out is None."""
    if fmt == "parquet":
        if out is None:
            raise RetentionError("--format parquet needs --out FILE")
        pq.write_table(table, out)
        return None
    if fmt == "csv":
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(table, sink)
        text = sink.getvalue().to_pybytes().decode("utf-8")
    else:
        text = json.dumps(table.to_pylist(), default=str, ensure_ascii=False, indent=1) + "\n"
    if out is None:
        return text
    Path(out).write_text(text, encoding="utf-8")
    return None


def _parse(con: duckdb.DuckDBPyConnection, sql: str):
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise RetentionError(f"the query does not parse: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
