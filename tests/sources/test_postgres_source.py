"""PostgreSQL sources against a throwaway server: a table of 1M events, a read-only
query, contacts, and the errors a user meets (bad query, missing table, no server)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import retention
from retention.errors import ConfigError, SourceError
from tests.conftest import ORDER_MAPPING, REPO, query

ROWS = 1_000_000
COPIES = 500  # exact copies of the first rows: duplicates
EVENTS_SQL = f"""
WITH base AS (
    SELECT
        i,
        'e' || i AS event_id,
        CASE WHEN i % 1000 = 999 THEN NULL ELSE 'u' || (i % 50000) END AS user_id,
        TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 15) AS event_time,
        CASE WHEN i % 4 = 0 THEN 'order' ELSE 'visit' END AS event_type,
        CASE WHEN i % 4 = 0 THEN CAST((i % 9000) / 100 + 1 AS DECIMAL(10, 2)) END AS amount,
        CASE WHEN i % 3 = 0 THEN 'app' ELSE 'shop' END AS product_id
    FROM range({ROWS - COPIES}) AS r(i)
)
SELECT * EXCLUDE (i) FROM base
UNION ALL
SELECT * EXCLUDE (i) FROM base WHERE i < {COPIES}
"""
PIPELINE = """
[run]
warehouse = "out/retention.duckdb"
exports = "out/exports"
as_of = "2024-06-30"

[source.events]
format = "postgres"
{source}
{mapping}
{extra}
"""


@pytest.fixture(scope="module")
def database(postgres_dsn):
    """The server with an `events` table of 1M rows and a small `contacts` table."""
    import adbc_driver_postgresql.dbapi as dbapi

    with duckdb.connect() as con:
        events = con.sql(EVENTS_SQL).to_arrow_table()
        contacts = con.sql(
            f"SELECT * FROM read_csv('{REPO / 'data' / 'sample' / 'contacts.csv'}', "
            "all_varchar = true) LIMIT 2000"
        ).to_arrow_table()
    with dbapi.connect(postgres_dsn) as connection:
        cursor = connection.cursor()
        for name, table in (("events", events), ("contacts", contacts)):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.adbc_ingest(name, table, mode="create")
        connection.commit()
    return postgres_dsn


def expected(sql: str) -> int:
    """A figure of the generated events, computed by DuckDB over the same rows."""
    with duckdb.connect() as con:
        return con.execute(f"WITH events AS ({EVENTS_SQL}) {sql}").fetchall()[0][0]


def write(folder: Path, source: str, extra: str = "") -> Path:
    path = folder / "p.toml"
    path.write_text(
        PIPELINE.format(source=source, mapping=ORDER_MAPPING, extra=extra), encoding="utf-8"
    )
    return path


@pytest.mark.slow
def test_a_table_of_a_million_events(database, tmp_path):
    result = retention.run(write(tmp_path, f'dsn = "{database}"\ntable = "events"\n'))
    counts = result.counts
    nulls = sum(1 for i in range(ROWS - COPIES) if i % 1000 == 999)
    assert counts.rows_read == ROWS
    assert counts.rows_rejected == nulls == 999
    assert counts.rows_duplicate == COPIES
    assert counts.rows_after_as_of == 0
    assert counts.rows_staged == ROWS - nulls - COPIES
    warehouse = tmp_path / "out" / "retention.duckdb"
    users = query(warehouse, "SELECT count(*) AS n FROM latest_tiers").n[0]
    assert users == expected(
        "SELECT count(DISTINCT (product_id, user_id)) FROM events WHERE user_id IS NOT NULL"
    )


def test_a_read_only_query_from_the_environment(database, tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTS_DSN", database)
    source = (
        'dsn_env = "EVENTS_DSN"\n'
        'query = """\n-- the shop\'s purchases only\nSELECT * FROM events\n'
        "WHERE product_id = 'shop' AND event_type = 'order'\n\"\"\"\n"
    )
    result = retention.run(write(tmp_path, source))
    assert result.counts.rows_read == expected(
        "SELECT count(*) FROM events WHERE product_id = 'shop' AND event_type = 'order'"
    )
    assert set(result.tiers) == {"shop"}


def test_contacts_from_postgres(database, tmp_path):
    extra = f'[source.contacts]\nformat = "postgres"\ndsn = "{database}"\ntable = "contacts"\n'
    retention.run(write(tmp_path, f'dsn = "{database}"\ntable = "events"\n', extra))
    warehouse = tmp_path / "out" / "retention.duckdb"
    assert query(warehouse, "SELECT count(*) AS n FROM contacts").n[0] > 1000


@pytest.mark.parametrize(
    "statement", ["DELETE FROM events", "DROP TABLE events", "SELECT 1; DELETE FROM events"]
)
def test_only_select_or_with_is_accepted(tmp_path, statement):
    with pytest.raises(ConfigError) as error:
        retention.load_pipeline(write(tmp_path, f'dsn = "x"\nquery = "{statement}"\n'))
    assert "[source.events] query = " in str(error.value)
    assert "expected" in str(error.value) and "SELECT" in str(error.value)


def test_a_data_modifying_with_is_stopped_by_the_server(database, tmp_path):
    import adbc_driver_postgresql.dbapi as dbapi

    source = (
        f'dsn = "{database}"\n'
        'query = "WITH gone AS (DELETE FROM contacts RETURNING *) SELECT * FROM gone"\n'
    )
    with pytest.raises(SourceError) as error:
        retention.run(write(tmp_path, source))
    assert str(error.value).startswith("[source.events] query: ")
    assert "read-only transaction" in str(error.value)
    with dbapi.connect(database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts")
        assert cursor.fetchone()[0] == 2000


def test_a_missing_table_names_it(database, tmp_path):
    with pytest.raises(SourceError) as error:
        retention.run(write(tmp_path, f'dsn = "{database}"\ntable = "Analytics.Nope"\n'))
    assert str(error.value) == (
        '[source.events] table = "Analytics.Nope": relation "analytics.nope" does not exist'
    )


def test_no_server_is_one_sentence_without_the_password(tmp_path):
    from tests.sources.conftest import free_port

    dsn = f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/db"
    with pytest.raises(SourceError) as error:
        retention.run(write(tmp_path, f'dsn = "{dsn}"\ntable = "events"\n'))
    message = str(error.value)
    assert message.startswith("[source.events] dsn: cannot connect to PostgreSQL: ")
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('table = "events"\n', "needs exactly one of dsn"),
        ('dsn = "x"\ndsn_env = "Y"\ntable = "events"\n', "needs exactly one of dsn"),
        ('dsn = "x"\n', "needs exactly one of table"),
        ('dsn = "x"\ntable = "events"\nquery = "SELECT 1"\n', "needs exactly one of table"),
        ('dsn = "x"\ntable = "events"\npath = "e.csv"\n', "path: a source with format"),
        ('dsn = "x"\ntable = "events"\ndelimiter = ";"\n', "delimiter: a source with format"),
        ('dsn_env = "RETENTION_UNSET_DSN"\ntable = "events"\n', "the environment variable is"),
        ('dsn = "x"\ntable = "events; drop"\n', 'table = "events; drop": expected a table'),
    ],
)
def test_postgres_keys_are_checked(tmp_path, monkeypatch, source, message):
    monkeypatch.delenv("RETENTION_UNSET_DSN", raising=False)
    with pytest.raises(ConfigError) as error:
        retention.load_pipeline(write(tmp_path, source))
    assert message in str(error.value)
