"""Export profiles: the registry of campaign tools' import formats, and its checks.

The built-in profiles are data (`export_profiles.toml`, beside this module),
checked with the same rules as a profile a user declares under
[[exports.profiles]] in the pipeline file, so a user's own tool is a table of
headers and caps, never Python. A table that names a built-in profile
overrides only the keys it gives (a paid HubSpot tier's cap, Braze's SMS
subscription group id).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from retention.config.fields import (
    Field,
    boolean,
    check_table,
    choice,
    integer_between,
    number_between,
    show,
    text,
)
from retention.errors import ConfigError

GENERIC = "generic"
PROFILE_CHANNELS = ("email", "sms", "call")
# What a person row can hold (sql/exports/profile_rows.sql computes them).
ROW_FIELDS = (
    "address",
    "email",
    "phone",
    "user_id",
    "user_ids",
    "products",
    "playbooks",
    "tiers",
    "tags",
    "country",
    "clv",
    "p_alive",
    "as_of",
)
NUMBER_FIELDS = ("clv", "p_alive")
LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n"}
LIST_SEPARATORS = {"comma": ",", "semicolon": ";", "json": None}

PROFILE_FIELDS = {
    "name": Field(text, required=True, help='the profile\'s name, e.g. "my_tool"'),
    "tool": Field(text, default=None),
    "docs": Field(text, default=""),
    "import_steps": Field(text, default=""),
    "format": Field(choice("csv", "xlsx"), default="csv"),
    "merge": Field(choice("address", "user_id"), default="address"),
    "lists": Field(choice(*LIST_SEPARATORS), default="comma"),
    "encoding": Field(choice("utf-8", "utf-8-sig"), default="utf-8"),
    "line_ending": Field(choice(*LINE_ENDINGS), default="crlf"),
    "delimiter": Field(choice(",", ";", "\t"), default=","),
    "max_file_mb": Field(number_between(0.01, 100_000), default=None),
    "max_rows": Field(integer_between(1, 100_000_000), default=None),
    "max_columns": Field(integer_between(1, 100_000), default=None),
    "refuse_non_ascii_local": Field(boolean, default=False),
    "sort": Field(choice("address", "clv"), default="address"),
    "channels": Field(lambda v: v, default=None),
}
CHANNEL_FILE_FIELDS = {
    "key": Field(text, required=True, help="the header of the column the tool keys on"),
}


@dataclass(frozen=True)
class Column:
    header: str
    field: str | None  # a ROW_FIELDS name, or None for a fixed text
    text: str | None


@dataclass(frozen=True)
class ChannelFile:
    channel: str
    key: str  # the header of the identity column the tool dedupes on
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Profile:
    """One campaign tool's file format; `files` is empty for the generic layout."""

    name: str
    tool: str
    docs: str
    import_steps: str
    format: str
    merge: str
    lists: str
    encoding: str
    line_ending: str
    delimiter: str
    max_file_mb: float | None
    max_rows: int | None
    max_columns: int | None
    refuse_non_ascii_local: bool
    sort: str
    files: tuple[ChannelFile, ...]


def parse_profiles(exports: dict[str, Any], where: str) -> tuple[Profile, ...]:
    """The profiles an [exports] table asks for (`profile = "x"` or `profiles = [...]`).

    An entry of `profiles` is a built-in name, or a table: a whole new profile,
    or a built-in's name with the keys to change.
    """
    if "profile" in exports and "profiles" in exports:
        raise ConfigError(f"{where} has both profile and profiles; keep one of them")
    if "profile" in exports:
        entries: Any = [exports["profile"]]
    else:
        entries = exports.get("profiles", [GENERIC])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{where} profiles = {show(entries)}: expected a non-empty list such as "
            f'["generic", "klaviyo", "excel"]'
        )
    profiles = [
        _profile_entry(entry, f"{where} profiles #{n}") for n, entry in enumerate(entries, 1)
    ]
    names = [p.name for p in profiles]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f'{where} profiles: "{name}" is listed twice')
    return tuple(profiles)


def builtin_names() -> tuple[str, ...]:
    return tuple(_builtin_tables())


def profile_by_name(name: str, where: str = "--profile") -> Profile:
    return _profile_entry(name, where)


