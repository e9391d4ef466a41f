"""The suppression list -> the temp table `suppression_list` of the contacts stage.

`[source.suppressions]` is the global list a campaign tool exports
(unsubscribes, bounces, complaints): columns `address` (an email or a phone),
optional `channel` (email, sms, call or all) and optional `reason`. It is
sacred: an entry that cannot be read in full is applied as widely as it can
be, never dropped.

- Emails match case-insensitively after the same normalisation as contacts
  (IDNA domains, Unicode NFC); an entry that is not a valid address still
  matches its lower-cased text.
- Phones match in E.164. A number written without a country code is read in
  every country the contacts file uses, so "07400 123456" on the list stops
  the contact "+44 7400 123456".
- The channel only narrows an entry within its kind of address: a phone
  listed for `sms` may still be called, one listed for `call` may still get
  SMS. A missing or unknown channel means every channel of that address.
"""

from __future__ import annotations

import logging

import duckdb
import pyarrow as pa

from retention.config.pipeline_file import SourceSettings
from retention.sources.csv_lines import read_csv_files, split_fields
from retention.sources.files import (
    check_mapped_columns,
    detect_format,
    open_source,
    resolve_files,
)
from retention.stages.contacts.validation import check_email, phone_e164
from retention.warehouse.sql_files import quote_identifier, register_arrow

log = logging.getLogger(__name__)

SUPPRESSION_COLUMNS = ("address", "channel", "reason")
CHANNELS = {"email": ("email",), "phone": ("sms", "call")}
SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("address_kind", "address", "channel", "list_reason")]
)


def load_suppressions(con: duckdb.DuckDBPyConnection, source: SourceSettings | None) -> int:
    """Fill `suppression_list` (empty without a source); returns the entries read."""
    if source is None:
        register_arrow(con, "suppression_list", SCHEMA.empty_table())
        return 0
    entries = _read_entries(con, source)
    regions = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT country FROM contact_rows WHERE country IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    rows: list[tuple[str, str, str, str | None]] = []
    unknown_channels = 0
    for address, channel, reason in entries:
        if not address or not address.strip():
            continue
        kind, keys = _address_keys(address, regions)
        wanted = (channel or "").strip().lower()
        if wanted and wanted not in ("all", "email", "sms", "call"):
            unknown_channels += 1
        channels = (wanted,) if wanted in CHANNELS[kind] else CHANNELS[kind]
        rows += [(kind, key, medium, reason) for key in keys for medium in channels]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SCHEMA.names)
    table = pa.table(
        {
            name: pa.array(values, pa.string())
            for name, values in zip(SCHEMA.names, columns, strict=True)
        }
    )
    register_arrow(con, "suppression_list", table)
    log.info(
        "  suppression list: %d entries, %d address and channel pairs",
        len(entries),
        len(set(rows)),
    )
    if unknown_channels:
        log.warning(
            "%s path %s: %d entries name a channel other than email, sms, call or all; "
            "they suppress every channel of their address",
            source.section,
            source.path,
            unknown_channels,
        )
    return len(entries)


def _address_keys(address: str, regions: list[str]) -> tuple[str, set[str]]:
    """('email', keys) or ('phone', E.164 numbers) an entry stands for."""
    text = address.strip()
    if "@" in text:
        normalized, _ = check_email(text)
        keys = {text.lower()} | ({normalized.lower()} if normalized else set())
        return "email", keys
    numbers = {phone_e164(text, region) for region in (None, *regions)}
    numbers.discard(None)
    return "phone", numbers or {text}


def _read_entries(
    con: duckdb.DuckDBPyConnection, source: SourceSettings
) -> list[tuple[str | None, str | None, str | None]]:
    """(address, channel, reason) per row; a malformed CSV line gives each of its fields."""
    files, _ = resolve_files(source)
    columns = {name: source.columns.get(name) for name in SUPPRESSION_COLUMNS}
    if detect_format(source, files) == "csv":
        read = read_csv_files(files, source)
        check_mapped_columns(source, read.columns, files, only=("address",))
        table = read.table.to_pydict()
        entries = []
        for i, problem in enumerate(table["malformed_reason"]):
            if problem is None:
                entries.append(
                    tuple(table[col][i] if col in table else None for col in columns.values())
                )
            else:  # fail closed: every field of a broken line may be the address
                text = table["source_text"][i]
                entries += [(field, None, problem) for field in split_fields(text, read.delimiter)]
        return entries
    opened = open_source(con, source, "src_suppressions")
    selected = ", ".join(
        f"CAST({quote_identifier(col)} AS VARCHAR)" if col in opened.column_types else "NULL"
        for col in columns.values()
    )
    rows = con.execute(f"SELECT {selected} FROM src_suppressions").fetchall()
    con.execute("DROP VIEW IF EXISTS src_suppressions; DROP TABLE IF EXISTS src_suppressions")
    return rows
