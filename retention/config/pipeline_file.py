"""The pipeline file: load, validate, resolve paths.

A pipeline file is TOML (see the README and `pipelines/sample.toml`). The whole
file is checked before any work starts, so a typo never costs a half-done run.
Relative paths are relative to the folder of the pipeline file, so a pipeline
works from any working directory.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from retention.config.defaults import Playbook
from retention.config.fields import (
    Field,
    boolean,
    check_open_table,
    check_table,
    choice,
    date_or_latest,
    date_value,
    integer_between,
    memory_size,
    number_between,
    optional_text,
    storage_version,
    string_list,
    text,
    timezone_name,
)
from retention.config.paths import check_output_paths
from retention.config.playbooks import ExportSettings, parse_exports, parse_playbooks
from retention.config.scores import ScoreSettings, parse_score_settings
from retention.config.source_keys import DECIMAL_FIELDS, NESTED, SOURCE_FIELDS, source_options
from retention.config.spark import ENGINES, SparkSettings, parse_spark
from retention.errors import ConfigError

# Canonical event types: every source value is mapped onto one of these (or `other`).
EVENT_TYPES = ("purchase", "refund", "visit", "page_view", "signup")
EVENT_COLUMNS = (
    "user_id",
    "event_time",
    "event_type",
    "amount",
    "product_id",
    "channel",
    "event_id",
)
REQUIRED_EVENT_COLUMNS = ("user_id", "event_time")
COST_COLUMNS = ("channel", "day", "spend", "product_id")
CONTACT_COLUMNS = ("user_id", "email", "phone", "email_opt_in", "sms_opt_in", "country")
SUPPRESSION_COLUMNS = ("address", "channel", "reason")
SOURCES = ("events", "contacts", "costs", "suppressions")
FORMATS = ("auto", "csv", "parquet", "json", "postgres")
DEFAULT_PRODUCT = "default"

RUN_FIELDS = {
    "warehouse": Field(text, required=True, help="path of the DuckDB warehouse file"),
    "exports": Field(text, default="exports"),
    "as_of": Field(date_or_latest, default=None),
    "time_unit": Field(choice("D", "W"), default="D"),
    "timezone": Field(timezone_name, default="UTC"),
    "threads": Field(integer_between(1, 1024), default=None),
    "memory_limit": Field(memory_size, default=None),
    "storage_version": Field(storage_version, default="v1.0.0"),
    "keep_runs": Field(integer_between(1, 10_000), default=7),
    "keep_staged_events": Field(boolean, default=False),
    "engine": Field(choice(*ENGINES), default="duckdb"),  # per-user stages: [spark]
}
FORMAT_FIELD = Field(choice(*FORMATS), default="auto")
EVENTS_FIELDS = {
    "path": Field(text, help="a file, a glob or a folder of event files"),
    "format": FORMAT_FIELD,
    **SOURCE_FIELDS,
    **DECIMAL_FIELDS,
    "default_event_type": Field(choice(*EVENT_TYPES), default="purchase"),
    "event_time_format": Field(optional_text, default=None),
}
VALIDATION_FIELDS = {
    "max_reject_ratio": Field(number_between(0, 1), default=0.05),
    "min_event_time": Field(date_value, default=dt.date(1970, 1, 1)),
}
FEATURES_FIELDS = {
    "session_gap_minutes": Field(integer_between(1, 24 * 60), default=30),
}
TOP_LEVEL = (
    "run",
    "source",
    "validation",
    "features",
    "scores",
    "survival",
    "rfm",
    "tiers",
    "playbooks",
    "exports",
    "spark",
)


@dataclass(frozen=True)
class RunSettings:
    warehouse: Path
    exports: Path
    as_of: dt.date | None  # None = the last day with events ("latest")
    time_unit: str
    timezone: str
    threads: int | None
    memory_limit: str | None
    storage_version: str
    keep_runs: int
    keep_staged_events: bool  # copy the run's staged events into the warehouse
    engine: str = "duckdb"  # "spark": the per-user stages run on [spark]

    @property
    def unit_days(self) -> int:
        return 7 if self.time_unit == "W" else 1


@dataclass(frozen=True)
class SourceSettings:
    """A source: `path` is absolute (it may be a glob or a folder), an object-store
    URL, or for format "postgres" a label naming the table or query."""

    path: str
    format: str
    columns: dict[str, str]
    section: str  # e.g. "[source.events]", for error messages
    storage_options: dict[str, Any] = field(default_factory=dict)  # fsspec, no secrets
    delimiter: str | None = None  # None: detected; "whitespace": runs of spaces and tabs
    quote: str | None = None  # None: detected; "": no quoting
    encoding: str = "utf-8"
    header: bool = True
    column_names: tuple[str, ...] | None = None  # replace the header's names (or column0...)
    decimal_separator: str = "."
    dsn: str | None = None  # postgres: the connection string (from dsn or dsn_env)
    table: str | None = None
    query: str | None = None


@dataclass(frozen=True)
class EventsSource(SourceSettings):
    default_event_type: str = "purchase"
    event_type_map: tuple[tuple[str, str], ...] = ()  # (lower-cased source value, canonical)
    event_time_format: str | None = None


@dataclass(frozen=True)
class Pipeline:
    path: Path
    run: RunSettings
    events: EventsSource
    contacts: SourceSettings | None
    costs: SourceSettings | None
    suppressions: SourceSettings | None
    max_reject_ratio: float
    min_event_time: dt.date
    session_gap_minutes: int
    scores: ScoreSettings
    playbooks: tuple[Playbook, ...]
    exports: ExportSettings
    spark: SparkSettings = SparkSettings()

    def with_overrides(
        self,
        as_of: dt.date | None = None,
        warehouse: Path | None = None,
        exports: Path | None = None,
    ) -> Pipeline:
        """Command-line options win over the file; overridden paths obey the same rules.

        A warehouse given without an exports folder gets its own, beside it
        (`<name>-exports/`): the files of another warehouse's runs must never
        replace the pipeline's live lists.
        """
        run = self.run
        if as_of is not None:
            run = replace(run, as_of=as_of)
        if warehouse is not None:
            run = replace(run, warehouse=warehouse.resolve())
            if exports is None:
                exports = run.warehouse.with_name(f"{run.warehouse.stem}-exports")
        if exports is not None:
            run = replace(run, exports=exports.resolve())
        overridden = replace(self, run=run)
        if warehouse is not None or exports is not None:
            check_output_paths("command line:", str(run.warehouse), str(run.exports), overridden)
        return overridden


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and validate a pipeline file; raise ConfigError naming the bad key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline file {path} does not exist")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return _parse_document(document, path)


def _parse_document(document: dict[str, Any], path: Path) -> Pipeline:
    name = str(path)
    top = check_table(document, {}, f"{name}:", nested=TOP_LEVEL)
    if "run" not in top:
        raise ConfigError(f"{name}: the [run] section is missing")
    base = path.resolve().parent
    run = check_table(top["run"], RUN_FIELDS, f"{name}: [run]")
    if "source" not in top:
        raise ConfigError(f"{name}: the [source] section is missing")
    sources = check_table(
        top["source"],
        {},
        f"{name}: [source]",
        nested=("events", "contacts", "costs", "suppressions"),
    )
    if "events" not in sources:
        raise ConfigError(f"{name}: the [source.events] section is missing")
    validation = check_table(top.get("validation", {}), VALIDATION_FIELDS, f"{name}: [validation]")
    features = check_table(top.get("features", {}), FEATURES_FIELDS, f"{name}: [features]")
    pipeline = Pipeline(
        path=path.resolve(),
        run=RunSettings(
            warehouse=base / run["warehouse"],
            exports=base / run["exports"],
            as_of=run["as_of"],
            time_unit=run["time_unit"],
            timezone=run["timezone"],
            threads=run["threads"],
            memory_limit=run["memory_limit"],
            storage_version=run["storage_version"],
            keep_runs=run["keep_runs"],
            keep_staged_events=run["keep_staged_events"],
            engine=run["engine"],
        ),
        events=_parse_events(sources["events"], name, base),
        contacts=_parse_contacts(sources.get("contacts"), name, base),
        costs=_parse_costs(sources.get("costs"), name, base),
        suppressions=_parse_suppressions(sources.get("suppressions"), name, base),
        max_reject_ratio=validation["max_reject_ratio"],
        min_event_time=validation["min_event_time"],
        session_gap_minutes=features["session_gap_minutes"],
        scores=parse_score_settings(top, name),
        playbooks=parse_playbooks(top.get("playbooks"), name),
        exports=parse_exports(top, name),
        spark=parse_spark(top, name, base),
    )
    check_output_paths(f"{name}: [run]", run["warehouse"], run["exports"], pipeline)
    return pipeline


def _parse_columns(table: Any, allowed: tuple[str, ...], required: tuple[str, ...], where: str):
    columns = check_open_table(table, list(allowed), text, where)
    for key in required:
        if key not in columns:
            raise ConfigError(f'{where} is missing the required key "{key}" (its source column)')
    return columns


def _parse_events(table: Any, name: str, base: Path) -> EventsSource:
    where = f"{name}: [source.events]"
    events = check_table(table, EVENTS_FIELDS, where, nested=(*NESTED, "event_types"))
    options = source_options(table, events, where, base, EVENTS_FIELDS["path"].help)
    if "columns" in events:
        columns = _parse_columns(
            events["columns"],
            EVENT_COLUMNS,
            REQUIRED_EVENT_COLUMNS,
            f"{name}: [source.events.columns]",
        )
    else:
        columns = {key: key for key in REQUIRED_EVENT_COLUMNS}
    event_types = check_open_table(
        events.get("event_types", {}),
        list(EVENT_TYPES),
        string_list,
        f"{name}: [source.events.event_types]",
    )
    return EventsSource(
        **options,
        format=events["format"],
        columns=columns,
        section="[source.events]",
        default_event_type=events["default_event_type"],
        event_type_map=_event_type_map(event_types, f"{name}: [source.events.event_types]"),
        event_time_format=events["event_time_format"],
    )


def _parse_contacts(table: Any, name: str, base: Path) -> SourceSettings | None:
    """Optional contacts: user_id, email, phone, consent flags and country per row."""
    return _parse_file_source(
        table,
        name,
        base,
        "contacts",
        "a file of user contacts",
        CONTACT_COLUMNS,
        CONTACT_COLUMNS,
        required=("user_id",),
    )


def _parse_costs(table: Any, name: str, base: Path) -> SourceSettings | None:
    """Optional acquisition spend: channel, day, spend (and product_id) per row."""
    return _parse_file_source(
        table,
        name,
        base,
        "costs",
        "a file of spend per channel and day",
        COST_COLUMNS,
        COST_COLUMNS[:3],
        required=(),
        numbers=True,
    )


def _parse_suppressions(table: Any, name: str, base: Path) -> SourceSettings | None:
    """Optional suppression list: address (email or phone), channel and reason per row."""
    return _parse_file_source(
        table,
        name,
        base,
        "suppressions",
        "a file of suppressed addresses (address, channel, reason)",
        SUPPRESSION_COLUMNS,
        SUPPRESSION_COLUMNS,
        required=("address",),
    )


def _parse_file_source(
    table: Any,
    name: str,
    base: Path,
    source: str,
    what: str,
    allowed: tuple[str, ...],
    defaults: tuple[str, ...],
    required: tuple[str, ...],
    numbers: bool = False,
) -> SourceSettings | None:
    """A [source.<source>] table: path (or a postgres table), format, the text and
    storage settings (`numbers`: also decimal_separator), and a column mapping
    (defaults: same names)."""
    if table is None:
        return None
    section = f"[source.{source}]"
    fields = {"path": Field(text, help=what), "format": FORMAT_FIELD, **SOURCE_FIELDS}
    if numbers:
        fields |= DECIMAL_FIELDS
    parsed = check_table(table, fields, f"{name}: {section}", nested=NESTED)
    options = source_options(table, parsed, f"{name}: {section}", base, what)
    columns = {key: key for key in defaults}
    if "columns" in parsed:
        columns = _parse_columns(
            parsed["columns"], allowed, required, f"{name}: [source.{source}.columns]"
        )
    return SourceSettings(**options, format=parsed["format"], columns=columns, section=section)


def _event_type_map(listed: dict[str, tuple[str, ...]], where: str) -> tuple[tuple[str, str], ...]:
    """(lower-cased source value, canonical type) pairs.

    Each canonical type maps its own name unless the file lists values for it;
    a listed type replaces its default, so `purchase = ["order"]` means only
    "order" is a purchase. Matching ignores case and surrounding spaces.
    """
    mapping = {t: (t,) for t in EVENT_TYPES}
    mapping.update(listed)
    pairs: dict[str, str] = {}
    for canonical, values in mapping.items():
        for value in values:
            key = value.strip().lower()
            if pairs.get(key, canonical) != canonical:
                raise ConfigError(
                    f'{where} "{value}" is mapped to both "{pairs[key]}" and "{canonical}"; '
                    "map each source value to one type"
                )
            pairs[key] = canonical
    return tuple(sorted(pairs.items()))
