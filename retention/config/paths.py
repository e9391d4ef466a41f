"""Where a pipeline may write: checks on `[run] warehouse` and `[run] exports`.

A run writes only the warehouse file (and its `.building`/`.lock` siblings)
and the exports folder, which campaign tools are given. Paths may point
anywhere the user chooses (`../out/...`, absolute paths), but not so that a
run would overwrite or feed back into something else:
- the warehouse is a file: not an existing folder, not a source file, not the
  pipeline file itself, and not inside the exports folder (the people
  given that folder would get everyone's data);
- the exports folder is a folder: not an existing file, and not inside a
  folder a source reads (the next run would read the export files as input).
Export file names inside the folder come from playbook names made
file-name-safe (see `playbooks.file_slug`), so they cannot leave it.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from retention.config.fields import show
from retention.errors import ConfigError


def check_output_paths(where: str, warehouse_value: str, exports_value: str, pipeline) -> None:
    """Raise ConfigError naming the key when an output path is unsafe."""
    warehouse = _absolute(pipeline.run.warehouse)
    exports = _absolute(pipeline.run.exports)
    shown_warehouse = f"{where} warehouse = {show(warehouse_value)}"
    shown_exports = f"{where} exports = {show(exports_value)}"
    if warehouse.is_dir():
        raise ConfigError(f"{shown_warehouse}: expected a file, but {warehouse} is a folder")
    if exports.exists() and not exports.is_dir():
        raise ConfigError(f"{shown_exports}: expected a folder, but {exports} is a file")
    if warehouse == _absolute(pipeline.path):
        raise ConfigError(f"{shown_warehouse}: expected a file of its own, not the pipeline file")
    if _inside(warehouse, exports):
        raise ConfigError(
            f"{shown_warehouse}: expected a path outside the exports folder {exports}, "
            "which is handed to campaign tools"
        )
    for source in (pipeline.events, pipeline.contacts, pipeline.costs, pipeline.suppressions):
        if source is None:
            continue
        if warehouse in {_absolute(Path(f)) for f in _files(source.path)}:
            raise ConfigError(
                f"{shown_warehouse}: expected a file of its own, not the {source.section} file"
            )
        folder = _read_folder(source.path)
        if folder is not None and (exports == folder or _inside(exports, folder)):
            raise ConfigError(
                f"{shown_exports}: expected a folder outside {folder}, which "
                f"{source.section} reads (the next run would read the export files)"
            )


def check_outputs_writable(pipeline) -> None:
    """Before any work: the warehouse's folder and the exports folder can be written.

    Each is created if missing; a path through a file, or a folder the process
    may not write, is one sentence naming the key.
    """
    where = f"{pipeline.path}: [run]"
    for key, folder, mode in (
        ("warehouse", pipeline.run.warehouse.parent, 0o777),
        ("exports", pipeline.run.exports, 0o700),  # it will hold contact data
    ):
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=mode)
        except OSError as exc:
            raise ConfigError(
                f"{where} {key}: cannot create the folder {folder} ({exc.strerror}); "
                "choose a folder this user can write"
            ) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(
                f"{where} {key}: the folder {folder} is not writable by this user; "
                "change its permissions or choose another folder"
            )


def input_files(pipeline) -> tuple[Path, ...]:
    """The pipeline file and every file its sources read: what no output may replace."""
    files = [Path(pipeline.path)]
    for source in (pipeline.events, pipeline.contacts, pipeline.costs, pipeline.suppressions):
        if source is not None:
            folder = _read_folder(source.path)
            files += [Path(f) for f in _files(source.path)] + ([folder] if folder else [])
    return tuple(files)


def _absolute(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, folder: Path) -> bool:
    return folder in path.parents


def _files(source_path: str) -> list[str]:
    if glob.has_magic(source_path) and not os.path.isfile(source_path):
        return glob.glob(source_path, recursive=True)
    return [source_path]


def _read_folder(source_path: str) -> Path | None:
    """The folder a folder or glob source reads below; None for a single file."""
    if os.path.isfile(source_path):
        return None
    if os.path.isdir(source_path):
        return _absolute(Path(source_path))
    if glob.has_magic(source_path):
        parts = Path(source_path).parts
        fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        return _absolute(Path(*parts[:fixed]))
    return None
