"""Sources in object storage (`s3://`, `gs://`, `az://`, any fsspec URL).

DuckDB reads such paths through an fsspec filesystem registered on its
connection, so the same readers (and the same checks) serve local and remote
files, and no DuckDB extension has to be downloaded. Listing (globs, folders,
hive-partitioned prefixes) is done here with fsspec, because DuckDB's own glob
only sees local files.

Credentials come from the standard chain of each store (environment
variables, ~/.aws, instance roles, GOOGLE_APPLICATION_CREDENTIALS, ...). The
endpoint of an S3-compatible store (MinIO, Ceph, a test server) comes from
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, or `storage_options.endpoint_url`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import duckdb

from retention.config.pipeline_file import SourceSettings
from retention.errors import SourceError

EXTRAS = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}
GLOB_CHARS = "*?["


def protocol_of(path: str) -> str:
    return path.split("://", 1)[0].lower()


def _options(source: SourceSettings, url: str | None = None) -> dict[str, Any]:
    """fsspec keywords: the pipeline's plain settings, and an S3 endpoint from the environment."""
    options = dict(source.storage_options)
    if protocol_of(url or source.path) in ("s3", "s3a") and "endpoint_url" not in options:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
    return options


@cache
def _filesystem_class(protocol: str):
    import fsspec

    return fsspec.get_filesystem_class(protocol)


def filesystem(source: SourceSettings):
    """A fresh fsspec filesystem for the source (fresh: a cached one could hold an old
    listing or old credentials)."""
    protocol = protocol_of(source.path)
    try:
        cls = _filesystem_class(protocol)
    except (ImportError, ValueError) as exc:
        package = EXTRAS.get(protocol)
        hint = f"install {package} (pip install 'retention[cloud]')" if package else str(exc)
        raise SourceError(
            f"{source.section} path {source.path}: cannot read {protocol}:// paths; {hint}"
        ) from None
    try:
        return cls(**_options(source), skip_instance_cache=True)
    except (TypeError, ValueError) as exc:
        raise SourceError(
            f"{source.section} storage_options: not accepted by the {protocol}:// filesystem "
            f"({exc}); remove or correct the key"
        ) from None


def list_files(source: SourceSettings, is_data_file) -> tuple[list[str], bool]:
    """The URLs a source path names, and whether they are a hive-partitioned prefix.

    A path is an object, a glob, or a prefix ("folder"); a prefix lists every
    object below it that `is_data_file` accepts.
    """
    fs = filesystem(source)
    protocol = protocol_of(source.path)
    path = source.path.split("://", 1)[1]
    try:
        if any(char in path for char in GLOB_CHARS):
            found = [p for p in fs.glob(path) if not fs.isdir(p)]
            if not found:
                raise SourceError(
                    f"{source.section} path {source.path}: no file matches this pattern"
                )
            return sorted(f"{protocol}://{p}" for p in found), False
        if fs.isfile(path):
            return [source.path], False
        if fs.isdir(path):
            prefix = path.rstrip("/") + "/"
            below = sorted(p for p in fs.find(prefix) if is_data_file(p))
            if not below:
                raise SourceError(
                    f"{source.section} path {source.path}: the folder holds no event files"
                )
            hive = any("=" in part for p in below for part in p[len(prefix) :].split("/")[:-1])
            return [f"{protocol}://{p}" for p in below], hive
    except SourceError:
        raise
    except Exception as exc:  # the store's own errors: no access, no bucket, no network
        raise SourceError(
            f"{source.section} path {source.path}: cannot be listed: {_reason(exc)}"
        ) from None
    raise SourceError(f"{source.section} path {source.path}: file does not exist")


def empty_files(source: SourceSettings, files: list[str]) -> list[str]:
    fs = filesystem(source)
    return [f for f in files if fs.size(f.split("://", 1)[1]) == 0]


def register(con: duckdb.DuckDBPyConnection, source: SourceSettings) -> None:
    """Let DuckDB read the source's protocol through fsspec (once per connection).

    A connection holds one filesystem per protocol, so every source on one
    protocol must share its storage_options; the settings registered are kept
    in a variable of the connection to tell.
    """
    protocol = protocol_of(source.path)
    variable = "retention_fs_" + "".join(c if c.isalnum() else "_" for c in protocol)
    wanted = repr(sorted(_options(source).items()))
    current = con.execute("SELECT getvariable($name)", {"name": variable}).fetchall()[0][0]
    if current == wanted:
        return
    if current is not None:
        raise SourceError(
            f"{source.section} storage_options: another source on {protocol}:// uses other "
            "settings; give every source on one store the same storage_options"
        )
    con.register_filesystem(filesystem(source))
    con.execute(f"SET VARIABLE {variable} = $wanted", {"wanted": wanted})


def open_bytes(source: SourceSettings, url: str) -> bytes:
    """The whole (decompressed) object, for the small files read in Python (contacts)."""
    import fsspec

    with fsspec.open(url, "rb", compression="infer", **_options(source, url)) as handle:
        return handle.read()


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
