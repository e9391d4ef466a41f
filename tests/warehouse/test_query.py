"""`retention sql`: read-only queries in four formats; writes, attaches and
file reads are refused with one sentence."""

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from retention.cli import main
from tests.conftest import FIXTURES


@pytest.fixture
def warehouse(run):
    _, path = run(FIXTURES / "events_tiny.csv")
    return path


def sql(*args):
    return CliRunner().invoke(main, ["sql", *map(str, args)])


def test_table_csv_json_and_parquet(warehouse, tmp_path):
    query = "SELECT product_id, user_id, events_total FROM latest_features ORDER BY ALL"
    table = sql(warehouse, query)
    assert table.exit_code == 0 and "0042" in table.stdout and "events_total" in table.stdout
    csv = sql(warehouse, query, "--format", "csv")
    assert csv.stdout.splitlines() == [
        '"product_id","user_id","events_total"',
        '"app","007",1',
        '"shop","0042",2',
        '"shop","007",8',
    ]
    rows = json.loads(sql(warehouse, query, "--format", "json").stdout)
    assert rows[1] == {"product_id": "shop", "user_id": "0042", "events_total": 2}
    out = tmp_path / "features.parquet"
    assert sql(warehouse, query, "--format", "parquet", "--out", out).exit_code == 0
    assert pq.read_table(out).num_rows == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "DELETE FROM runs",
            "only statements that read are allowed (SELECT, WITH, DESCRIBE, "
            "SHOW, EXPLAIN); this one is DELETE",
        ),
        ("CREATE TABLE x AS SELECT 1", "this one is CREATE"),
        ("ATTACH 'other.duckdb' AS other", "this one is ATTACH"),
        ("COPY runs TO 'runs.csv'", "this one is COPY"),
        ("SET enable_external_access = true", "this one is SET"),
        ("SELECT 1; DROP TABLE runs", "give one statement, not 2"),
        ("SELECT * FROM read_csv('/etc/passwd')", "the query failed: Permission Error"),
        ("SELEC 1", "the query does not parse: Parser Error"),
        ("SELECT * FROM nope", "the query failed: Catalog Error"),
    ],
)
def test_refused_statements(warehouse, query, message):
    result = sql(warehouse, query)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_parquet_needs_out(warehouse):
    result = sql(warehouse, "SELECT 1", "--format", "parquet")
    assert result.stderr == "Error: --format parquet needs --out FILE\n"


def test_missing_database(tmp_path):
    result = sql(tmp_path / "none.duckdb", "SELECT 1")
    assert result.stderr == f"Error: warehouse {tmp_path / 'none.duckdb'} does not exist\n"
