"""The contacts source -> `contacts`: one resolved, checked contact per user.

Python opens the source, keeps its file order, and checks each distinct email
and phone once with the libraries that know the rules (contact_validation);
the verdicts go back to DuckDB as Arrow tables. Everything else is SQL in
`sql/contacts/`: consent parsing, choosing among a user's rows, and
suppressing addresses that users share when one of them opted out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from retention.config.pipeline_file import CONTACT_COLUMNS, SourceSettings
from retention.sources.files import CSV_REJECTS, OpenedSource, open_source
from retention.stages.contacts.validation import check_emails, check_phones
from retention.warehouse.sql_files import quote_identifier, run_sql

log = logging.getLogger(__name__)

RAW = "src_contacts_raw"
TEMP_TABLES = (
    "contact_rows",
    "email_checks",
    "phone_checks",
    "checked_contact_rows",
    "shared_opt_out_addresses",
)


@dataclass(frozen=True)
class ContactCounts:
    """What one load found. Email and phone figures count resolved users, one
    address each; unparsed_consent_values counts source values."""

    rows_read: int
    users: int
    valid_emails: int
    invalid_emails: int
    valid_phones: int
    invalid_phones: int
    unparsed_consent_values: int
    shared_opt_out_addresses: int


def load_contacts(
    con: duckdb.DuckDBPyConnection,
    source: SourceSettings,
    run_id: int,
    allow_non_ascii_local: bool = True,
) -> ContactCounts:
    """Writes this run's rows of `contacts`.

    Replaces rows the run already has, so a retried stage does not double
    them; the caller decides when the transaction commits. Set
    allow_non_ascii_local=False when the email tool rejects addresses such as
    jürgen@web.de (they become invalid with email_problem
    "non_ascii_local_part").
    """
    run_sql(con, "warehouse/contacts_schema.sql", {})
    _open_in_file_order(con, source)
    params = {"run_id": run_id}
    run_sql(con, "contacts/contact_rows.sql", params, prefix=_temp_table("contact_rows"))
    _check_values(con, allow_non_ascii_local)
    for name in ("checked_contact_rows", "shared_opt_out_addresses"):
        run_sql(con, f"contacts/{name}.sql", params, prefix=_temp_table(name))
    con.execute("DELETE FROM contacts WHERE run_id = $run_id", params)
    run_sql(con, "contacts/contacts.sql", params, prefix="INSERT INTO contacts BY NAME")
    counts = _counts(con, source, run_id)
    _drop_temp_tables(con)
    return counts


def _counts(con: duckdb.DuckDBPyConnection, source: SourceSettings, run_id: int) -> ContactCounts:
    result = run_sql(con, "contacts/contact_counts.sql", {"run_id": run_id})
    names = [column[0] for column in result.description]
    row = dict(zip(names, result.fetchall()[0], strict=True))
    skipped = row.pop("rows_without_user_id")
    if skipped:
        log.warning(
            "%s path %s: %d rows without a user_id were not loaded",
            source.section,
            source.path,
            skipped,
        )
    return ContactCounts(**row)


def _open_in_file_order(con: duckdb.DuckDBPyConnection, source: SourceSettings) -> None:
    """Create `src_contacts`: contract columns as text plus (file_index, file_row).

    Which of a user's rows is the newest depends on file order, so the order
    is made explicit. CSV and JSON are copied into a temp table by
    open_source; with insertion order preserved while it reads, the table's
    rowid is the row's place in the files. Parquet is read again with its
    own file_row_number, after open_source has checked the files and columns.
    """
    preserved = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true")
    try:
        opened = open_source(con, source, RAW)
    finally:
        if not preserved:
            con.execute("SET preserve_insertion_order = false")
    _drop_csv_rejects(con, opened, source)
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
            f"read_parquet($files, filename = 'source_file', hive_partitioning = {hive}, "
            "union_by_name = true, file_row_number = true)"
        )
        order = "CAST(list_position($files, source_file) AS INTEGER) AS file_index, "
        order += "file_row_number AS file_row"
        params["files"] = opened.files
    else:
        relation, order = RAW, "0 AS file_index, rowid AS file_row"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE src_contacts AS SELECT {order}, {columns} FROM {relation}",
        params,
    )
    con.execute(f"DROP {'VIEW' if opened.format == 'parquet' else 'TABLE'} {RAW}")


def _drop_csv_rejects(
    con: duckdb.DuckDBPyConnection, opened: OpenedSource, source: SourceSettings
) -> None:
    """Count and drop DuckDB's reject tables, which events staging would otherwise read."""
    if opened.format != "csv":
        return
    errors, scans = CSV_REJECTS
    lines = f"SELECT count(DISTINCT (scan_id, file_id, line)) FROM {errors}"  # errors, not lines
    malformed = con.execute(lines).fetchall()[0][0]
    if malformed:
        log.warning(
            "%s path %s: %d malformed CSV lines skipped (wrong number of fields or bad quoting)",
            source.section,
            source.path,
            malformed,
        )
    con.execute(f"DROP TABLE IF EXISTS {errors}; DROP TABLE IF EXISTS {scans}")


def _check_values(con: duckdb.DuckDBPyConnection, allow_non_ascii_local: bool) -> None:
    """Fill `email_checks` and `phone_checks` from the distinct values of contact_rows."""
    started = time.perf_counter()
    emails = [row[0] for row in run_sql(con, "contacts/email_values.sql", {}).fetchall()]
    _register_table(con, "email_checks", check_emails(emails, allow_non_ascii_local))
    phones = run_sql(con, "contacts/phone_values.sql", {}).fetchall()
    _register_table(con, "phone_checks", check_phones(phones))
    log.info(
        "contacts: checked %d distinct emails and %d distinct phones in %.1f s",
        len(emails),
        len(phones),
        time.perf_counter() - started,
    )


def _register_table(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Copy an Arrow table into a temp table: joins then run inside DuckDB."""
    frame = f"{name}_frame"
    con.register(frame, table)
    try:
        con.execute(f"{_temp_table(name)} SELECT * FROM {frame}")
    finally:
        con.unregister(frame)


def _temp_table(name: str) -> str:
    return f"CREATE OR REPLACE TEMP TABLE {name} AS"


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name in (*TEMP_TABLES, "src_contacts"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
