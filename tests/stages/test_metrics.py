"""Operating metrics on a crafted log, every figure computed by hand.

Three users of "shop" and one of "app", as_of 2024-06-30, sessions split after
30 minutes. A tier policy on revenue makes the tiers obvious: u1 (110 spent)
is core, u2 (one purchase day) is active, u3 (no purchase) is valid.

    user  product  first seen  days seen (offset from first seen)       channel
    u1    shop     2024-05-01  0, 1, 30, 31, 60 (the last one is as_of)   ads
    u2    shop     2024-05-31  0, 1, 9                                    email
    u3    shop     2024-06-02  0, 1                                       (none)
    u1    app      2024-06-01  0                                          ads
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import duckdb
import pytest

from retention.config.pipeline_file import SourceSettings
from retention.errors import SourceError
from retention.stages.metrics import build_metrics

AS_OF = dt.date(2024, 6, 30)
EVENTS = """event_id,user_id,event_time,event_type,amount,product_id,channel
e1,u1,2024-05-01 10:00:00,visit,,shop,ads
e2,u1,2024-05-01 10:05:00,page_view,,shop,ads
e3,u1,2024-05-01 10:20:00,purchase,40,shop,ads
e4,u1,2024-05-01 23:50:00,page_view,,shop,ads
e5,u1,2024-05-02 00:10:00,page_view,,shop,ads
e6,u1,2024-05-02 00:15:00,purchase,20,shop,ads
e7,u1,2024-05-31 09:00:00,visit,,shop,ads
e8,u1,2024-06-01 15:00:00,purchase,50,shop,ads
e9,u1,2024-06-30 09:00:00,visit,,shop,ads
e10,u2,2024-05-31 12:00:00,page_view,,shop,email
e11,u2,2024-06-01 09:00:00,purchase,10,shop,email
e12,u2,2024-06-01 09:01:00,purchase,30,shop,email
e13,u2,2024-06-09 09:00:00,visit,,shop,email
e14,u2,2024-06-09 09:05:00,refund,10,shop,email
e15,u3,2024-06-02 08:00:00,visit,,shop,
e16,u3,2024-06-02 08:10:00,page_view,,shop,
e17,u3,2024-06-03 08:00:00,visit,,shop,
a1,u1,2024-06-01 10:00:00,visit,,app,ads
"""
POLICY = """
[[tiers]]
name = "core"
rule = "revenue_total >= 100"
[[tiers]]
name = "active"
rule = "purchases >= 1"
[[tiers]]
name = "valid"
rule = "true"
"""
NO_AMOUNT = """
[source.events.columns]
user_id = "user_id"
event_time = "event_time"
event_type = "event_type"
product_id = "product_id"
channel = "channel"
"""
# Mapped under other names, a blank product (every product), a day after
# as_of (not counted), and two bad rows (skipped with a warning).
COSTS = """product,source_channel,date,cost
shop,ads,2024-05-01,30
shop,ads,2024-06-01,25.5
shop,email,2024-06-15,$10
,social,2024-06-01,20
shop,ads,2024-07-01,100
shop,ads,yesterday,5
shop,email,2024-06-02,lots
"""
COST_MAPPING = {
    "product_id": "product",
    "channel": "source_channel",
    "day": "date",
    "spend": "cost",
}


def rounded(rows: list[tuple]) -> list[tuple]:
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


@pytest.fixture
def warehouse(run, tmp_path):
    """Run the pipeline on EVENTS; returns a function that builds the metrics and reads one."""
    events = tmp_path / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    result, path = run(events, extra=POLICY)
    assert result.as_of == AS_OF

    def build(costs: SourceSettings | None = None) -> tuple[int, duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(path))
        return build_metrics(con, result.run_id, AS_OF, 30, costs), con

    return build


def costs_source(tmp_path, text: str = COSTS, columns: dict | None = None) -> SourceSettings:
    path = tmp_path / "costs.csv"
    path.write_text(text, encoding="utf-8")
    mapping = COST_MAPPING if columns is None else columns
    return SourceSettings(str(path), "auto", mapping, "[source.costs]")


def test_daily_metrics(warehouse):
    written, con = warehouse()
    rows = con.execute(
        "SELECT * EXCLUDE (run_id) FROM latest_daily_metrics ORDER BY product_id, day"
    ).fetchall()
    day = dt.date.fromisoformat
    # product, day, PV, UV, sessions, avg dwell, buyers, orders, GMV, conversion, AOV, repeat
    assert rounded(rows) == [
        ("app", day("2024-06-01"), 0, 1, 1, 0.0, 0, 0, 0.0, 0.0, None, None),
        # u1 sessions 10:00-10:20 (1200 s) and 23:50-00:15 next day (1500 s)
        ("shop", day("2024-05-01"), 2, 1, 2, 1350.0, 1, 1, 40.0, 1.0, 40.0, 0.0),
        # events of a session that started yesterday; u1 first bought yesterday
        ("shop", day("2024-05-02"), 1, 1, 0, None, 1, 1, 20.0, 1.0, 20.0, 1.0),
        ("shop", day("2024-05-31"), 1, 2, 2, 0.0, 0, 0, 0.0, 0.0, None, None),
        # u2 buys twice in one session (60 s), u1 once (0 s); only u1 bought before
        ("shop", day("2024-06-01"), 0, 2, 2, 30.0, 2, 3, 90.0, 1.0, 30.0, 0.5),
        ("shop", day("2024-06-02"), 1, 1, 1, 600.0, 0, 0, 0.0, 0.0, None, None),
        ("shop", day("2024-06-03"), 0, 1, 1, 0.0, 0, 0, 0.0, 0.0, None, None),
        # a refund is neither an order nor negative GMV
        ("shop", day("2024-06-09"), 0, 1, 1, 300.0, 0, 0, 0.0, 0.0, None, None),
        ("shop", day("2024-06-30"), 0, 1, 1, 0.0, 0, 0, 0.0, 0.0, None, None),
    ]
    assert written == 9 + 4 + 24


CHANNELS_WITHOUT_COSTS = [
    # product, channel, users, active, core, share active, share core, revenue, revenue 30d
    ("app", "ads", 1, 0, 0, 0.0, 0.0, 0.0, 0.0),
    ("shop", "ads", 1, 0, 1, 0.0, 1.0, 110.0, 50.0),
    ("shop", "email", 1, 1, 0, 1.0, 0.0, 40.0, 40.0),
    ("shop", "unknown", 1, 0, 0, 0.0, 0.0, 0.0, 0.0),
]
CHANNEL_QUERY = "SELECT * EXCLUDE (run_id) FROM latest_channel_metrics ORDER BY ALL"


def test_channel_metrics_without_costs(warehouse):
    _, con = warehouse()
    rows = rounded(con.execute(CHANNEL_QUERY).fetchall())
    assert rows == [(*row, None, None, None) for row in CHANNELS_WITHOUT_COSTS]


def test_channel_metrics_with_costs(warehouse, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="retention.stages.metrics"):
        written, con = warehouse(costs_source(tmp_path))
    rows = rounded(con.execute(CHANNEL_QUERY).fetchall())
    app_ads, shop_ads, shop_email, shop_unknown = CHANNELS_WITHOUT_COSTS
    assert rows == [
        (*app_ads, None, None, None),  # ads spend is the shop's only
        # the blank product counts for every product; no users: no cost per user, roi -1
        ("app", "social", 0, 0, 0, None, None, 0.0, 0.0, 20.0, None, -1.0),
        # 30 + 25.5; the row of 2024-07-01 is after as_of, "yesterday" is skipped
        (*shop_ads, 55.5, 55.5, round((110 - 55.5) / 55.5, 6)),
        (*shop_email, 10.0, 10.0, 3.0),  # "$10" parses; "lots" is skipped
        ("shop", "social", 0, 0, 0, None, None, 0.0, 0.0, 20.0, None, -1.0),
        (*shop_unknown, None, None, None),  # no cost given is unknown, not free
    ]
    assert written == 9 + 6 + 24
    assert "2 cost rows skipped (unparseable_day 1, unparseable_spend 1)" in caplog.text


def test_costs_without_product_count_for_every_product(warehouse, tmp_path, caplog):
    costs = costs_source(
        tmp_path, "channel,day,spend\nads,2024-06-01,12\n", {"channel": "channel"}
    )  # day and spend fall back to their own names
    with caplog.at_level(logging.WARNING, logger="retention.stages.metrics"):
        _, con = warehouse(costs)
    rows = con.execute(
        "SELECT product_id, spend, cost_per_user FROM latest_channel_metrics "
        "WHERE acquisition_channel = 'ads' ORDER BY product_id"
    ).fetchall()
    assert rows == [("app", 12.0, 12.0), ("shop", 12.0, 12.0)]
    assert "maps no product_id column: each of the 2 products shows" in caplog.text


def test_costs_column_missing_names_the_columns(warehouse, tmp_path):
    costs = costs_source(tmp_path, "channel,date,spend\nads,2024-06-01,12\n", {})
    with pytest.raises(SourceError, match='day = "day": no column "day" in .*channel, date, spend'):
        warehouse(costs)


COHORT_QUERY = "SELECT * EXCLUDE (run_id) FROM latest_cohort_retention ORDER BY ALL"


def test_cohort_retention(warehouse):
    _, con = warehouse()
    rows = rounded(con.execute(COHORT_QUERY).fetchall())
    not_yet = [(n, 0, 0, 0, None, None) for n in (30, 60, 90, 180, 365)]
    expected = {
        # u1 (day 0 on 06-01): day 1 is eligible, day 30 (07-01) is one day too late
        ("app", "2024-06", 1): [
            (1, 1, 0, 0, 0.0, 0.0),
            (7, 1, 0, 0, 0.0, 0.0),
            (14, 1, 0, 0, 0.0, 0.0),
            *not_yet,
        ],
        # u1 eligible to day 60, u2 to day 30 (06-30 = as_of counts)
        ("shop", "2024-05", 2): [
            (1, 2, 2, 2, 1.0, 1.0),
            (7, 2, 0, 2, 0.0, 1.0),  # neither back on day 7, both later
            (14, 2, 0, 1, 0.0, 0.5),  # u2's last day is day 9
            (30, 2, 1, 1, 0.5, 0.5),
            (60, 1, 1, 1, 1.0, 1.0),  # u2's day 60 is after as_of: not in the base
            *[(n, 0, 0, 0, None, None) for n in (90, 180, 365)],
        ],
        # u3: back on day 1 only; day 30 (07-02) is after as_of
        ("shop", "2024-06", 1): [
            (1, 1, 1, 1, 1.0, 1.0),
            (7, 1, 0, 0, 0.0, 0.0),
            (14, 1, 0, 0, 0.0, 0.0),
            *not_yet,
        ],
    }
    assert rows == [
        (product, month, users, *day)
        for (product, month, users), days in expected.items()
        for day in days
    ]


def test_day_n_after_as_of_is_not_eligible(warehouse):
    _, con = warehouse()
    rows = con.execute(
        "SELECT product_id, cohort_month, eligible_users, retention_on_day "
        "FROM cohort_retention WHERE day_n = 30 ORDER BY ALL"
    ).fetchall()
    # app's u1 and shop's u3 reach day 30 after as_of: they are not counted as lost
    assert rows == [
        ("app", "2024-06", 0, None),
        ("shop", "2024-05", 2, 0.5),
        ("shop", "2024-06", 0, None),
    ]


def test_on_day_and_on_or_after_differ(warehouse):
    _, con = warehouse()
    row = con.execute(
        "SELECT retained_on_day, retained_on_or_after FROM cohort_retention "
        "WHERE product_id = 'shop' AND cohort_month = '2024-05' AND day_n = 7"
    ).fetchall()
    assert row == [(0, 2)]


def test_rebuild_replaces_the_run_rows(warehouse):
    first, con = warehouse()
    con.close()
    second, con = warehouse()
    counts = con.execute(
        "SELECT (SELECT count(*) FROM daily_metrics), (SELECT count(*) FROM channel_metrics), "
        "(SELECT count(*) FROM cohort_retention)"
    ).fetchall()
    assert first == second == sum(counts[0]) == 37


def test_money_is_null_without_an_amount_column(run, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text(EVENTS, encoding="utf-8")
    result, path = run(events, mapping=NO_AMOUNT)
    with duckdb.connect(str(path)) as con:
        build_metrics(con, result.run_id, AS_OF, 30)
        daily = con.execute(
            "SELECT gmv, average_order_value, orders FROM daily_metrics "
            "WHERE product_id = 'shop' AND day = '2024-06-01'"
        ).fetchall()
        channels = con.execute(
            "SELECT DISTINCT revenue_total, revenue_30d FROM channel_metrics"
        ).fetchall()
    assert daily == [(None, None, 3)]
    assert channels == [(None, None)]


def test_costs_with_decimal_commas(warehouse, tmp_path, caplog):
    """decimal_separator = ",": 25,50 is 25.5; a point is rejected, never guessed."""
    text = 'channel,date,cost\nads,2024-06-01,"25,50"\nads,2024-06-02,1.000\n'
    costs = costs_source(tmp_path, text, {"channel": "channel", "day": "date", "spend": "cost"})
    costs = dataclasses.replace(costs, decimal_separator=",")
    with caplog.at_level(logging.WARNING, logger="retention.stages.metrics"):
        _, con = warehouse(costs)
    spend = con.execute(
        "SELECT product_id, spend FROM latest_channel_metrics WHERE acquisition_channel = 'ads' "
        "ORDER BY ALL"
    ).fetchall()
    assert spend == [("app", 25.5), ("shop", 25.5)]
    assert "1 cost rows skipped (unparseable_spend 1)" in caplog.text


def test_decimal_separator_is_a_costs_key_too(tmp_path):
    from retention.config.pipeline_file import load_pipeline

    (tmp_path / "e.csv").write_text("user_id,event_time\n1,2024-06-01\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("channel,day,spend\n", encoding="utf-8")
    path = tmp_path / "p.toml"
    path.write_text(
        '[run]\nwarehouse = "w.duckdb"\n[source.events]\npath = "e.csv"\n'
        '[source.costs]\npath = "c.csv"\ndecimal_separator = ","\n',
        encoding="utf-8",
    )
    assert load_pipeline(path).costs.decimal_separator == ","
