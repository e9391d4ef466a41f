"""What every section of the report reads from: the warehouse, the run, one product.

Sections ask for rows by SQL file (`sql/report/<name>.sql`) or by a short
statement; both are bound with DuckDB parameters (`$run_id`, `$product`,
...), never pasted. A section whose table is absent (an older warehouse, a
stage not run) gets no rows and leaves itself out, rather than failing the
whole report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from retention.warehouse.sql_files import bind, read_sql


def fetch(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> list[dict]:
    """Query results as dicts; only the parameters the statement names are bound."""
    cursor = con.execute(sql, bind(sql, params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_names(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Tables and views: the metric tables may be either, and may not exist yet."""
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return frozenset(row[0] for row in rows)


@dataclass(frozen=True)
class Context:
    """One product's view of the reported run (and of the day before it)."""

    con: duckdb.DuckDBPyConnection
    tables: frozenset[str]
    run: dict  # the reported run's row of `runs`
    previous: dict | None  # the published run of the previous as_of day
    product: str
    anchor: str  # prefix of the element ids of this product's sections
    out: Path  # the report file: links into the exports folder are relative to it
    exports: Path | None = None  # the reported run's export folder, when found
    days: list[dict] = field(default_factory=list)  # published days up to the run, oldest first

    def params(self, **extra: object) -> dict:
        previous = self.previous["run_id"] if self.previous else None
        return {
            "run_id": self.run["run_id"], "product": self.product, "as_of": self.run["as_of"],
            "previous_run_id": previous, **extra,
        }  # fmt: skip

    def rows(self, table: str, sql: str, **extra: object) -> list[dict]:
        """Rows of `sql` (which reads `table`) for this product; none if the table is absent."""
        if table not in self.tables:
            return []
        return fetch(self.con, sql, **self.params(**extra))

    def query(self, name: str, needs: tuple[str, ...], **extra: object) -> list[dict]:
        """Rows of `sql/report/<name>.sql`; none unless every table it `needs` exists."""
        if not set(needs) <= self.tables:
            return []
        return fetch(self.con, read_sql(f"report/{name}.sql"), **self.params(**extra))
