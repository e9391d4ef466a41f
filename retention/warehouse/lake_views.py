"""On the Spark engine, the per-user tables are views over the lake's Parquet files.

Past one machine the per-user tables are as large as the user base. Copied
into the warehouse file they would take the disk twice, and every run's
copy-on-write publish (warehouse/publish.py) would copy the whole base. So a
warehouse the Spark engine writes keeps the small tables (runs, model_params,
metrics, contacts, ...) and, for each of LAKE_TABLES, a view that reads the
Parquet files the runs wrote to the lake; `lake_files` lists them.

A view is rewritten whenever its list changes, inside the run's private copy
of the warehouse, so a published file's views read exactly the files of the
runs it publishes: a killed run's files were never listed in a published
file, a failed run's are unlisted by fail_run, and the files of runs that
`[run] keep_runs` trims are retired. A retired file stays on disk until the
publish after the one that retired it (engines/spark/lake.py), so a reader
that opened the previous file still finds every file its views name.

Each view has the contract's columns, in the contract's order and types
(Spark writes the day counts as BIGINT where the contract says INTEGER),
then any column a later run added (a new forecast horizon), NULL in the runs
that lack it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from retention.errors import WarehouseError
from retention.warehouse.schema import apply_comments, uses_lake
from retention.warehouse.sql_files import (
    column_types,
    literal_path,
    quote_identifier,
    quote_literal,
    stored_table,
)

LAKE_TABLES = (
    "user_features",
    "user_scores",
    "user_survival",
    "user_tiers",
    "playbook_assignments",
)
ENGINE_SETTING = '[run] engine = "spark"'


def check_layout(con: duckdb.DuckDBPyConnection, engine: str, warehouse: Path) -> None:
    """Refuse a warehouse the other engine laid out; turn a new one into a Spark one.

    A warehouse without per-user rows is empty enough to take either layout;
    one with them belongs to the engine that wrote them, because the two keep
    those rows in different places.
    """
    lake = uses_lake(con)
    if engine == "duckdb" and lake:
        raise WarehouseError(
            f"warehouse {warehouse} keeps its per-user tables in a Spark lake; run it with "
            f"{ENGINE_SETTING}, or give the duckdb engine a warehouse file of its own"
        )
    if engine != "spark" or lake:
        return
    counts = " UNION ALL ".join(f"SELECT run_id FROM {table}" for table in LAKE_TABLES)
    runs = con.execute(f"SELECT count(DISTINCT run_id) FROM ({counts})").fetchall()[0][0]
    if runs:
        raise WarehouseError(
            f"warehouse {warehouse} holds per-user rows of {runs} runs of the duckdb engine; "
            f"give {ENGINE_SETTING} a warehouse file of its own (there the per-user tables "
            "are views over the lake)"
        )
    for table in LAKE_TABLES:
        columns = column_types(con, table)
        con.execute(f"DROP TABLE {table}")
        _create_view(con, table, columns, [], set())


def add_files(con: duckdb.DuckDBPyConnection, run_id: int, table: str, path: Path) -> None:
    """List the Parquet at `path` (one file, or a folder of them) as this run's rows of `table`."""
    path = Path(path).resolve()
    files = [path] if path.is_file() else sorted(path.glob("*.parquet"))
    if not files:
        raise WarehouseError(f"lake folder {path} holds no Parquet file for {table}")
    con.executemany(
        "INSERT INTO lake_files (run_id, table_name, path) VALUES (?, ?, ?)",
        [[run_id, table, str(file)] for file in files],
    )
    point_view(con, table)


def run_files(con: duckdb.DuckDBPyConnection, run_id: int, table: str) -> list[str]:
    """The Parquet files holding this run's rows of `table`."""
    return [
        row[0]
        for row in con.execute(
            "SELECT path FROM lake_files WHERE run_id = $run_id AND table_name = $table "
            "ORDER BY path",
            {"run_id": run_id, "table": table},
        ).fetchall()
    ]


def drop_run(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Unlist a failed run's files (its folder goes at the next publish)."""
    tables = _tables_of(con, "run_id = $run_id", {"run_id": run_id})
    con.execute("DELETE FROM lake_files WHERE run_id = $run_id", {"run_id": run_id})
    for table in tables:
        point_view(con, table)


def retire(
    con: duckdb.DuckDBPyConnection, table: str, kept: str, params: dict, by_run: int
) -> None:
    """Retire the files of `table`'s runs that are not in the query `kept` (publishing's trim)."""
    where = f"table_name = $table AND retired_by IS NULL AND run_id NOT IN ({kept})"
    params = {**params, "table": table}
    if not _tables_of(con, where, params):
        return
    con.execute(
        f"UPDATE lake_files SET retired_by = $by_run WHERE {where}", {**params, "by_run": by_run}
    )
    point_view(con, table)


def point_view(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Rewrite the view `table` over its listed files (columns only ever grow)."""
    files = [
        row[0]
        for row in con.execute(
            "SELECT path FROM lake_files WHERE table_name = $table AND retired_by IS NULL "
            "ORDER BY run_id, path",
            {"table": table},
        ).fetchall()
    ]
    columns = column_types(con, stored_table(con, table))
    found: dict[str, str] = {}
    if files:
        found = column_types(con, f"(SELECT * FROM {_read(files)})")
        columns |= {name: kind for name, kind in found.items() if name not in columns}
    _create_view(con, table, columns, files, set(found))


def lake_paths(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every file the views may read: what a read-only reader is allowed to open."""
    if not _has_lake_files(con):
        return []
    return [row[0] for row in con.execute("SELECT path FROM lake_files").fetchall()]


def _create_view(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    files: list[str],
    found: set[str],
) -> None:
    select = ", ".join(
        f"CAST({quote_identifier(name) if name in found else 'NULL'} AS {kind}) "
        f"AS {quote_identifier(name)}"
        for name, kind in columns.items()
    )
    source = _read(files) if files else "(SELECT 1) WHERE false"
    con.execute(
        f"CREATE OR REPLACE VIEW {stored_table(con, table)} AS SELECT {select} FROM {source}"
    )
    apply_comments(con, names=[table])


def _read(files: list[str]) -> str:
    listed = ", ".join(quote_literal(literal_path(file)) for file in files)
    return f"read_parquet([{listed}], union_by_name = true)"


def _tables_of(con: duckdb.DuckDBPyConnection, where: str, params: dict) -> list[str]:
    query = f"SELECT DISTINCT table_name FROM lake_files WHERE {where} ORDER BY 1"
    return [row[0] for row in con.execute(query, params).fetchall()]


def _has_lake_files(con: duckdb.DuckDBPyConnection) -> bool:
    query = (
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'lake_files'"
    )
    return con.execute(query).fetchall()[0][0] > 0
