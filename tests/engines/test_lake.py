"""[run] keep_runs prunes the lake as it prunes the warehouse (no Spark needed)."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb

from retention.config.spark import SparkSettings
from retention.engines.spark.lake import prune_lake


def test_the_lake_keeps_the_runs_whose_users_the_warehouse_keeps(tmp_path):
    lake = tmp_path / "lake"
    for name in ("run_1", "run_2", "run_3", "notes"):
        (lake / name / "user_features").mkdir(parents=True)
    pipeline = SimpleNamespace(
        spark=SparkSettings(lake=lake), run=SimpleNamespace(warehouse=tmp_path / "w.duckdb")
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE user_features AS SELECT unnest([2, 3, 3]) AS run_id")
    assert [p.name for p in prune_lake(con, pipeline)] == ["run_1"]
    assert sorted(p.name for p in lake.iterdir()) == ["notes", "run_2", "run_3"]
