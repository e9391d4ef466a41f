"""A PostgreSQL table or read-only query as a source (`format = "postgres"`).

Rows are streamed as Arrow record batches (the ADBC driver reads the
server's binary COPY output straight into Arrow) and DuckDB consumes the
stream batch by batch into the run's temp table, so a table of tens of
millions of events never sits in memory as Python objects or one pandas
frame. The session is read-only on the server (every transaction of it is
READ ONLY), so even a query that slipped past the SELECT/WITH check (a
data-modifying WITH, a SELECT INTO) cannot change the database; give the
engine a read-only role all the same.

Types travel as the server has them: timestamps, dates and numbers keep
their types (staging skips text parsing for them), NUMERIC arrives as text
(exact, parsed by staging), everything else as text. The connection string
is never written into messages or the warehouse; `source_file` names the
table, or says "postgres query".
"""

from __future__ import annotations

import re

import duckdb

from retention.config.pipeline_file import SourceSettings
from retention.errors import SourceError
from retention.warehouse.sql_files import quote_literal

BATCH_NAME = "src_postgres_batches"


def open_postgres(con: duckdb.DuckDBPyConnection, source: SourceSettings, name: str) -> None:
    """Create the temp table `name` from the source's table or query (plus `source_file`)."""
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise SourceError(
            f'{source.section} format = "postgres": the driver is missing; '
            "pip install adbc-driver-postgresql"
        ) from None
    try:
        connection = dbapi.connect(source.dsn, autocommit=True)
    except Exception as exc:  # the driver's own errors: host, port, role, password
        raise SourceError(
            f"{source.section} dsn: cannot connect to PostgreSQL: {_reason(exc)}; "
            "check the connection string and that the server is up"
        ) from None
    try:
        cursor = connection.cursor()
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        try:
            cursor.execute(select_sql(source))
            batches = cursor.fetch_record_batch()
        except Exception as exc:
            raise SourceError(f"{source.section} {_what(source)}: {_reason(exc)}") from None
        con.register(BATCH_NAME, batches)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT *, "
                f"{quote_literal(source.path)} AS source_file FROM {BATCH_NAME}"
            )
        except duckdb.Error as exc:
            raise SourceError(f"{source.section} {_what(source)}: {_reason(exc)}") from None
        finally:
            con.unregister(BATCH_NAME)
    finally:
        connection.close()


def select_sql(source: SourceSettings) -> str:
    """The statement sent to the server: the read-only query, or every column of the table."""
    if source.query is not None:
        return source.query
    parts = re.findall(r'"(?:[^"]|"")+"|[^.]+', source.table or "")
    # unquoted parts fold to lower case, as the server folds them in any query
    return "SELECT * FROM " + ".".join(p if p.startswith('"') else f'"{p.lower()}"' for p in parts)


def _what(source: SourceSettings) -> str:
    return f'table = "{source.table}"' if source.table else "query"


def _reason(exc: Exception) -> str:
    """The server's sentence ("relation "x" does not exist"), without the driver's prefixes."""
    text = str(exc)
    found = re.search(r"(?:ERROR|FATAL):\s+(.*)", text)
    if found:
        return found.group(1).strip()
    text = re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", text.strip())
    return text.splitlines()[0].strip() if text else type(exc).__name__
