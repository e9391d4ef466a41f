"""Pipeline-file sections for campaigns: [[playbooks]] and [exports].

A playbook says which tiers it serves, an optional extra filter (a DuckDB
boolean expression, checked like tier rules), channels in order of
preference, the share held out for measurement, its priority (one playbook
per user per run: the highest priority that matches), and free-form offer
fields that flow into the export files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from retention.config.defaults import DEFAULT_PLAYBOOKS, TIERS, Playbook
from retention.config.export_profiles import Profile, parse_profiles
from retention.config.fields import (
    Field,
    boolean,
    check_table,
    choice,
    integer_between,
    number_between,
    optional_text,
    show,
    text,
)
from retention.errors import ConfigError

CHANNELS = ("email", "sms", "call")

PLAYBOOK_FIELDS = {
    "name": Field(text, required=True, help="the playbook's name"),
    "tiers": Field(lambda v: v, required=True, help="a list of tiers it serves"),
    "filter": Field(optional_text, default=None),
    "channels": Field(lambda v: v, required=True, help='channels in order, e.g. ["email", "sms"]'),
    "holdout_share": Field(number_between(0, 0.9), default=0.1),
    "priority": Field(integer_between(-1000, 1000), default=0),
}


EXPORT_FIELDS = {
    "format": Field(choice("csv", "parquet"), default="csv"),
    "max_file_mb": Field(number_between(0.001, 10_000), default=50.0),
    "holdout_salt": Field(text, default="retention"),
    "max_contacts": Field(integer_between(0, 1000), default=2),
    "window_days": Field(integer_between(1, 365), default=7),
    "allow_non_ascii_local": Field(boolean, default=True),
    "keep_runs": Field(integer_between(1, 10_000), default=None),
}
MAX_NAME_LENGTH = 100  # a playbook name becomes part of file names (255 bytes at most)


@dataclass(frozen=True)
class ExportSettings:
    format: str
    max_file_mb: float
    holdout_salt: str
    max_contacts: int  # 0 = no cap
    window_days: int
    allow_non_ascii_local: bool
    keep_runs: int | None  # export folders kept; None = [run] keep_runs
    profiles: tuple[Profile, ...]  # the file formats each export writes (generic first)


def parse_exports(document: dict[str, Any], name: str) -> ExportSettings:
    where = f"{name}: [exports]"
    table = document.get("exports", {})
    exports = check_table(table, EXPORT_FIELDS, where, nested=("profile", "profiles"))
    profiles = parse_profiles(exports, where)
    settings = {k: v for k, v in exports.items() if k in EXPORT_FIELDS}
    return ExportSettings(**settings, profiles=profiles)


def parse_playbooks(items: Any, name: str) -> tuple[Playbook, ...]:
    """The catalogue from [[playbooks]], or the built-in one when absent."""
    where = f"{name}: [[playbooks]]"
    if items is None:
        return DEFAULT_PLAYBOOKS
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where} must be a non-empty list of tables")
    playbooks = [_parse_playbook(item, f"{where} #{n}") for n, item in enumerate(items, start=1)]
    names = [p.name for p in playbooks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f'{where} name "{duplicates[0]}" is used twice; names must be unique')
    slugs: dict[str, str] = {}
    for playbook in playbooks:
        other = slugs.setdefault(file_slug(playbook.name), playbook.name)
        if other != playbook.name:
            raise ConfigError(
                f'{where} names "{other}" and "{playbook.name}" both become the file name '
                f'"{file_slug(playbook.name)}"; rename one of them'
            )
    return tuple(playbooks)


def file_slug(name: str) -> str:
    """A file-name-safe form of a playbook name (names come from the pipeline file)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "playbook"


def _parse_playbook(item: Any, where: str) -> Playbook:
    parsed = check_table(item, PLAYBOOK_FIELDS, where, nested=("offer",))
    if len(parsed["name"]) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"{where} name is {len(parsed['name'])} characters long: expected at most "
            f"{MAX_NAME_LENGTH} (it becomes part of the export file names)"
        )
    tiers = _names(parsed["tiers"], TIERS, f"{where} tiers")
    channels = _names(parsed["channels"], CHANNELS, f"{where} channels")
    offer = parsed.get("offer", {})
    if not isinstance(offer, dict) or not all(
        isinstance(k, str) and k.isidentifier() and isinstance(v, str | int | float)
        for k, v in offer.items()
    ):
        raise ConfigError(
            f"{where} offer must be a table of simple names to text or numbers, "
            'e.g. offer = { code = "WELCOME10", template_id = "t-42" }'
        )
    return Playbook(
        name=parsed["name"],
        tiers=tiers,
        filter=parsed["filter"],
        channels=channels,
        holdout_share=parsed["holdout_share"],
        priority=parsed["priority"],
        offer=tuple((k, str(v)) for k, v in offer.items()),
    )


def _names(value: Any, allowed: tuple[str, ...], where: str) -> tuple[str, ...]:
    listed = ", ".join(f'"{a}"' for a in allowed)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} = {show(value)}: expected a non-empty list from {listed}")
    for entry in value:
        if entry not in allowed:
            raise ConfigError(f'{where}: unknown "{entry}"; expected one of {listed}')
    return tuple(value)
