"""The contacts source -> `contacts`, `contact_suppressions` and `contact_rejects`.

Consent fails closed. Python reads the source so that nothing in it is lost
(CSV and JSON through line-tolerant readers: a broken line comes back with its text,
and every field of it is treated as a possible user id, email and phone to
suppress), checks each distinct email and phone once with the libraries that
know the rules, and hands everything to DuckDB as Arrow tables. The SQL in
`sql/contacts/` reads consent, resolves one contact per user, and lists every
address the run must not contact, with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from retention.config.pipeline_file import CONTACT_COLUMNS, SourceSettings
from retention.sources.csv_lines import CsvRead, read_csv_files, split_fields
from retention.sources.files import (
    check_mapped_columns,
    detect_format,
    open_source,
    resolve_files,
)
from retention.sources.json_lines import json_fields, read_json_files
from retention.stages.contacts.suppressions import load_suppressions
from retention.stages.contacts.validation import check_emails, check_phones
from retention.warehouse.sql_files import (
    literal_path,
    quote_identifier,
    register_arrow,
    run_sql,
)

log = logging.getLogger(__name__)

RAW = "src_contacts_raw"
TEMP_TABLES = (
    "contact_rows",
    "email_checks",
    "phone_checks",
    "checked_contact_rows",
    "address_consent",
    "suppression_list",
    "src_contacts",
    "src_contact_lines",
)
LINE_COLUMNS = ("file_index", "file_row", "source_file", "malformed_reason", "source_text")


@dataclass(frozen=True)
class ContactCounts:
    """What one load found. Email and phone figures count resolved users, one
    address each; unparsed_consent_values counts source values."""

    rows_read: int
    malformed_rows: int
    rows_without_user_id: int
    users: int
    valid_emails: int
    invalid_emails: int
    valid_phones: int
    invalid_phones: int
    not_mobile_phones: int
    unparsed_consent_values: int
    shared_opt_out_addresses: int
    suppressed_list_addresses: int


def load_contacts(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    run_id: int,
    allow_non_ascii_local: bool = True,
    suppressions: SourceSettings | None = None,
) -> ContactCounts:
    """Writes this run's rows of `contacts`, `contact_suppressions` and `contact_rejects`.

    Replaces rows the run already has, so a retried stage does not double
    them; the caller decides when the transaction commits. Set
    allow_non_ascii_local=False when the email tool rejects addresses such as
    jürgen@web.de (they become invalid with email_problem
    "non_ascii_local_part").
    """
    run_sql(con, "warehouse/contacts_schema.sql", {})
    _open_contacts(con, source)
    params = {"run_id": run_id}
    run_sql(con, "contacts/contact_rows.sql", params, prefix=_temp_table("contact_rows"))
    _check_values(con, allow_non_ascii_local)
    for name in ("checked_contact_rows", "address_consent"):
        run_sql(con, f"contacts/{name}.sql", params, prefix=_temp_table(name))
    load_suppressions(con, suppressions)
    for table in ("contacts", "contact_suppressions", "contact_rejects"):
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", params)
        run_sql(con, f"contacts/{table}.sql", params, prefix=f"INSERT INTO {table} BY NAME")
    counts = _counts(con, source, run_id)
    _drop_temp_tables(con)
    return counts


def _counts(con: duckdb.DuckDBPyConnection, source: SourceSettings, run_id: int) -> ContactCounts:
    result = run_sql(con, "contacts/contact_counts.sql", {"run_id": run_id})
    names = [column[0] for column in result.description]
    counts = ContactCounts(**dict(zip(names, result.fetchall()[0], strict=True)))
    if counts.malformed_rows:
        log.warning(
            "%s path %s: %d lines could not be read; every address they name is suppressed "
            "(see contact_rejects)",
            source.section,
            source.path,
            counts.malformed_rows,
        )
    return counts


def _open_contacts(con: duckdb.DuckDBPyConnection, source: SourceSettings) -> None:
    """Create `src_contacts` (file_index, file_row, is_malformed and the contract
    columns as text) and `src_contact_lines` (the lines, with malformed ones' text).

    Which of a user's rows is the newest depends on file order, so the order
    is made explicit: the line number in CSV, the row number in Parquet and
    JSON.
    """
    files, _ = resolve_files(source)
    fmt = detect_format(source, files)
    if fmt == "csv":
        read = read_csv_files(files, source)
        _open_lines(con, source, files, read, lambda text: split_fields(text, read.delimiter))
    elif fmt == "json":
        _open_lines(con, source, files, read_json_files(files, source), json_fields)
    else:
        _open_typed(con, source)


def _open_lines(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    files: list[str],
    read: CsvRead,
    split: Callable[[str], list[str]],
) -> None:
    """The line-tolerant read (CSV or JSON) as src_contacts and src_contact_lines; `split`
    gives the possible values of a malformed line."""
    check_mapped_columns(source, read.columns, files)
    table = read.table
    names = [name for name in CONTACT_COLUMNS if name in source.columns]
    lines = table.select(["file_index", "file_row", "malformed_reason", "source_text"])
    lines = lines.append_column(
        "source_file", pa.array([files[i] for i in lines["file_index"].to_pylist()], pa.string())
    )
    register_arrow(con, "src_contact_lines", lines)
    well_formed = {
        "file_index": table["file_index"],
        "file_row": table["file_row"],
        "is_malformed": pa.compute.is_valid(table["malformed_reason"]),
        **{name: table[source.columns[name]] for name in names},
    }
    register_arrow(con, "src_contacts_read", pa.table(well_formed))
    register_arrow(con, "src_contacts_malformed", _malformed_fields(table, split))
    contract = ", ".join(
        name if name in names else f"CAST(NULL AS VARCHAR) AS {name}" for name in CONTACT_COLUMNS
    )
    field_as_all = ", ".join(
        "field AS " + name if name in ("user_id", "email", "phone") else f"NULL AS {name}"
        for name in CONTACT_COLUMNS
    )
    con.execute(
        f"{_temp_table('src_contacts')} SELECT file_index, file_row, is_malformed, {contract} "
        "FROM src_contacts_read WHERE NOT is_malformed "
        f"UNION ALL SELECT file_index, file_row, true, {field_as_all} FROM src_contacts_malformed"
    )
    con.execute("DROP TABLE src_contacts_read; DROP TABLE src_contacts_malformed")


def _malformed_fields(table: pa.Table, split: Callable[[str], list[str]]) -> pa.Table:
    """One row per distinct non-empty field of each malformed line."""
    indexes, rows, fields = [], [], []
    texts = table["source_text"].to_pylist()
    for position, reason in enumerate(table["malformed_reason"].to_pylist()):
        if reason is None:
            continue
        for field in sorted(set(split(texts[position]))):
            indexes.append(table["file_index"][position].as_py())
            rows.append(table["file_row"][position].as_py())
            fields.append(field)
    return pa.table(
        {
            "file_index": pa.array(indexes, pa.int32()),
            "file_row": pa.array(rows, pa.int64()),
            "field": pa.array(fields, pa.string()),
        }
    )


def _open_typed(con: duckdb.DuckDBPyConnection, source: SourceSettings) -> None:
    """Parquet (typed, with no broken lines) or a database table, read by DuckDB in order."""
    preserved = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true")
    try:
        opened = open_source(con, source, RAW)
    finally:
        if not preserved:
            con.execute("SET preserve_insertion_order = false")
    columns = ", ".join(
        f"CAST({quote_identifier(source.columns[name])} AS VARCHAR) AS {name}"
        if name in source.columns
        else f"CAST(NULL AS VARCHAR) AS {name}"
        for name in CONTACT_COLUMNS
    )
    params: dict[str, object] = {}
    if opened.format == "parquet":
        hive = "true" if opened.hive else "false"
        relation = (
            f"read_parquet($patterns, filename = 'source_file', hive_partitioning = {hive}, "
            "union_by_name = true, file_row_number = true)"
        )
        order = "CAST(list_position($files, source_file) AS INTEGER) - 1 AS file_index, "
        order += "file_row_number + 1 AS file_row"
        params["files"] = opened.files  # the names the reader gives source_file
        params["patterns"] = [literal_path(name) for name in opened.files]
    else:
        relation, order = RAW, "0 AS file_index, rowid + 1 AS file_row"
    con.execute(
        f"{_temp_table('src_contacts')} SELECT {order}, false AS is_malformed, {columns} "
        f"FROM {relation}",
        params,
    )
    con.execute(f"DROP {'VIEW' if opened.format == 'parquet' else 'TABLE'} {RAW}")
    con.execute(
        f"{_temp_table('src_contact_lines')} SELECT file_index, file_row, "
        "CAST(NULL AS VARCHAR) AS source_file, CAST(NULL AS VARCHAR) AS malformed_reason, "
        "CAST(NULL AS VARCHAR) AS source_text FROM src_contacts"
    )


def _check_values(con: duckdb.DuckDBPyConnection, allow_non_ascii_local: bool) -> None:
    """Fill `email_checks` and `phone_checks` from the distinct values of contact_rows."""

    def distinct(name: str) -> pa.Table:  # as Arrow columns: no Python object per value
        run_sql(con, f"contacts/{name}.sql", {}, prefix=_temp_table(name))
        values = con.table(name).to_arrow_table()
        con.execute(f"DROP TABLE {name}")
        return values

    started = time.perf_counter()
    emails = distinct("email_values")["email_text"]
    register_arrow(con, "email_checks", check_emails(emails, allow_non_ascii_local))
    phones = distinct("phone_values")
    register_arrow(con, "phone_checks", check_phones(phones))
    log.debug(
        "contacts: checked %d distinct emails and %d distinct phones in %.1f s",
        len(emails),
        len(phones),
        time.perf_counter() - started,
    )


def _temp_table(name: str) -> str:
    return f"CREATE OR REPLACE TEMP TABLE {name} AS"


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")
