"""An export folder's manifest.json: what was written, for which tool, and its checks.

The manifest is the folder's table of contents: every file (with its
profile, tool, key column, rows, bytes and sha256), who was left out and
why. `verify_export` re-reads the folder against it before the folder is
renamed into place, so a half-written or tampered file never goes live.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.errors import RetentionError
from retention.warehouse.sql_files import literal_path, quote_literal


def build_manifest(
    con: duckdb.DuckDBPyConnection,
    pipeline: Pipeline,
    run_id: int,
    as_of: dt.date,
    folder: Path,
    files: list[dict],
    profiles: dict[str, dict],
    warehouse: str,
) -> dict:
    for entry in files:
        path = folder / entry["file"]
        entry["bytes"] = path.stat().st_size
        entry["sha256"] = file_sha256(path)
    rows = con.execute(
        "SELECT coalesce(suppressed_reason, 'sent'), count(*) FROM playbook_assignments "
        "WHERE run_id = $run_id GROUP BY ALL ORDER BY ALL",
        {"run_id": run_id},
    ).fetchall()
    return {
        "run_id": run_id,
        "as_of": str(as_of),
        "pipeline": str(pipeline.path),
        "warehouse": str(pipeline.run.warehouse),
        "warehouse_id": warehouse,
        "files": files,
        "profiles": profiles,
        "csv_formula_escaping": (
            "text cells starting with = + - @ tab or CR get a leading ' (E.164 phones and "
            "numbers exempt); a tool file refuses an address or key id that starts so; "
            ".xlsx cells are typed text and never run"
        ),
        "users_by_outcome": dict(rows),
    }


def count_generic_rows(con: duckdb.DuckDBPyConnection, folder: Path, entries: list[dict], fmt: str):
    """Count the rows of files DuckDB wrote, by reading them back."""
    for entry in entries:
        path = quote_literal(literal_path(str(folder / entry["file"])))
        reader = (
            f"read_csv({path}, all_varchar = true)" if fmt == "csv" else f"read_parquet({path})"
        )
        entry["rows"] = con.execute(f"SELECT count(*) FROM {reader}").fetchall()[0][0]
    return entries


def verify_export(folder: Path) -> None:
    """Re-read every file and compare it with the manifest (the list and each sha256)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {f["file"] for f in manifest["files"]} | {"manifest.json"}
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}
    if listed != present:
        raise RetentionError(
            f"export {folder}: files {sorted(present ^ listed)} do not match the manifest"
        )
    for entry in manifest["files"]:
        if file_sha256(folder / entry["file"]) != entry["sha256"]:
            raise RetentionError(
                f"export {folder / entry['file']}: checksum differs from the manifest"
            )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
