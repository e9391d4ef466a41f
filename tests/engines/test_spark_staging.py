"""Staging on Spark gives DuckDB's staging: the same staged events, rejected rows with the
same reasons and text, and the same counts, for a typed Parquet source full of odd rows.

Odd rows: blank and whitespace-only ids of every kind, unmapped and padded
event types, missing, too early and too late times, NaN, infinite, huge and
missing amounts, copies of one event (identical and conflicting, and one id
in two products), two files with their columns in another order, and a time
zone west of Greenwich, whose summer days start at 04:00 UTC. Staging runs on its
own here (no features), on each engine, into one warehouse each. Also: the
blank pattern strips what DuckDB's strip_blank strips, code point by code
point, and the sources that cannot stage on Spark say why. Marked `spark`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retention.config.pipeline_file import load_pipeline
from retention.config.spark import SparkSettings
from retention.errors import ConfigError
from retention.sample.writer import SCHEMA  # the sample's event file columns
from retention.stages.staging.events import stage_events
from retention.warehouse.schema import create_schema
from tests.conftest import FULL_MAPPING, ORDER_MAPPING, REPO, pipeline_text
from tests.engines.test_spark_assignments import SPARK  # local[2] on 127.0.0.1

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="the Spark engine needs the spark extra")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java (e.g. Debian's default-jre-headless)", allow_module_level=True)

from retention.engines.spark.features import staged_on_duckdb  # noqa: E402
from retention.engines.spark.lake_files import lake_files, lake_folder  # noqa: E402
from retention.engines.spark.session import spark_session  # noqa: E402
from retention.engines.spark.staging import (  # noqa: E402
    BLANK_PATTERN,
    stage_events_on_spark,
    why_not_on_spark,
)

STG_COLUMNS = (
    "run_id, product_id, user_id, event_id, event_time, event_date, event_type, "
    "source_event_type, amount, channel"
)
T0 = dt.datetime(2024, 6, 1, 12, 0)
BLANKS = [None, "", " ", "\t", "\r\n", "\u00a0", "\u3000", "\u2028", "\x85", "\u200b"]


def odd_rows() -> list[dict]:
    """One dict per source row; every odd case next to a plain one."""
    rows = []

    def add(**row):
        base = {
            "event_id": f"e{len(rows)}",
            "user_id": f"u{len(rows) % 7}",
            "event_time": T0 + dt.timedelta(hours=len(rows)),
            "event_type": "visit",
            "amount": None,
            "product_id": "shop",
            "channel": "web",
        }
        rows.append({**base, **row})

    for blank in BLANKS:  # \u200b is not white space: a real (odd) value
        add(user_id=blank)
        add(product_id=blank)
        add(event_type=blank)
        add(event_id=blank, user_id="u1")
        add(channel=blank)
    add(user_id=" padded\t")
    add(user_id="\u00e9l\u00e8ve")  # starts with a non-ASCII letter
    add(event_type=" PURCHASE ", amount=12.5)
    add(event_type="Order", amount=3.0)
    add(event_type="refund", amount=-4.25)
    add(event_type="unknown thing")
    add(event_time=None)
    add(event_time=dt.datetime(1960, 1, 1))
    add(event_time=dt.datetime(2300, 1, 1))
    add(event_time=dt.datetime(2024, 6, 2, 3, 59, 59, 999999))  # June 1st in New York
    add(event_time=dt.datetime(2024, 6, 2, 4, 0, 0, 1))
    for amount in (math.nan, math.inf, -math.inf, 1e16, -1e15, 1e15, None, 0.1 + 0.2, 1e20):
        add(event_type="purchase", amount=amount)
    add(event_time=dt.datetime(2024, 7, 30))  # after as_of
    for _ in range(3):  # one event delivered three times, identical
        add(event_id="same", user_id="u3", event_time=T0, event_type="purchase", amount=9.0)
    add(event_id="clash", user_id="u4", event_time=T0, event_type="purchase", amount=5.0)
    add(event_id="clash", user_id="u4", event_time=T0, event_type="purchase", amount=6.0)
    add(event_id="clash", user_id="u5", event_time=T0, event_type="purchase", amount=5.0)
    add(event_id="both", product_id="shop")
    add(event_id="both", product_id="app")
    add(event_id=" both ", product_id="app")  # the same id once stripped: a copy
    return rows


def write_source(folder: Path) -> Path:
    """Two Parquet files of the odd rows, the second with its columns in another order."""
    rows = odd_rows()
    folder.mkdir()
    half = len(rows) // 2
    first = pa.Table.from_pylist(rows[:half], schema=SCHEMA)
    pq.write_table(first, folder / "a.parquet")
    second = pa.Table.from_pylist(rows[half:], schema=SCHEMA)
    pq.write_table(second.select(list(reversed(second.column_names))), folder / "b.parquet")
    return folder / "*.parquet"


def staged(
    tmp_path: Path,
    engine: str,
    source: Path,
    as_of: str = "2024-06-30",
    lake: str = "out/lake",
    **settings,
):
    """Stage `source` on `engine` in a warehouse of its own; returns (counts, stg, rejected)."""
    folder = tmp_path / engine
    folder.mkdir()
    zone = 'timezone = "America/New_York"'
    text = pipeline_text(source, as_of=as_of, run_extra=zone, **settings)
    spark = SPARK.replace('lake = "out/lake"', f'lake = "{lake}"')
    text = text.replace("[run]\n", f'[run]\nengine = "{engine}"\n', 1) + spark
    (folder / "pipeline.toml").write_text(text, encoding="utf-8")
    pipeline = load_pipeline(folder / "pipeline.toml")
    con = duckdb.connect(str(folder / "w.duckdb"))
    create_schema(con)
    stage = stage_events_on_spark if engine == "spark" else stage_events
    counts = stage(con, pipeline, 1)
    relation = "stg_events"
    if not staged_on_duckdb(con):
        relation = f"read_parquet({lake_files(lake_folder(pipeline, 1), 'stg_events')})"
    stg = con.execute(f"SELECT {STG_COLUMNS} FROM {relation} ORDER BY ALL NULLS FIRST").fetchall()
    rejected = con.execute("SELECT * FROM rejected_events ORDER BY ALL NULLS FIRST").fetchall()
    con.close()
    return counts, stg, rejected


def test_odd_rows_stage_alike_on_both_engines(tmp_path):
    source = write_source(tmp_path / "events")
    duck_counts, duck_stg, duck_rejected = staged(tmp_path, "duckdb", source)
    spark_counts, spark_stg, spark_rejected = staged(tmp_path, "spark", source)
    assert spark_counts == duck_counts
    # 27 blank ids, products and types (9 blanks x 3; U+200B is not white space),
    # 3 times, 6 amounts, 3 conflicting copies; 2 copies of "same" are duplicates
    assert duck_counts.rows_rejected == 39 and duck_counts.rows_duplicate == 2
    assert duck_counts.rows_after_as_of == 1
    assert len(duck_stg) == duck_counts.rows_staged
    assert spark_stg == duck_stg
    assert spark_rejected == duck_rejected
    reasons = {row[1] for row in duck_rejected}
    assert reasons >= {
        "missing_user_id",
        "missing_product_id",
        "missing_event_type",
        "missing_event_time",
        "event_time_out_of_range",
        "amount_out_of_range",
        "missing_amount",
        "conflicting_duplicate",
    }
    # the day is New York's (UTC-4 in June): 03:59:59 UTC on June 2nd is June 1st there
    days = {row[4]: row[5] for row in duck_stg}
    assert days[dt.datetime(2024, 6, 2, 3, 59, 59, 999999)] == dt.date(2024, 6, 1)
    assert days[dt.datetime(2024, 6, 2, 4, 0, 0, 1)] == dt.date(2024, 6, 2)


def test_zoned_millisecond_times_integer_ids_and_unmapped_columns_stage_alike(tmp_path):
    """Instants stored as UTC-adjusted milliseconds, integer user and event ids, integer
    amounts, and no product_id or channel column (every row is product "default")."""
    berlin = pa.timestamp("ms", tz="Europe/Berlin")
    start = dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC)  # the night clocks go forward
    rows = {
        "uid": [7, 7, None, 8, 9, 9, 10, 11],
        "ts": [start + dt.timedelta(minutes=47 * min(i, 4)) for i in range(6)] + [None, start],
        "kind": ["order", "visit", "order", "Order ", "order", "order", "visit", "order"],
        "value": [12, None, 5, -3, 4, 4, None, None],
        "eid": [1, 2, 3, 4, 5, 5, 6, 7],
    }
    schema = pa.schema(
        [("uid", pa.int64()), ("ts", berlin), ("kind", pa.string()), ("value", pa.int32()),
         ("eid", pa.int64())]
    )  # fmt: skip
    (tmp_path / "events").mkdir()
    source = tmp_path / "events" / "events.parquet"
    pq.write_table(pa.table(rows, schema=schema), source)
    mapping = """
