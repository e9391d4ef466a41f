"""Tier reasons show a double rounded to 3 decimals; on Spark they read as on DuckDB.

DuckDB rounds the exact binary value and prints the shortest text; Spark's
own round() and cast do neither (retention/engines/spark/tiers.py). Halves
that are not exact halves in binary (1.0005 is 1.000499...), exact halves
(0.0625), negative zeros and values past 1e7 are the cases that differed.
Marked `spark` (starts a local Spark).
"""

from __future__ import annotations

import os
import random
import shutil

import duckdb
import pytest

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="the Spark engine needs the spark extra")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java (e.g. Debian's default-jre-headless)", allow_module_level=True)

from retention.config.spark import SparkSettings  # noqa: E402
from retention.engines.spark.portable import problems, transpile  # noqa: E402
from retention.engines.spark.session import spark_session  # noqa: E402
from retention.engines.spark.tiers import spark_value  # noqa: E402

EDGES = [1.0005, -1.0005, 2.675, 0.0625, -0.0625, 0.1875, -0.0001, 0.0, 5.0, 0.0005]
EDGES += [12345678.9, 1e7, 9999999.9995, 123456789012.0625, 999999999999.9995]


def values() -> list[float | None]:
    draw = random.Random(7)
    found = [*EDGES, None]
    found += [draw.uniform(-1e4, 1e4) for _ in range(2000)]
    found += [draw.randint(0, 10**6) / 1000 + 0.0005 for _ in range(2000)]
    found += [min(draw.lognormvariate(0, 6), 9e11) for _ in range(2000)]
    return found


def test_reason_values_print_as_on_duckdb(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i BIGINT, x DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values())))
    query = "SELECT i, coalesce(CAST(round(x, 3) AS VARCHAR), 'NULL') AS s FROM t"
    want = dict(con.execute(query).fetchall())
    con.execute(f"COPY t TO '{tmp_path / 't.parquet'}' (FORMAT parquet)")
    sql = f"SELECT i, {spark_value('x', 'DOUBLE')} AS s FROM t"
    assert problems(sql) == []
    spark = spark_session(SparkSettings(master="local[2]"))  # the parity tests' master
    spark.read.parquet(str(tmp_path / "t.parquet")).createOrReplaceTempView("t")
    got = {row.i: row.s for row in spark.sql(transpile(sql)).collect()}
    assert got == want
