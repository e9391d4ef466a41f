"""A Spark warehouse's per-user tables are views over the lake's Parquet files (no
Spark needed: the files here are written by DuckDB as Spark would write them).

Publishing lists, trims and unlists the files inside the warehouse; the lake
deletes only what no published file reads, one publish late; `retention sql`
reads the listed files and no other file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from retention.config.spark import SparkSettings
from retention.engines.spark.lake import prune_lake
from retention.errors import RetentionError, WarehouseError
from retention.warehouse.lake_views import LAKE_TABLES, add_files, check_layout
from retention.warehouse.ledger import fail_run, publish_run, start_run
from retention.warehouse.query import run_query
from retention.warehouse.schema import create_schema
from retention.warehouse.sql_files import column_types


@pytest.fixture
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    yield con
    con.close()


def write_parquet(con, path: Path, query: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")
    return path


def spark_run(con, lake: Path, users: int = 3) -> int:
    """One run as the Spark engine leaves it: its files in lake/run_<id>/, listed."""
    run_id = start_run(con, Path("p.toml"))
    folder = lake / f"run_{run_id}"
    features = (
        f"SELECT {run_id}::INTEGER AS run_id, 'shop' AS product_id, 'u' || i AS user_id, "
        "i::BIGINT AS frequency, TIMESTAMP '2024-01-01' AS first_seen_at "
        f"FROM range({users}) AS t(i)"
    )
    tiers = (
        f"SELECT {run_id}::BIGINT AS run_id, 'shop' AS product_id, 'u' || i AS user_id, "
        f"'active' AS tier, 'r' AS reason FROM range({users}) AS t(i)"
    )
    write_parquet(con, folder / "user_features" / "part-0.parquet", features)
    write_parquet(con, folder / "user_tiers" / "part-0.parquet", tiers)
    write_parquet(con, folder / "stg_events" / "part-0.parquet", "SELECT 1 AS x")
    add_files(con, run_id, "user_features", folder / "user_features")
    add_files(con, run_id, "user_tiers", folder / "user_tiers")
    return run_id


def runs_in(con, table: str) -> list[int]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT run_id FROM {table} ORDER BY 1").fetchall()]


def test_a_new_warehouse_becomes_views_with_the_contract_columns(warehouse, tmp_path):
    contract = {table: column_types(warehouse, table) for table in LAKE_TABLES}
    check_layout(warehouse, "spark", tmp_path / "w.duckdb")
    views = {r[0] for r in warehouse.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert set(LAKE_TABLES) <= views
    for table in LAKE_TABLES:
        assert column_types(warehouse, table) == contract[table]
        assert warehouse.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]
    comment = "SELECT comment FROM duckdb_views() WHERE view_name = 'user_tiers'"
    assert "tier" in warehouse.execute(comment).fetchall()[0][0]
    check_layout(warehouse, "spark", tmp_path / "w.duckdb")  # a second time: unchanged
    create_schema(warehouse)  # the next run opens it: no column is added to a view
    assert {table: column_types(warehouse, table) for table in LAKE_TABLES} == contract


def test_the_views_cast_to_the_contract_and_take_new_columns(warehouse, tmp_path):
    check_layout(warehouse, "spark", tmp_path / "w.duckdb")
    spark_run(warehouse, tmp_path / "lake")
    types = column_types(warehouse, "user_features")
    assert types["run_id"] == "BIGINT" and types["frequency"] == "INTEGER"  # Spark: INTEGER, BIGINT
    assert list(types)[:3] == ["run_id", "product_id", "user_id"]
    rows = warehouse.execute("SELECT user_id, frequency FROM user_features ORDER BY 1").fetchall()
    assert rows == [("u0", 0), ("u1", 1), ("u2", 2)]
    # a later run with a column the contract lacks (a new forecast horizon)
    folder = tmp_path / "lake" / "run_9" / "user_scores"
    write_parquet(
        warehouse,
        folder / "part-0.parquet",
        "SELECT 9::BIGINT AS run_id, 'shop' AS product_id, 'u1' AS user_id, 0.5 AS p_alive, "
        "2.0 AS expected_purchases_45d",
    )
    add_files(warehouse, 9, "user_scores", folder)
    scores = column_types(warehouse, "user_scores")
    assert list(scores)[-1] == "expected_purchases_45d"
    got = "SELECT user_id, p_alive, expected_purchases_45d, clv FROM user_scores"
    assert warehouse.execute(got).fetchall() == [("u1", 0.5, 2.0, None)]


def test_publishing_trims_unlists_and_the_lake_deletes_one_publish_late(warehouse, tmp_path):
    lake = tmp_path / "lake"
    pipeline = SimpleNamespace(
        spark=SparkSettings(lake=lake), run=SimpleNamespace(warehouse=tmp_path / "w.duckdb")
    )
    check_layout(warehouse, "spark", tmp_path / "w.duckdb")
    days = iter(dt.date(2024, 6, day) for day in range(1, 10))

    def publish(run_id):
        publish_run(warehouse, run_id, keep_runs=1, as_of=next(days))
        return prune_lake(warehouse, pipeline, run_id)

    one = spark_run(warehouse, lake)
    assert publish(one) == []
    two = spark_run(warehouse, lake)
    assert publish(two) == []
    assert runs_in(warehouse, "user_features") == [2]  # keep_runs = 1
    assert runs_in(warehouse, "user_tiers") == [1, 2]  # tiers are kept for good
    # run 1's features were retired by this publish: a reader of the last file may need them
    assert (lake / "run_1" / "user_features" / "part-0.parquet").is_file()

    three = spark_run(warehouse, lake)
    assert publish(three) == []
    assert sorted(p.name for p in (lake / "run_1").iterdir()) == ["user_tiers"]
    assert (lake / "run_2" / "user_features").is_dir()  # retired by this publish: one more
    assert runs_in(warehouse, "user_tiers") == [1, 2, 3]

    four = spark_run(warehouse, lake)
    fail_run(warehouse, four, "boom")
    assert runs_in(warehouse, "user_features") == [3]
    assert runs_in(warehouse, "user_tiers") == [1, 2, 3]
    five = spark_run(warehouse, lake)
    assert [p.name for p in publish(five)] == ["run_4"]  # the failed run's folder
    assert sorted(p.name for p in lake.iterdir()) == ["run_1", "run_2", "run_3", "run_5"]
    listed = warehouse.execute("SELECT DISTINCT run_id FROM lake_files ORDER BY 1").fetchall()
    assert listed == [(1,), (2,), (3,), (5,)]


def test_engines_refuse_a_warehouse_the_other_engine_laid_out(warehouse, tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse.execute(
        "INSERT INTO user_tiers VALUES (1, 'shop', 'u1', 'new', 'r')"
    )  # a DuckDB engine's row
    with pytest.raises(WarehouseError, match=r"1 runs of the duckdb engine.*its own"):
        check_layout(warehouse, "spark", path)
    warehouse.execute("DELETE FROM user_tiers")
    check_layout(warehouse, "spark", path)
    with pytest.raises(WarehouseError, match=r'keeps its per-user tables in a Spark lake.*"spark"'):
        check_layout(warehouse, "duckdb", path)


def test_sql_reads_the_listed_files_and_no_other(warehouse, tmp_path):
    check_layout(warehouse, "spark", tmp_path / "w.duckdb")
    run_id = spark_run(warehouse, tmp_path / "lake")
    publish_run(warehouse, run_id, keep_runs=1, as_of=dt.date(2024, 6, 1))
    warehouse.close()
    table, _ = run_query(tmp_path / "w.duckdb", "SELECT count(*) AS n FROM latest_features")
    assert table.to_pylist() == [{"n": 3}]
    unlisted = tmp_path / "lake" / "run_1" / "stg_events" / "part-0.parquet"
    for query in (
        f"SELECT * FROM read_parquet('{unlisted}')",
        "SELECT * FROM read_csv('/etc/passwd')",
    ):
        with pytest.raises(RetentionError, match="the query failed"):
            run_query(tmp_path / "w.duckdb", query)