[source.events.columns]
user_id = "uid"
event_time = "ts"
event_type = "kind"
amount = "value"
event_id = "eid"

[source.events.event_types]
purchase = ["order"]
"""
    duck = staged(tmp_path, "duckdb", source, mapping=mapping)
    spark = staged(tmp_path, "spark", source, mapping=mapping)
    assert spark == duck
    counts, stg, rejected = duck
    # a missing user, a missing time, a purchase without an amount; one copy of eid 5
    assert (counts.rows_rejected, counts.rows_duplicate, counts.rows_staged) == (3, 1, 4)
    assert {row[1] for row in rejected} == {
        "missing_user_id",
        "missing_amount",
        "missing_event_time",
    }
    assert {(row[1], row[2], row[3]) for row in stg} == {
        ("default", "7", "1"), ("default", "7", "2"), ("default", "8", "4"),
        ("default", "9", "5"),
    }  # fmt: skip
    assert [row[4] for row in stg if row[3] == "1"] == [dt.datetime(2024, 3, 31, 0, 30)]


def test_a_clean_file_without_rejects_or_copies_stages_alike(tmp_path):
    # every intermediate table of the dedup (and the rejected rows) is empty
    rows = [
        {"event_id": f"e{i}", "user_id": f"u{i % 9}", "event_time": T0 + dt.timedelta(hours=i),
         "event_type": "purchase" if i % 4 else "visit", "amount": 2.5 * i, "product_id": "shop",
         "channel": "web"}
        for i in range(40)
    ]  # fmt: skip
    (tmp_path / "events").mkdir()
    source = tmp_path / "events" / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), source)
    duck = staged(tmp_path, "duckdb", source)
    assert staged(tmp_path, "spark", source) == duck
    counts, stg, rejected = duck
    assert (counts.rows_rejected, counts.rows_duplicate, rejected) == (0, 0, [])
    assert counts.rows_staged == len(stg) == len(rows) > 20


def test_latest_as_of_is_the_last_usable_day_on_both(tmp_path):
    source = write_source(tmp_path / "events")
    duck, _, _ = staged(tmp_path, "duckdb", source, as_of="latest")
    spark, _, _ = staged(tmp_path, "spark", source, as_of="latest")
    assert spark.as_of == duck.as_of == dt.date(2024, 7, 29)  # midnight UTC is the 29th there


def test_the_blank_pattern_strips_what_duckdb_strips():
    """Every code point up to U+3100 (and a few past it) alone, doubled, around a letter
    and after one: Java's regex classes strip the same characters as RE2's."""
    values = []
    for point in [*range(0x3100), 0xFEFF, 0x1F600]:
        if not 0xD800 <= point < 0xE000:
            c = chr(point)
            values += [c, c + c, c + "a" + c, "a" + c]
    con = duckdb.connect()
    con.execute((REPO / "sql" / "staging" / "macros.sql").read_text(encoding="utf-8"))
    expected = [
        row[0]
        for row in con.execute(
            "SELECT strip_blank(v) FROM unnest($v) AS t(v)", {"v": values}
        ).fetchall()
    ]
    spark = spark_session(SparkSettings(master="local[2]"))
    frame = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    frame.createOrReplaceTempView("blank_values")
    stripped = spark.sql(
        "SELECT i, nullif(regexp_replace(v, :pattern, ''), '') FROM blank_values ORDER BY i",
        args={"pattern": BLANK_PATTERN},
    ).collect()
    assert [row[1] for row in stripped] == expected


def test_files_spark_cannot_read_as_one_table_stage_on_duckdb(tmp_path, caplog):
    # user_id and amount are numbers in one file and text or doubles in the other:
    # DuckDB unites them by name and type, Spark's schema merge refuses
    (tmp_path / "events").mkdir()
    first = {"event_id": ["a1", "a2"], "user_id": ["u1", "u2"], "event_time": [T0, T0],
             "event_type": ["purchase"] * 2, "amount": pa.array([3, 4], pa.int64())}  # fmt: skip
    second = {"event_id": ["b1"], "user_id": [7], "event_time": [T0],
              "event_type": ["purchase"], "amount": [2.5]}  # fmt: skip
    pq.write_table(pa.table(first), tmp_path / "events" / "a.parquet")
    pq.write_table(pa.table(second), tmp_path / "events" / "b.parquet")
    source = tmp_path / "events" / "*.parquet"
    mapping = ORDER_MAPPING.replace('product_id = "product_id"\n', "").replace("order", "purchase")
    duck = staged(tmp_path, "duckdb", source, mapping=mapping)
    with caplog.at_level(logging.INFO, logger="retention.engines.spark.staging"):
        assert staged(tmp_path, "spark", source, mapping=mapping) == duck
    assert "staging on DuckDB: Spark cannot read [source.events] path" in caplog.text
    assert duck[0].rows_staged == 3


def test_glob_characters_in_the_file_and_lake_names_are_plain_characters(tmp_path):
    # Spark reads every path as a glob: unescaped, ev[1].parquet would read ev1.parquet
    (tmp_path / "events").mkdir()
    source = tmp_path / "events" / "ev[1].parquet"
    rows = odd_rows()
    pq.write_table(pa.Table.from_pylist(rows[:60], schema=SCHEMA), source)
    decoy = tmp_path / "events" / "ev1.parquet"
    pq.write_table(pa.Table.from_pylist(rows[60:], schema=SCHEMA), decoy)
    duck = staged(tmp_path, "duckdb", source)
    assert staged(tmp_path, "spark", source, lake="out/lake[a]{b}") == duck
    assert duck[0].rows_read == 60
    assert (tmp_path / "spark" / "out" / "lake[a]{b}" / "run_1" / "stg_events").is_dir()


def test_a_bad_event_time_format_is_refused_before_spark_starts(tmp_path):
    # the DuckDB engine refuses it up front; a typed source must not hide it on Spark
    source = write_source(tmp_path / "events")
    with pytest.raises(ConfigError, match='event_time_format = "%Q": expected a strptime format'):
        staged(tmp_path, "spark", source, mapping='event_time_format = "%Q"\n' + FULL_MAPPING)


@pytest.mark.parametrize(
    ("column_types", "reason"),
    [
        ({"event_time": "VARCHAR"}, "event_time column 'event_time' is VARCHAR, not a timestamp"),
        ({"event_time": "DATE"}, "event_time column 'event_time' is DATE, not a timestamp"),
        ({"amount": "VARCHAR"}, "amount column 'amount' is VARCHAR, not a number"),
        ({"amount": "DECIMAL(18,2)"}, "amount column 'amount' is DECIMAL(18,2), not a number"),
        ({"user_id": "DOUBLE"}, "user_id column 'user_id' is DOUBLE, not text"),
        ({}, None),
        ({"event_time": "TIMESTAMP WITH TIME ZONE", "user_id": "BIGINT"}, None),
    ],
)
def test_sources_that_stage_on_duckdb_say_why(tmp_path, column_types, reason):
    (tmp_path / "pipeline.toml").write_text(pipeline_text("events.parquet"), encoding="utf-8")
    pipeline = load_pipeline(tmp_path / "pipeline.toml")
    types = {
        "user_id": "VARCHAR",
        "event_time": "TIMESTAMP",
        "event_type": "VARCHAR",
        "amount": "DOUBLE",
        "product_id": "VARCHAR",
        "channel": "VARCHAR",
        "event_id": "VARCHAR",
        **column_types,
    }
    found = why_not_on_spark(pipeline, types)
    assert found == (None if reason is None else f"[source.events] {reason}")
