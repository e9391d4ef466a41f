"""The keys every `[source.*]` table shares beyond `path`, `format` and `columns`.

Where the data lives: a local path, an object-store URL (`s3://`, `gs://`,
`az://`, any fsspec protocol) or a PostgreSQL table or read-only query; and
how a text file is written (delimiter, quote, encoding, header, decimal
separator). They are checked together here because they depend on each other
(a delimiter means nothing to Parquet, a query nothing to a file), and every
mistake must be caught before any work starts, with the key named.

Secrets never come from the pipeline file, which gets copied, committed and
mailed around: object-store credentials come from the standard AWS / GCP /
Azure environment and config chain, so credential-looking storage_options are
refused; a PostgreSQL connection string is best given by the name of an
environment variable (`dsn_env`), its password by PGPASSWORD or ~/.pgpass.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from retention.config.fields import Field, boolean, choice, show, string_list, text
from retention.errors import ConfigError

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
ENCODINGS = ("utf-8", "utf-16", "latin-1")
WHITESPACE = "whitespace"
# storage_options keys that carry (or point at) a secret: those belong to the environment.
CREDENTIAL_WORDS = ("key", "secret", "token", "password", "credential", "sas", "connection_string")
TEXT_KEYS = ("delimiter", "quote", "encoding", "header", "column_names", "decimal_separator")
POSTGRES_KEYS = ("dsn", "dsn_env", "table", "query")
IDENTIFIER = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
TABLE_NAME = re.compile(rf"{IDENTIFIER}(?:\.{IDENTIFIER}){{0,2}}")
LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def is_url(path: str) -> bool:
    """Whether a source path names an object-store (fsspec) location, not a local file."""
    return URL.match(path) is not None


def _delimiter(value: Any) -> str:
    if value == WHITESPACE or (
        isinstance(value, str) and len(value) == 1 and value not in "\r\n\"'"
    ):
        return value
    raise ValueError('one character such as "," ";" "|" "\\t", or "whitespace"')


def _quote(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 1 and value not in "\r\n":
        return value
    raise ValueError('one character such as "\\"" or "\'", or "" for no quoting')


def _env_name(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return value
    raise ValueError('the name of an environment variable such as "EVENTS_DSN"')


def _table_name(value: Any) -> str:
    if isinstance(value, str) and TABLE_NAME.fullmatch(value):
        return value
    raise ValueError('a table name such as "events" or "analytics.events"')


def read_only_query(value: Any) -> str:
    """One SELECT (or WITH ... SELECT) statement. The server also runs it in a
    read-only transaction, which stops a data-modifying WITH; this check gives the
    clear sentence first."""
    if not isinstance(value, str):
        raise ValueError("a SELECT or WITH query")
    body = LEADING_COMMENTS.sub("", value).rstrip().removesuffix(";").rstrip()
    first = re.match(r"[A-Za-z]+", body)
    if first is None or first.group(0).lower() not in ("select", "with"):
        raise ValueError("a read-only query starting with SELECT or WITH")
    if ";" in body:
        raise ValueError("one SELECT or WITH statement (no ';' between statements)")
    return body


SOURCE_FIELDS = {
    "delimiter": Field(_delimiter, default=None),
    "quote": Field(_quote, default=None),
    "encoding": Field(choice(*ENCODINGS), default="utf-8"),
    "header": Field(boolean, default=True),
    "column_names": Field(string_list, default=None),
    "dsn": Field(text, default=None),
    "dsn_env": Field(_env_name, default=None),
    "table": Field(_table_name, default=None),
    "query": Field(read_only_query, default=None),
}
DECIMAL_FIELDS = {"decimal_separator": Field(choice(".", ","), default=".")}
NESTED = ("columns", "storage_options")


def source_options(
    raw: dict[str, Any], parsed: dict[str, Any], where: str, base: Path, what: str
) -> dict[str, Any]:
    """The SourceSettings keywords of one `[source.*]` table (`raw` as written,
    `parsed` checked by check_table), beyond format, columns and section: the
    absolute path (or URL, or a label naming the PostgreSQL table), the text
    settings and the connection settings."""
    fmt = parsed["format"]
    given = set(raw) & {*TEXT_KEYS, *POSTGRES_KEYS}
    options = {key: parsed.get(key) for key in TEXT_KEYS}
    options["decimal_separator"] = parsed.get("decimal_separator", ".")
    options["column_names"] = _column_names(parsed["column_names"], where)
    options["storage_options"] = {}
    if fmt == "postgres":
        return {**options, **_postgres(raw, parsed, where)}
    stray = [key for key in POSTGRES_KEYS if key in given]
    if stray:
        raise ConfigError(f'{where} {stray[0]}: only a source with format = "postgres" has it')
    if parsed.get("path") is None:
        raise ConfigError(f'{where} is missing the required key "path" ({what})')
    text_keys = [key for key in TEXT_KEYS if key in given]
    if fmt in ("parquet", "json") and text_keys:
        raise ConfigError(
            f'{where} {text_keys[0]}: only CSV and text files have it, not format = "{fmt}"; '
            "remove the key"
        )
    if parsed["delimiter"] == WHITESPACE and parsed["quote"] is not None:
        raise ConfigError(
            f"{where} quote: whitespace-separated files are not quoted; remove the key or set "
            "delimiter to one character"
        )
    path = parsed["path"]
    if "storage_options" in parsed:
        if not is_url(path):
            raise ConfigError(
                f"{where} storage_options: only an object-store path such as "
                f'"s3://bucket/events/" has them; path = {show(path)} is a local file'
            )
        options["storage_options"] = _storage_options(parsed["storage_options"], where)
    return {**options, "path": path if is_url(path) else str(base / path)}


def _column_names(names: tuple[str, ...] | None, where: str) -> tuple[str, ...] | None:
    if names is not None and len(set(names)) != len(names):
        raise ConfigError(f"{where} column_names = {show(list(names))}: expected distinct names")
    return names


def _postgres(raw: dict[str, Any], parsed: dict[str, Any], where: str) -> dict[str, Any]:
    """dsn (resolved from dsn_env), and table or query; no path, no text settings."""
    for key in ("path", "storage_options", *TEXT_KEYS):
        if key in raw:
            raise ConfigError(
                f'{where} {key}: a source with format = "postgres" reads table or query, '
                "not files; remove the key"
            )
    if (parsed["dsn"] is None) == (parsed["dsn_env"] is None):
        raise ConfigError(
            f'{where} format = "postgres" needs exactly one of dsn (a connection string) or '
            "dsn_env (the name of an environment variable holding it)"
        )
    if (parsed["table"] is None) == (parsed["query"] is None):
        raise ConfigError(
            f'{where} format = "postgres" needs exactly one of table (a table name) or '
            "query (a read-only SELECT)"
        )
    dsn = parsed["dsn"]
    if parsed["dsn_env"] is not None:
        dsn = os.environ.get(parsed["dsn_env"], "")
        if not dsn.strip():
            raise ConfigError(
                f'{where} dsn_env = "{parsed["dsn_env"]}": the environment variable is not set; '
                "set it to the connection string (postgresql://user@host/db)"
            )
    label = f"postgres table {parsed['table']}" if parsed["table"] else "postgres query"
    return {"path": label, "dsn": dsn, "table": parsed["table"], "query": parsed["query"]}


def _storage_options(table: Any, where: str) -> dict[str, Any]:
    """Plain settings of the fsspec filesystem (endpoint_url, region_name, ...)."""
    where = f"{where.rstrip(']')}.storage_options]" if where.endswith("]") else where
    if not isinstance(table, dict):
        raise ConfigError(f'{where} must be a table such as {{ endpoint_url = "http://..." }}')
    for key, value in table.items():
        if any(word in key.lower() for word in CREDENTIAL_WORDS):
            raise ConfigError(
                f"{where} {key}: credentials never go in the pipeline file; remove the key and "
                "set them in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or "
                "~/.aws, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_* variables)"
            )
        if isinstance(value, dict | list):
            raise ConfigError(f"{where} {key} = {show(value)}: expected a string, number or bool")
    return dict(table)
