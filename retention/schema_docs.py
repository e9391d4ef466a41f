"""The warehouse explains itself: comments stored in DuckDB and docs/warehouse.md.

`sql/warehouse/comments.toml` says what every table, view and column holds;
`apply_comments` stores it with COMMENT ON after the schema is created, so
`DESCRIBE` and `duckdb_columns()` show it in any tool; `render_markdown`
writes the reference page from what DuckDB has stored (a test fails when the
committed page drifts from it).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

import duckdb

from retention.sources import quote_identifier, quote_literal


@cache
def comments() -> dict:
    text = resources.files("retention.sql").joinpath("warehouse/comments.toml").read_text("utf-8")
    return tomllib.loads(text)


def apply_comments(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON every table, view and column that has a description."""
    shared, tables = comments()["columns"], comments()["tables"]
    objects = con.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() "
        "AND NOT temporary UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal AND NOT temporary"
    ).fetchall()
    for name, kind in objects:
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


def render_markdown(con: duckdb.DuckDBPyConnection) -> str:
    """docs/warehouse.md from the comments DuckDB has stored."""
    lines = [
        "# The warehouse",
        "",
        "Generated from the comments stored in the warehouse (`python -m retention.schema_docs`);",
        "do not edit by hand: change `sql/warehouse/comments.toml`.",
        "",
    ]
    objects = con.execute(
        "SELECT table_name, 'table', comment FROM duckdb_tables() WHERE NOT temporary "
        "AND database_name = current_database() UNION ALL SELECT view_name, 'view', comment "
        "FROM duckdb_views() WHERE NOT internal AND NOT temporary "
        "AND database_name = current_database() ORDER BY 2, 1"
    ).fetchall()
    for name, kind, comment in objects:
        lines += [
            f"## `{name}` ({kind})",
            "",
            comment or "",
            "",
            "| column | type | meaning |",
            "|---|---|---|",
        ]
        for column, data_type, text in con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = $n "
            "AND database_name = current_database() ORDER BY column_index",
            {"n": name},
        ).fetchall():
            lines.append(f"| `{column}` | {data_type} | {(text or '').replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - a developer tool
    from pathlib import Path

    from retention.sqlfiles import run_sql
    from retention.warehouse import SCHEMA_FILES

    with duckdb.connect() as con:
        for schema in SCHEMA_FILES:
            run_sql(con, schema, {})
        apply_comments(con)
        Path("docs/warehouse.md").write_text(render_markdown(con), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
