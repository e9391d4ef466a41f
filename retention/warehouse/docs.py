"""docs/warehouse.md, written from the comments the warehouse stores about itself.

A test fails when the committed page drifts from what `render_markdown` gives.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from retention.warehouse.schema import create_schema


def render_markdown(con: duckdb.DuckDBPyConnection) -> str:
    """docs/warehouse.md from the comments DuckDB has stored."""
    lines = [
        "# The warehouse",
        "",
        "Generated from the comments stored in the warehouse",
        "(`python -m retention.warehouse.docs`); do not edit by hand: change",
        "`sql/warehouse/comments.toml`.",
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
    with duckdb.connect() as con:
        create_schema(con)
        Path("docs/warehouse.md").write_text(render_markdown(con), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
