"""Files the engine writes outside the warehouse: whole or not at all, never through a link.

Every such file (a query result, the report, an export folder's LATEST
pointer and manifest) is written to a new temporary file in the target's
folder, opened with O_CREAT | O_EXCL | O_NOFOLLOW (so a planted symlink or a
file someone else made is never written through), flushed to disk, and
renamed onto the target in one step; a reader sees the old file or the new
one, never half of one. Files that can hold personal data are 0600.

`check_target` refuses targets a command must never replace: the warehouse
and its companions, the pipeline file, a source file, any DuckDB database,
a folder, and any existing file the command did not write for the purpose
(unless the caller says it may be replaced).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from retention.errors import RetentionError

DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def write_atomically(path: Path, write: Callable[[BinaryIO], None], mode: int = 0o600) -> Path:
    """Write `path` through `write(handle)`; returns the path."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        descriptor = os.open(temp, flags, mode)
    except OSError as exc:
        raise RetentionError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # whatever the umask
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise RetentionError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_folder(path.parent)
    return path


def write_text_atomically(path: Path, text: str, mode: int = 0o600) -> Path:
    return write_atomically(path, lambda handle: handle.write(text.encode("utf-8")), mode)


def check_target(
    path: Path,
    option: str,
    protected: Iterable[Path] = (),
    ours: Callable[[Path], bool] | None = None,
    overwrite: bool = False,
) -> None:
    """Raise RetentionError (naming `option`) when `path` must not be written.

    `protected` are files this command must never replace; `ours(path)` says
    whether an existing file is one this command wrote before (it may then be
    replaced); `overwrite` lets the user replace other existing files, but
    never a protected one, a DuckDB database, a folder or a symlink.
    """
    path = Path(path)
    real = Path(os.path.realpath(path))
    for guarded in protected:
        guarded = Path(os.path.realpath(guarded))
        if real == guarded or guarded in real.parents:
            raise RetentionError(
                f"{option} {path}: refusing to write over {guarded}, which this command "
                "must never replace; choose another file"
            )
    if path.is_symlink():
        raise RetentionError(f"{option} {path}: is a symbolic link; give the real file's path")
    if not path.exists():
        return
    if path.is_dir():
        raise RetentionError(f"{option} {path}: is a folder; give a file name")
    if _is_duckdb(path):
        raise RetentionError(f"{option} {path}: is a DuckDB database; choose another file")
    if (ours is not None and ours(path)) or overwrite:
        return
    raise RetentionError(
        f"{option} {path}: the file exists and was not written by this command; "
        "choose another file, or pass --overwrite to replace it"
    )


def _is_duckdb(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(12)[8:12] == DUCKDB_MAGIC
    except OSError:
        return False


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
