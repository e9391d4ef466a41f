"""Campaign tools' files: one file per profile and channel, one row per person.

The generic files follow the engine's own grain (a row per product, user and
playbook). A tool keys its audience on one identity (an address or an
external id) and refuses duplicates, so here everyone the run sends on a
channel is first merged per person (sql/exports/profile_rows.sql), then
written in the tool's headers, list syntax, encoding, line endings and size
cap (see `config/export_profiles.toml` for each tool's documented rules).
Rows the tool would refuse are left out and listed, with their reason, in
the manifest.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb

from retention.config.export_profiles import (
    LINE_ENDINGS,
    LIST_SEPARATORS,
    NUMBER_FIELDS,
    ChannelFile,
    Profile,
)
from retention.stages.exports.writers import (
    FORMULA_CHARACTERS,
    FileLayout,
    rows_of,
    write_csv_parts,
    write_xlsx_parts,
)
from retention.warehouse.sql_files import quote_identifier, run_sql

log = logging.getLogger(__name__)
LIST_FIELDS = ("user_ids", "products", "playbooks", "tiers", "tags")
FORMULA_START = "^[" + "".join(FORMULA_CHARACTERS).replace("-", r"\-") + "]"


def write_profile(
    con: duckdb.DuckDBPyConnection, profile: Profile, folder: Path, as_of: dt.date
) -> tuple[list[dict], dict]:
    """Write `profile`'s files under `folder/<profile name>/`.

    Returns the manifest entries of the files (paths relative to `folder`)
    and the profile's summary: rows, people merged and refusals per channel.
    """
    target = folder / profile.name
    target.mkdir(mode=0o700)
    entries, channels = [], {}
    for channel_file in profile.files:
        refused = _person_rows(con, profile, channel_file)
        con.execute(  # the people a file of this profile names: the run's sends
            "INSERT INTO written_people SELECT DISTINCT unnest(user_ids), channel "
            "FROM profile_rows WHERE refused_reason IS NULL"
        )
        split_items = _items_with_separator(con, profile, channel_file)
        parts = _write_parts(con, profile, channel_file, target / channel_file.channel, as_of)
        for number, (path, rows, merged) in enumerate(parts):
            entries.append(
                {
                    "file": str(path.relative_to(folder)),
                    "profile": profile.name,
                    "tool": profile.tool,
                    "channel": channel_file.channel,
                    "key": channel_file.key,
                    "rows": rows,
                    "people_merged": merged,
                    "refused": refused if number == 0 else [],
                }
            )
        reasons: dict[str, int] = {}
        for entry in refused:
            reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
        channels[channel_file.channel] = {
            "rows": sum(rows for _, rows, _ in parts),
            "people_merged": sum(merged for _, _, merged in parts),
            "refused_by_reason": reasons,
            "list_items_with_separator": split_items,
            "refused": refused,  # here too: a channel whose rows were all refused has no file
        }
        con.execute("DROP TABLE profile_rows")
    if not entries:
        target.rmdir()
    summary = {
        "tool": profile.tool,
        "docs": profile.docs,
        "import_steps": profile.import_steps,
        "channels": channels,
    }
    return entries, summary


def _person_rows(con, profile: Profile, channel_file: ChannelFile) -> list[dict]:
    """Build the temp table profile_rows for one channel; returns the refused people."""
    key_is_user_id = any(
        c.header == channel_file.key and c.field == "user_id" for c in channel_file.columns
    )
    run_sql(
        con,
        "exports/profile_rows.sql",
        {
            "channel": channel_file.channel,
            "merge": profile.merge,
            "ascii_local_part": profile.refuse_non_ascii_local,
            "user_id_is_key": key_is_user_id,
            "formula_start": FORMULA_START,
        },
        prefix="CREATE OR REPLACE TEMP TABLE profile_rows AS",
    )
    refused = con.execute(
        "SELECT address, user_ids, refused_reason FROM profile_rows "
        "WHERE refused_reason IS NOT NULL ORDER BY refused_reason, address"
    ).fetchall()
    return [{"address": a, "user_ids": ids, "reason": reason} for a, ids, reason in refused]


def _items_with_separator(con, profile: Profile, channel_file: ChannelFile) -> list[str]:
    """The distinct list items of this file that hold the profile's list separator
    (written with a space in its place, see _cell_sql), with a warning naming them."""
    separator = LIST_SEPARATORS[profile.lists]
    fields = sorted({c.field for c in channel_file.columns if c.field in LIST_FIELDS})
    if separator is None or not fields:
        return []
    lists = " UNION ALL ".join(
        f"SELECT unnest({field}) AS item FROM profile_rows WHERE refused_reason IS NULL"
        for field in fields
    )
    query = f"SELECT DISTINCT item FROM ({lists}) WHERE contains(item, $separator) ORDER BY 1"
    items = [row[0] for row in con.execute(query, {"separator": separator}).fetchall()]
    if items:
        log.warning(
            "  exports %s %s: %d list items hold the list separator %r, written with a "
            "space in its place so the tool reads one item each: %s",
            profile.name, channel_file.channel, len(items), separator, ", ".join(items[:5]),
        )  # fmt: skip
    return items


def _write_parts(con, profile: Profile, channel_file: ChannelFile, stem: Path, as_of: dt.date):
    cells, params, exempt = [], {}, set()
    for position, column in enumerate(channel_file.columns):
        if column.field is None:
            params[f"text_{position}"] = column.text
            cells.append(f"$text_{position}")
            continue
        cells.append(_cell_sql(column.field, profile.lists))
        if column.field == "as_of":
            params["as_of"] = str(as_of)
        if column.field in NUMBER_FIELDS or (
            column.field in ("address", "phone") and channel_file.channel != "email"
        ):
            exempt.add(position)  # numbers and E.164 phones are never formulas
    order = "clv DESC NULLS LAST, address" if profile.sort == "clv" else "address"
    query = (
        f"SELECT {', '.join(cells)}, source_rows - 1 FROM profile_rows "
        f"WHERE refused_reason IS NULL ORDER BY {order}"
    )
    layout = FileLayout(
        headers=tuple(c.header for c in channel_file.columns),
        exempt=frozenset(exempt),
        encoding=profile.encoding,
        line_ending=LINE_ENDINGS[profile.line_ending],
        delimiter=profile.delimiter,
        max_bytes=int(profile.max_file_mb * 1_000_000) if profile.max_file_mb else None,
        max_rows=profile.max_rows,
    )
    rows = rows_of(con, query, params)
    if profile.format == "xlsx":
        return write_xlsx_parts(rows, layout, stem, sheet=channel_file.channel)
    return write_csv_parts(rows, layout, stem)


def _cell_sql(field: str, lists: str) -> str:
    """The SQL for one cell; lists in the profile's syntax, numbers rounded for people."""
    if field in LIST_FIELDS:
        separator = LIST_SEPARATORS[lists]
        if separator is None:
            return f"to_json({field})::varchar"
        # an item holding the separator would be read as two (a product "shop,eu" as the
        # tags "shop" and "eu"): there it is written as a space
        items = f"list_transform({field}, lambda item: replace(item, '{separator}', ' '))"
        return f"array_to_string({items}, '{separator}')"
    if field == "email":
        return "CASE WHEN channel = 'email' THEN address END"
    if field == "phone":
        return "CASE WHEN channel <> 'email' THEN address END"
    if field == "clv":
        return "round(clv, 2)"
    if field == "p_alive":
        return "round(p_alive, 4)"
    if field == "as_of":
        return "$as_of"
    return quote_identifier(field)
