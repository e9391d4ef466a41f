"""Small, declarative checks for pipeline-file values.

Each `Field` knows how to turn one TOML value into the value the engine uses,
or to say in a few words what it expected. `check_table` walks one TOML table
against a dict of fields so that every section of the pipeline file is
validated the same way: unknown keys (typos), missing required keys and wrong
types all fail before any work starts, with the file, section and key named.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

from retention.errors import ConfigError

Parser = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One key of a pipeline-file table: how to parse it and its default."""

    parse: Parser
    required: bool = False
    default: Any = None
    help: str = ""


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def optional_text(value: Any) -> str | None:
    return text(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def choice(*allowed: str) -> Parser:
    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError("one of " + ", ".join(f'"{a}"' for a in allowed))
        return value

    return parse


def number_between(low: float, high: float) -> Parser:
    def parse(value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValueError(f"a number from {low:g} to {high:g}")
        return float(value)

    return parse


def integer_between(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return parse


def date_value(value: Any) -> dt.date:
    """TOML dates arrive as `date`; quoted ISO dates are accepted too."""
    if isinstance(value, dt.datetime):
        raise ValueError('a date such as "2024-06-30" (without a time)')
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError('a date such as "2024-06-30"')


def date_or_latest(value: Any) -> dt.date | None:
    """`latest` means the last day with events; None carries that meaning on."""
    if value == "latest":
        return None
    try:
        return date_value(value)
    except ValueError:
        raise ValueError('a date such as "2024-06-30" or "latest"') from None


def timezone_name(value: Any) -> str:
    if not isinstance(value, str) or value not in available_timezones():
        raise ValueError('an IANA time zone name such as "UTC" or "Europe/Berlin"')
    return value


def memory_size(value: Any) -> str:
    """DuckDB accepts sizes like "2GB", "500MB", "75%"."""
    units = ("KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB", "%")
    cleaned = value.strip().upper() if isinstance(value, str) else ""
    number = next((cleaned[: -len(u)] for u in units if cleaned.endswith(u)), "")
    try:
        if float(number.strip()) > 0:
            return cleaned
    except ValueError:
        pass
    raise ValueError('a size such as "2GB", "512MB" or "75%"')


def storage_version(value: Any) -> str:
    """A DuckDB storage compatibility version such as "v1.0.0" (or "latest")."""
    if not isinstance(value, str) or not re.fullmatch(r"v[0-9]+\.[0-9]+\.[0-9]+|latest", value):
        raise ValueError('a DuckDB version such as "v1.0.0" (readable by DuckDB 1.0+) or "latest"')
    return value


def string_list(value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ValueError('a non-empty list of strings such as ["purchase", "order"]')
    return tuple(value)


def _unknown_key_message(where: str, key: str, allowed: list[str]) -> str:
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
    return (
        f'{where} unknown key "{key}"{suggestion}; allowed keys are: {", ".join(sorted(allowed))}'
    )


def check_table(
    table: Any, fields: Mapping[str, Field], where: str, nested: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate one TOML table: returns parsed values (defaults filled in).

    `nested` names keys that hold sub-tables; they are returned untouched for the
    caller to check with their own fields.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of keys")
    allowed = [*fields, *nested]
    for key in table:
        if key not in allowed:
            raise ConfigError(_unknown_key_message(where, key, allowed))
    parsed: dict[str, Any] = {k: table[k] for k in nested if k in table}
    for key, field in fields.items():
        if key not in table:
            if field.required:
                raise ConfigError(f'{where} is missing the required key "{key}" ({field.help})')
            parsed[key] = field.default
            continue
        try:
            parsed[key] = field.parse(table[key])
        except ValueError as expected:
            raise ConfigError(f"{where} {key} = {show(table[key])}: expected {expected}") from None
    return parsed


def check_open_table(table: Any, allowed_keys: list[str], parse: Parser, where: str) -> dict:
    """Validate a table whose keys come from a fixed vocabulary, all parsed alike."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of keys")
    parsed = {}
    for key, value in table.items():
        if key not in allowed_keys:
            raise ConfigError(_unknown_key_message(where, key, allowed_keys))
        try:
            parsed[key] = parse(value)
        except ValueError as expected:
            raise ConfigError(f"{where} {key} = {show(value)}: expected {expected}") from None
    return parsed


def show(value: Any) -> str:
    """Render a value the way it would look in the TOML file."""
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)
