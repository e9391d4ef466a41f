"""playbook_assignments -> campaign files, a manifest, and the `sends` history.

The generic profile writes one file per playbook and channel (CSV with a
header and RFC 4180 quoting, or Parquet), split into parts past
`max_file_mb`; each campaign tool's profile writes its own subfolder
(`profiles.py`). The whole folder of a run is
built under a temporary name, checked against its manifest, and renamed into
place in one step, so nobody sees a half-written or inconsistent set.
Files and folders are readable by the owner only: they hold personal data.

The warehouse rename is the commit point of a run; its export folder is
renamed into place right after. A process killed in between leaves a checked
private folder that the published warehouse already records sends from: the
next export (of any run) renames it into place. Private folders of runs that
never got published are deleted. A folder this warehouse did not write is
never replaced.

Only users with no suppression reason are written: never an opted-out,
invalid, junk, capped or holdout user.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention.config.export_profiles import GENERIC, Profile
from retention.config.pipeline_file import Pipeline
from retention.config.playbooks import file_slug
from retention.errors import RetentionError
from retention.output_files import write_text_atomically
from retention.stages.exports.manifest import build_manifest, count_generic_rows, verify_export
from retention.stages.exports.profiles import write_profile
from retention.warehouse.ledger import is_latest
from retention.warehouse.sql_files import quote_identifier, quote_literal, run_sql

log = logging.getLogger(__name__)

CHANNEL_COLUMNS = {
    "email": "email",
    "sms": "phone_e164",
    "call": "phone_e164",
}
# Cells a spreadsheet would run as a formula (OWASP CSV injection).
FORMULA_START = r"^[=+\-@\t\r]"


# Private work folders: ".<folder>.<pid>.tmp" while built, ".<folder>.old" while replaced.
EXPORT_FOLDER = re.compile(r"run-(?P<run>[0-9]+)(?:-[A-Za-z0-9_.-]+)?")
TEMP_FILE = re.compile(r"\.LATEST\.(?P<pid>[0-9]+)\.[0-9a-f]+\.tmp")
WORK_FOLDER = re.compile(r"\.(?P<folder>run-[0-9]+(?:-[A-Za-z0-9_.-]+)?)\.(?P<pid>[0-9]+)\.tmp")
OLD_FOLDER = re.compile(r"\.(?P<folder>run-[0-9]+(?:-[A-Za-z0-9_.-]+)?)\.old")


@dataclass(frozen=True)
class PreparedExport:
    """A built, checked export folder waiting to be renamed into place."""

    staging_dir: Path
    final_dir: Path
    manifest: dict


def export_name(
    run_id: int,
    playbook: str | None = None,
    channel: str | None = None,
    profiles: tuple[str, ...] = (),
) -> str:
    """`run-<id>`, plus the filters of a partial re-export (never the full folder's name)."""
    parts = [f"run-{run_id}"] + [file_slug(p) for p in (playbook, channel, *profiles) if p]
    return "-".join(parts)


def prepare_export(
    con: duckdb.DuckDBPyConnection,
    pipeline: Pipeline,
    run_id: int,
    as_of: dt.date,
    playbook: str | None = None,
    channel: str | None = None,
    contacts_run_id: int | None = None,
    profiles: tuple[Profile, ...] | None = None,
) -> PreparedExport:
    """Write every file of this run's export into a private temporary folder.

    `contacts_run_id` names the contacts (and their suppressions) that decide
    who may still be written: the run's own by default; a re-export passes the
    sources as they are now, so that it can only drop people. `profiles`
    replaces the pipeline's [exports] profiles (the export then goes to a
    folder of its own, named after them).
    """
    root = pipeline.run.exports
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    recover_exports(con, root)
    chosen = pipeline.exports.profiles if profiles is None else profiles
    named = () if profiles is None else tuple(p.name for p in profiles)
    final_dir = root / export_name(run_id, playbook, channel, named)
    _check_written_here(con, final_dir)
    staging_dir = root / f".{final_dir.name}.{os.getpid()}.tmp"
    _remove(staging_dir)
    staging_dir.mkdir(mode=0o700)  # fails, never follows, if something is planted there
    contacts = {"contacts_run_id": run_id if contacts_run_id is None else contacts_run_id}
    run_sql(
        con,
        "contacts/channel_problems.sql",
        contacts,
        prefix="CREATE OR REPLACE TEMP TABLE channel_problems AS",
    )
    run_sql(
        con,
        "exports/export_rows.sql",
        {"run_id": run_id, **contacts},
        prefix="CREATE OR REPLACE TEMP TABLE export_rows AS",
    )
    drops = run_sql(con, "exports/export_drops.sql", {"run_id": run_id}).fetchall()
    covers = [
        [book.name, medium]
        for book in pipeline.playbooks
        if not playbook or book.name == playbook
        for medium in book.channels
        if not channel or medium == channel
    ]
    _keep_only(con, covers)
    # who some file names, per channel: only they count as sent (record_sends)
    con.execute("CREATE OR REPLACE TEMP TABLE written_people (user_id VARCHAR, channel VARCHAR)")
    files, summaries = [], {}
    for profile in chosen:
        if profile.name == GENERIC:
            con.execute("INSERT INTO written_people SELECT user_id, channel FROM export_rows")
            for book in pipeline.playbooks:
                for medium in book.channels:
                    if [book.name, medium] in covers:
                        files += _write_file(con, pipeline, staging_dir, book, medium)
            summaries[GENERIC] = {"tool": profile.tool, "docs": profile.docs}
            continue
        entries, summaries[profile.name] = write_profile(con, profile, staging_dir, as_of)
        files += entries
    manifest = build_manifest(
        con, pipeline, run_id, as_of, staging_dir, files, summaries, warehouse_id(con)
    )
    manifest["filter"] = {"playbook": playbook, "channel": channel, "profiles": list(named)}
    manifest["covers"] = covers  # the (playbook, channel) pairs whose sends this export sets
    manifest["dropped_since_run"] = [
        {"playbook": book, "channel": medium, "reason": reason, "users": users}
        for book, medium, reason, users in drops
        if (playbook is None or book == playbook) and (channel is None or medium == channel)
    ]
    write_text_atomically(staging_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    verify_export(staging_dir)
    return PreparedExport(staging_dir, final_dir, manifest)


def record_sends(con: duckdb.DuckDBPyConnection, prepared: PreparedExport, run_id: int) -> int:
    """Replace this run's sends for the pairs the export covers (re-exporting never
    double-counts, and a pair whose users were all dropped loses its sends)."""
    params = {"run_id": run_id, "as_of": prepared.manifest["as_of"]}
    pairs = {tuple(pair) for pair in prepared.manifest["covers"]}
    con.execute("CREATE OR REPLACE TEMP TABLE exported_pairs (playbook VARCHAR, channel VARCHAR)")
    if pairs:
        con.executemany("INSERT INTO exported_pairs VALUES (?, ?)", sorted(pairs))
    con.execute(
        "DELETE FROM sends WHERE run_id = $run_id AND (playbook, channel) IN "
        "(SELECT (playbook, channel) FROM exported_pairs)",
        {"run_id": run_id},
    )
    params["folder"] = prepared.final_dir.name
    run_sql(con, "exports/sends.sql", params, prefix="INSERT INTO sends BY NAME")
    for table in ("exported_pairs", "export_rows", "written_people", "channel_problems"):
        con.execute(f"DROP TABLE {table}")
    return sum(f["rows"] for f in prepared.manifest["files"])


def commit_export(prepared: PreparedExport, point_latest: bool = True) -> Path:
    """Rename the checked folder into place, replacing an earlier export of the same run;
    `exports/LATEST` names it unless the run is a backfill of an older day."""
    final, old = prepared.final_dir, prepared.final_dir.with_name(f".{prepared.final_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.rename(final, old)
    os.rename(prepared.staging_dir, final)
    shutil.rmtree(old, ignore_errors=True)
    if point_latest:
        write_text_atomically(final.parent / "LATEST", final.name + "\n")
    return final


def prune_exports(root: Path, keep_runs: int, warehouse: str) -> list[Path]:
    """Delete this warehouse's export folders of all but its newest `keep_runs` runs.

    Data minimisation: old lists are copies of people's addresses that nobody
    needs once sent. Only folders whose manifest names this warehouse's id are
    touched; their `sends` rows stay in the warehouse.
    """
    by_run: dict[int, list[Path]] = {}
    for entry in root.iterdir():
        named = EXPORT_FOLDER.fullmatch(entry.name)
        if not named or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            manifest = json.loads((entry / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("warehouse_id") == warehouse:
            by_run.setdefault(int(named["run"]), []).append(entry)
    kept = set(sorted(by_run)[-keep_runs:])
    removed = [folder for run, folders in by_run.items() if run not in kept for folder in folders]
    for folder in removed:
        shutil.rmtree(folder)
    return removed


def discard_export(prepared: PreparedExport) -> None:
    shutil.rmtree(prepared.staging_dir, ignore_errors=True)


def discard_unpublished_exports(root: Path, run_id: int) -> None:
    """Remove the temporary folders a failed run of this run_id left behind."""
    if root.is_dir():
        for leftover in root.glob(f".{export_name(run_id)}*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)


def recover_exports(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Finish or delete what killed exports left in `root` (call under the warehouse lock)."""
    for entry in sorted(root.iterdir()):
        work = WORK_FOLDER.fullmatch(entry.name)
        if not work or not entry.is_dir() or _running(int(work["pid"])):
            continue
        final = root / work["folder"]
        if not final.exists() and _published_sends(con, final.name) and _checks_out(entry):
            log.warning("export %s: renaming into place after its process was killed", final)
            manifest = json.loads((entry / "manifest.json").read_text())
            latest = is_latest(con, int(EXPORT_FOLDER.fullmatch(final.name)["run"]))
            commit_export(PreparedExport(entry, final, manifest), point_latest=latest)
        else:
            shutil.rmtree(entry, ignore_errors=True)
    for entry in sorted(root.iterdir()):
        temp = TEMP_FILE.fullmatch(entry.name)
        if temp and entry.is_file() and not _running(int(temp["pid"])):
            entry.unlink()  # a LATEST pointer a killed process was writing
    for entry in sorted(root.iterdir()):
        old = OLD_FOLDER.fullmatch(entry.name)
        if old and entry.is_dir():
            if (root / old["folder"]).exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:  # killed between moving the old folder aside and renaming the new one
                os.rename(entry, root / old["folder"])


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is not exporting while it prepares an export
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _published_sends(con: duckdb.DuckDBPyConnection, folder: str) -> bool:
    """Whether the published ledger records sends from this export folder."""
    return con.execute(
        "SELECT count(*) > 0 FROM sends INNER JOIN runs USING (run_id) "
        "WHERE runs.status = 'published' AND sends.file = $folder",
        {"folder": folder},
    ).fetchall()[0][0]


def _checks_out(folder: Path) -> bool:
    try:
        verify_export(folder)
    except (OSError, ValueError, RetentionError):
        return False
    return True


def _check_written_here(con: duckdb.DuckDBPyConnection, final: Path) -> None:
    """Refuse to replace an export folder that this warehouse's runs did not write.

    Ours: the published ledger has sends from it, or its manifest names this
    warehouse's id (a partial export whose sends a later full export took
    over). The id lives in the warehouse, so a copy or a backtest warehouse
    under another name is another warehouse.
    """
    if not final.exists() or _published_sends(con, final.name):
        return
    try:
        manifest = json.loads((final / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    if manifest.get("warehouse_id") != warehouse_id(con):
        raise RetentionError(
            f"export folder {final} already exists and was not written by this warehouse; "
            "move it away or set another [run] exports folder"
        )


def warehouse_id(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT warehouse_id FROM warehouse_info").fetchall()[0][0]


def _write_file(con, pipeline: Pipeline, folder: Path, book, medium: str) -> list[dict]:
    """COPY one playbook/channel to one file or to numbered parts; returns manifest entries."""
    params = {"playbook": book.name, "channel": medium}
    params |= {f"offer_{i}": value for i, (_, value) in enumerate(book.offer)}
    address = CHANNEL_COLUMNS[medium]
    order = "clv DESC NULLS LAST, user_id" if medium == "call" else "product_id, user_id"
    texts = [address, "user_id", "product_id", "tier", "playbook"]
    texts += [f"$offer_{i} AS {quote_identifier(k)}" for i, (k, _) in enumerate(book.offer)]
    escape = pipeline.exports.format == "csv"
    cells = [_text_cell(c, escape and c != "phone_e164") for c in texts]
    tail = [_text_cell(c, escape) for c in ("rfm_segment", "tier_reason")]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE export_file AS "
        f"SELECT {', '.join(cells)}, clv, p_alive, {', '.join(tail)} FROM export_rows "
        f"WHERE playbook = $playbook AND channel = $channel ORDER BY {order}",
        params,
    )
    rows = con.execute("SELECT count(*) FROM export_file").fetchall()[0][0]
    if rows == 0:
        con.execute("DROP TABLE export_file")
        return []
    fmt = pipeline.exports.format
    stem = f"{file_slug(book.name)}__{medium}"
    parts_dir = folder / f".{stem}.parts"
    # DuckDB starts a new part once a part has passed this size, checking after
    # each block of 2,048 rows: aim 10% low so a part stays under the tool's limit.
    limit = int(pipeline.exports.max_file_mb * 1024 * 1024 * 0.9)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    con.execute(
        f"COPY export_file TO {quote_literal(str(parts_dir))} ({options}, FILE_SIZE_BYTES {limit})"
    )
    con.execute("DROP TABLE export_file")
    parts = sorted(parts_dir.iterdir(), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    entries = []
    for number, part in enumerate(parts, start=1):
        name = f"{stem}.{fmt}" if len(parts) == 1 else f"{stem}.part-{number:04d}.{fmt}"
        os.rename(part, folder / name)
        os.chmod(folder / name, 0o600)
        entries.append({"file": name, "profile": GENERIC, "playbook": book.name, "channel": medium})
    parts_dir.rmdir()
    return count_generic_rows(con, folder, entries, fmt)


def _keep_only(con, covers: list[list[str]]) -> None:
    """Narrow export_rows to the (playbook, channel) pairs this export covers, so every
    profile (and the sends recorded) sees the same people."""
    con.execute("CREATE OR REPLACE TEMP TABLE covered_pairs (playbook VARCHAR, channel VARCHAR)")
    if covers:
        con.executemany("INSERT INTO covered_pairs VALUES (?, ?)", covers)
    con.execute(
        "DELETE FROM export_rows WHERE (playbook, channel) NOT IN "
        "(SELECT (playbook, channel) FROM covered_pairs)"
    )
    con.execute("DROP TABLE covered_pairs")


def _text_cell(column: str, escape: bool) -> str:
    """A text column, formula-safe when `escape`.

    A cell that starts with = + - @, a tab or a carriage return gets a
    leading ' (OWASP's advice against CSV injection), so a spreadsheet shows
    it as text instead of running it. The caller leaves E.164 phones alone
    (+ and digits are never a formula, and tools must read them as they are).
    """
    expression, _, name = column.partition(" AS ")
    if not escape:
        return column
    return (
        f"CASE WHEN regexp_matches({expression}, {quote_literal(FORMULA_START)}) "
        f"THEN chr(39) || {expression} ELSE {expression} END AS {name or column}"
    )


def _remove(path: Path) -> None:
    """Delete a file, a folder or a symlink itself (never what a symlink points to)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