def _profile_entry(entry: Any, where: str) -> Profile:
    builtins = _builtin_tables()
    if isinstance(entry, str):
        if entry not in builtins:
            raise ConfigError(
                f'{where} "{entry}": no such profile; built-in profiles are: '
                f"{', '.join(builtins)} (or declare your own under [[exports.profiles]])"
            )
        return _check_profile(builtins[entry], where)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f'{where} must be a profile name or a table with name = "..."')
    base = builtins.get(entry["name"], {})
    if entry["name"] == GENERIC and set(entry) != {"name"}:
        raise ConfigError(f'{where} "generic" has a fixed layout; set [exports] format instead')
    merged = {**base, **entry}
    for channel in PROFILE_CHANNELS:  # a channel table replaces the built-in's whole
        if channel in entry:
            merged[channel] = entry[channel]
    return _check_profile(merged, f'{where} "{entry["name"]}"')


def _check_profile(table: dict, where: str) -> Profile:
    parsed = check_table(table, PROFILE_FIELDS, where, nested=(*PROFILE_CHANNELS, "settings"))
    values = {k: v for k, v in parsed.items() if k in PROFILE_FIELDS and k != "channels"}
    values["tool"] = parsed["tool"] or parsed["name"]
    if parsed["name"] == GENERIC:
        return Profile(**values, files=())
    settings = parsed.get("settings", {})
    if not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
        raise ConfigError(f'{where} settings must be a table of texts, e.g. {{ name = "value" }}')
    declared = [c for c in PROFILE_CHANNELS if c in parsed]
    wanted = parsed["channels"] if parsed["channels"] is not None else declared
    if not isinstance(wanted, list) or not wanted or any(c not in declared for c in wanted):
        raise ConfigError(
            f"{where} channels = {show(wanted)}: expected a non-empty list of the channels "
            f"it has a table for ({', '.join(declared) or 'none: add a [...email] table'})"
        )
    files = tuple(_channel_file(parsed[c], c, settings, parsed, f"{where} {c}") for c in wanted)
    return Profile(**values, files=files)


def _channel_file(
    table: Any, channel: str, settings: dict, profile: dict, where: str
) -> ChannelFile:
    parsed = check_table(table, CHANNEL_FILE_FIELDS, where, nested=("columns",))
    listed = parsed.get("columns")
    if not isinstance(listed, dict) or not listed:
        raise ConfigError(
            f'{where} needs columns: a table of header = field, e.g. {{ "Email" = "address" }}'
        )
    columns = tuple(
        _column(header, value, settings, f"{where} columns {show(header)}")
        for header, value in listed.items()
    )
    headers = [c.header for c in columns]
    if parsed["key"] not in headers:
        raise ConfigError(
            f'{where} key = "{parsed["key"]}": expected one of its column headers '
            f"({', '.join(headers)})"
        )
    key_field = next(c.field for c in columns if c.header == parsed["key"])
    if key_field not in ("address", "user_id"):
        raise ConfigError(
            f'{where} key column "{parsed["key"]}" must hold address or user_id, '
            f"the values rows are merged on"
        )
    if (key_field == "user_id") != (profile["merge"] == "user_id"):
        raise ConfigError(
            f'{where} key column "{parsed["key"]}" holds {key_field}, but merge = '
            f'"{profile["merge"]}": set merge = "{key_field}" so the key is unique'
        )
    if profile["max_columns"] is not None and len(columns) > profile["max_columns"]:
        raise ConfigError(
            f"{where} has {len(columns)} columns: the tool takes at most {profile['max_columns']}"
        )
    return ChannelFile(channel, parsed["key"], columns)


def _column(header: Any, value: Any, settings: dict, where: str) -> Column:
    if not isinstance(header, str) or not header.strip():
        raise ConfigError(f"{where}: a header must be a non-empty text")
    if isinstance(value, str):
        if value not in ROW_FIELDS:
            raise ConfigError(
                f'{where} = "{value}": expected a field ({", ".join(ROW_FIELDS)}), '
                '{ text = "..." } or { setting = "..." }'
            )
        return Column(header, value, None)
    if isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str):
        return Column(header, None, value["text"])
    if isinstance(value, dict) and set(value) == {"setting"}:
        name = value["setting"]
        if name not in settings:
            raise ConfigError(
                f'{where} needs settings.{name}: add settings = {{ {name} = "..." }} '
                "to the profile's table in [exports] profiles, or leave that channel out"
            )
        return Column(header, None, settings[name])
    raise ConfigError(
        f'{where} = {show(value)}: expected a field name, {{ text = "..." }} or '
        '{ setting = "..." }'
    )


@cache
def _builtin_tables() -> dict[str, dict]:
    source = resources.files("retention.config").joinpath("export_profiles.toml").read_text()
    return {table["name"]: table for table in tomllib.loads(source)["profiles"]}
