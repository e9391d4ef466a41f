"""The warehouse file: copy-on-write publishing and the `runs` ledger.

Analysts must be able to query the published data at any time, also while
tonight's run writes, and must always see one complete run. DuckDB lets one
process write a file and locks every other process out, so a writer never
opens the published file: it copies it into the folder `<warehouse>.building`,
works on the copy, checkpoints and closes it, and renames it onto the
published file in one step (`os.replace`). Readers open the published file
read-only; one that opened it before the rename keeps reading the old,
complete file. A `<warehouse>.lock` file (an OS lock, released if the process
dies) keeps two writers from racing. A killed writer leaves only a stale
`.building` folder, which the next writer deletes: the published file is
untouched. The folder is owner-only (0700): the copy, DuckDB's write-ahead
log and its spill files hold personal data and are created with the
process's default permissions.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from retention.errors import WarehouseError, WarehouseLockedError
from retention.warehouse.schema import create_schema

# Readable by DuckDB 1.0 and later (checked with 1.1.3 and 2.0.1).
DEFAULT_STORAGE_VERSION = "v1.0.0"
DUCKDB_SHARE = 0.75  # of [run] memory_limit: see duckdb_share


def warehouse_files(path: Path) -> tuple[Path, ...]:
    """The warehouse file and the companions a run makes beside it (never to be replaced)."""
    path = Path(path)
    return tuple(
        path.with_name(path.name + suffix) for suffix in ("", ".wal", ".building", ".lock")
    )


@contextlib.contextmanager
def open_warehouse(
    path: Path,
    threads: int | None = None,
    memory_limit: str | None = None,
    storage_version: str = DEFAULT_STORAGE_VERSION,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a private copy of the warehouse, published on a clean exit.

    If the body raises, the copy is thrown away and the published file is
    left exactly as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    private = path.with_name(path.name + ".building")
    building = private / path.name
    with _writer_lock(path):
        _remove_private(private)
        private.mkdir(mode=0o700)
        os.chmod(private, 0o700)  # whatever the umask
        if path.exists():
            shutil.copyfile(path, building)
        try:
            con = _connect(building, path, storage_version)
        except WarehouseError:
            _remove_private(private)
            raise
        try:
            _configure(con, private / "spill", threads, memory_limit)
            yield con
            con.execute("CHECKPOINT")
        except BaseException:
            con.close()
            _remove_private(private)
            raise
        con.close()
        os.chmod(building, 0o600)
        os.replace(building, path)
        _sync_folder(path.parent)
        _remove_private(private)


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseLockedError(
                f"warehouse {path} is being written by another run; wait for it to finish"
            ) from None
        yield
    finally:
        handle.close()


def _connect(building: Path, published: Path, storage_version: str) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(
            str(building), config={"storage_compatibility_version": storage_version}
        )
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise WarehouseError(f"warehouse {published} cannot be opened: {first_line}") from None


def _configure(con, spill: Path, threads: int | None, memory_limit: str | None) -> None:
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET temp_directory = $dir", {"dir": str(spill)})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = $limit", {"limit": duckdb_share(memory_limit)})
    con.begin()
    create_schema(con)
    con.commit()


def duckdb_share(memory_limit: str) -> str:
    """The part of the run's `[run] memory_limit` that DuckDB may use: three quarters.

    DuckDB's own limit bounds its buffer pool, not every allocation it makes,
    and the model fits and per-user frames live in Python beside it. Measured
    at 100M events with "4GB" given whole to DuckDB, the process peaked at
    5.5 GiB (DuckDB alone at 4.8 GiB while staging); a quarter kept back
    holds the whole run near the limit.
    """
    match = re.fullmatch(r"([0-9.]+)\s*([A-Z%]+)", memory_limit.strip().upper())
    if match is None:
        return memory_limit
    share = float(match.group(1)) * DUCKDB_SHARE
    return f"{share:.6g}{match.group(2)}"


def _remove_private(private: Path) -> None:
    """Delete a writer's private folder (or the `.building` file of older versions)."""
    if private.is_dir() and not private.is_symlink():
        shutil.rmtree(private)
    else:
        private.unlink(missing_ok=True)
    private.with_name(private.name + ".wal").unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (a crash right after must not undo the publish)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
