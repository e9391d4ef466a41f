"""The warehouse's tables and views, and the comments that explain them.

`sql/warehouse/*.sql` create them; `sql/warehouse/comments.toml` says what
every table, view and column holds, and `apply_comments` stores it with
COMMENT ON after the schema is created, so `DESCRIBE` and `duckdb_columns()`
show it in any tool (and `retention.warehouse.docs` writes the reference page
from it).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

import duckdb

from retention.warehouse.sql_files import quote_identifier, quote_literal, run_sql

SCHEMA_FILES = (
    "warehouse/schema.sql",
    "warehouse/survival_schema.sql",
    "warehouse/contacts_schema.sql",
    "warehouse/metrics_schema.sql",
)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view the warehouse holds (if missing), with their comments."""
    for schema in SCHEMA_FILES:
        run_sql(con, schema, {})
    if not uses_lake(con):
        run_sql(con, "warehouse/per_user_columns.sql", {})
    apply_comments(con)


def uses_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this warehouse's per-user tables are views over a lake (a Spark warehouse)."""
    query = (
        "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND view_name = 'user_features'"
    )
    return con.execute(query).fetchall()[0][0] > 0


@cache
def comments() -> dict:
    text = resources.files("retention.sql").joinpath("warehouse/comments.toml").read_text("utf-8")
    return tomllib.loads(text)


def apply_comments(con: duckdb.DuckDBPyConnection, names: list[str] | None = None) -> None:
    """COMMENT ON every table, view and column that has a description (or those of `names`:
    a view that is replaced loses its comments)."""
    shared, tables = comments()["columns"], comments()["tables"]
    objects = con.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() "
        "AND NOT temporary UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal AND NOT temporary"
    ).fetchall()
    for name, kind in objects:
        if names is not None and name not in names:
            continue
        own = _own_comments(name, tables)
        if "_" in own:
            con.execute(f"COMMENT ON {kind} {quote_identifier(name)} IS {quote_literal(own['_'])}")
        for (column,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = $name "
            "AND database_name = current_database()",
            {"name": name},
        ).fetchall():
            text = own.get(column, shared.get(column))
            if text:
                target = f"{quote_identifier(name)}.{quote_identifier(column)}"
                con.execute(f"COMMENT ON COLUMN {target} IS {quote_literal(text)}")


def _own_comments(name: str, tables: dict) -> dict:
    """A view's comments, with column meanings from the table it shows.

    latest_<table> shows <table>; `_columns_from` names another table.
    """
    own = tables.get(name, {})
    base = own.get("_columns_from", name.removeprefix("latest_"))
    inherited = {k: v for k, v in tables.get(base, {}).items() if k != "_"} if base != name else {}
    return {**inherited, **own}
