"""What a reader of a pipeline's outputs sees: every table and view of the
published warehouse, and every file of the exports folder."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import duckdb

RELATIONS = """
SELECT table_name AS name, 'table' AS kind FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary
UNION ALL
SELECT view_name, 'view' FROM duckdb_views()
WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
    AND NOT temporary
ORDER BY name
"""


def relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every table and view of the warehouse: name -> "table" or "view"."""
    return dict(con.execute(RELATIONS).fetchall())


def columns(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    """(column, type) of a table or view, in order."""
    return [(row[0], row[1]) for row in con.execute(f'DESCRIBE "{name}"').fetchall()]


def relation_hashes(warehouse: Path) -> dict[str, str]:
    """sha256 of every table's and view's rows (sorted), by name."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: hashlib.sha256(
                repr(con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()).encode()
            ).hexdigest()
            for name in relations(con)
        }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def visible_files(root: Path) -> dict[str, bytes]:
    """Every file under `root` a reader would look at (no hidden entries), with its bytes."""
    found = {}
    for path in sorted(Path(root).rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found[str(relative)] = path.read_bytes()
    return found


def hidden_entries(root: Path) -> list[Path]:
    """Entries of `root` that start with a dot (work in progress, never read)."""
    return sorted(p for p in Path(root).iterdir() if p.name.startswith("."))


def is_owner_only(path: Path) -> bool:
    """A folder 0700 (nobody else can look inside) or a file 0600."""
    mode = stat.S_IMODE(Path(path).stat().st_mode)
    return mode == (0o700 if Path(path).is_dir() else 0o600)
