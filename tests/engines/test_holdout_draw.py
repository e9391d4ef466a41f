"""The holdout draw of sql/playbooks/playbook_assignments.sql is the same number on Spark.

DuckDB reads `('0x' || left(md5(...), 13))::bigint` as a hex number; Spark
casts that text to NULL (ANSI off: `coalesce` then holds out nobody) or fails
(ANSI on). portable.transpile writes it as `CAST(conv(..., 16, 10) AS
BIGINT)`, and only for md5 digits that fit (n <= 15), where the two agree.
The draw is taken from the SQL file itself, so the test follows the file.
The Spark comparison is marked `spark` (starts a local Spark).
"""

from __future__ import annotations

import os
import random
import shutil

import duckdb
import pytest

sqlglot = pytest.importorskip("sqlglot", reason="the Spark engine needs sqlglot")
from sqlglot import exp  # noqa: E402

from retention.engines.spark.portable import parse, problems, transpile  # noqa: E402
from retention.warehouse.sql_files import read_sql  # noqa: E402

SALTS = ["retention", "", "sälz ☃", "a'b"]
PLAYBOOKS = ["win_back", "vip_service", "r\u00e9activation", None]


def holdout_draw() -> str:
    """The draw (a number in [0, 1)) of playbook_assignments.sql, as DuckDB SQL."""
    (tree,) = parse(read_sql("playbooks/playbook_assignments.sql"))
    (holdout,) = [a for a in tree.find_all(exp.Alias) if a.alias == "holdout"]
    (draw,) = [d for d in holdout.find_all(exp.Div) if d.find(exp.MD5)]
    return draw.sql(dialect="duckdb")


def draw_rows() -> list[tuple[int, str | None, str]]:
    """(row, playbook, user_id): ids of many shapes, and a NULL playbook."""
    pick = random.Random(18)
    users = [f"u{i:06d}" for i in range(3000)] + ["", "Ωmega", "x" * 500, "tab\tnew\nline"]
    users += [str(pick.getrandbits(64)) for _ in range(3000)]
    return [(i, PLAYBOOKS[i % len(PLAYBOOKS)], user) for i, user in enumerate(users)]


def test_the_draw_is_portable_and_written_with_conv():
    sql = f"SELECT {holdout_draw()} FROM chosen"
    assert problems(sql) == []
    spark = transpile(sql)
    assert "CONV(LEFT(MD5(" in spark and "0x" not in spark
    assert problems("SELECT ('0x' || left(md5(a), 16))::bigint FROM t")  # 64 bits: not rewritten
    assert problems("SELECT ('0x' || left(a, 8))::bigint FROM t")  # not md5 digits


@pytest.mark.spark
@pytest.mark.parametrize("salt", SALTS)
def test_spark_draws_duckdbs_number(salt, tmp_path):
    pytest.importorskip("pyspark", reason="the Spark engine needs the spark extra")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (e.g. Debian's default-jre-headless)")
    from retention.config.spark import SparkSettings
    from retention.engines.spark.session import spark_session

    con = duckdb.connect()
    con.execute("CREATE TABLE chosen (i BIGINT, playbook VARCHAR, user_id VARCHAR)")
    con.executemany("INSERT INTO chosen VALUES (?, ?, ?)", draw_rows())
    sql = f"SELECT i, {holdout_draw()} AS draw FROM chosen"
    want = dict(con.execute(sql, {"salt": salt}).fetchall())
    con.execute(f"COPY chosen TO '{tmp_path / 'chosen.parquet'}' (FORMAT parquet)")
    spark = spark_session(SparkSettings(master="local[2]"))  # the parity tests' master
    spark.read.parquet(str(tmp_path / "chosen.parquet")).createOrReplaceTempView("chosen")
    got = {row.i: row.draw for row in spark.sql(transpile(sql), args={"salt": salt}).collect()}
    assert got == want  # equal doubles, NULL where the playbook is NULL
    drawn = [value for value in want.values() if value is not None]
    assert len(drawn) == len(want) * 3 // 4 and 0 <= min(drawn) < 0.001 < 0.999 < max(drawn) < 1
