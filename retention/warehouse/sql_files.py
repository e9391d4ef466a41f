"""Load the SQL models shipped in `sql/` and run them with named parameters.

The `sql/` folder is installed as the `retention.sql` package, so the files are
found the same way from a source checkout and from an installed wheel.
Parameters are bound by DuckDB (`$as_of`), never pasted into the text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

from retention.warehouse.steps import step

PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
DUCKDB_GLOB = re.compile(r"([\[*?])")  # what DuckDB's file readers take for a pattern


@cache
def read_sql(name: str) -> str:
    """The text of `sql/<name>`, e.g. read_sql("features/user_btyd.sql")."""
    return resources.files("retention.sql").joinpath(name).read_text(encoding="utf-8")


def bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The subset of `params` the statement names (DuckDB refuses extra ones)."""
    wanted = set(PARAMETER.findall(sql))
    missing = wanted - params.keys()
    if missing:
        raise KeyError(f"SQL parameters not supplied: {', '.join(sorted(missing))}")
    return {name: params[name] for name in wanted}


def run_sql(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any], prefix: str = ""
) -> duckdb.DuckDBPyConnection:
    """Execute `sql/<name>`, optionally behind a prefix such as "INSERT INTO t BY NAME".

    Timed as a step of the current stage (see retention.warehouse.steps)."""
    sql = read_sql(name)
    with step(name.removesuffix(".sql")):
        return con.execute(f"{prefix}\n{sql}" if prefix else sql, bind(sql, params))


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Column name -> DuckDB type of a table or view, in column order."""
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE {relation}").fetchall()}


def quote_identifier(name: str) -> str:
    """Quote a source column name for SQL (names come from the user's files)."""
    return '"' + name.replace('"', '""') + '"'


def stored_table(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The warehouse file's table or view `name`, even where a temp table of the run
    shadows it.

    A run stages its events into a temp table `stg_events` (fast, never
    written to disk); the file's own `stg_events` holds them only when the
    pipeline asks to keep them. On the Spark engine, the file's per-user
    views are shadowed while DuckDB writes a run's rows (warehouse/lake_views.py).
    """
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    return f"{quote_identifier(catalog)}.main.{quote_identifier(name)}"


def literal_path(path: str) -> str:
    """A file path DuckDB's readers take as that one file, not as a pattern.

    They glob every path they are given, so `events[1].parquet` would read
    `events1.parquet` (or fail when no file matches) without a word; each of
    [ * ? becomes a one-character class ([[] [*] [?]), which matches itself.
    The reader's filename column still shows the real name.
    """
    return DUCKDB_GLOB.sub(r"[\1]", path)


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def register_arrow(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Copy an Arrow table into the temp table `name`: joins then run inside DuckDB."""
    frame = f"{name}_frame"
    con.register(frame, table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {frame}")
    finally:
        con.unregister(frame)
