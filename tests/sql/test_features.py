"""user_features on tests/fixtures/events_tiny.csv, every column hand-computed.

as_of = 2024-06-30. shop/007 buys on 06-01 (10 + 5, one purchase day) and on
06-20 (30), refunds 5 on 06-29; shop/0042 visits 04-01 and buys once on 05-01;
app/007 has one page view on the as_of day and one the day after (ignored).
"""

import math

import pandas as pd
import pytest

from tests.conftest import FIXTURES, query

TINY = FIXTURES / "events_tiny.csv"

EXPECTED = {
    ("shop", "007"): {
        "first_seen_at": pd.Timestamp("2024-06-01 10:00:00"),
        "last_seen_at": pd.Timestamp("2024-06-29 12:00:10"),
        "tenure_days": 29,
        "days_since_last_seen": 1,
        "events_total": 8,
        "visits": 2,
        "page_views": 1,
        "signups": 0,
        "purchases": 3,
        "refunds": 1,
        "other_events": 1,
        "active_days": 3,
        "active_days_7d": 1,
        "active_days_30d": 3,
        "active_days_90d": 3,
        "sessions": 4,  # 10:00-10:02, 18:00, 06-20 09:00-09:10, 06-29 12:00:00-12:00:10
        "avg_session_seconds": (120 + 0 + 600 + 10) / 4,
        "revenue_total": 45.0,
        "revenue_30d": 45.0,
        "refunded_total": 5.0,
        "avg_order_value": 15.0,
        "first_order_value": 15.0,  # 10 + 5 on 06-01, one purchase day
        "first_purchase_at": pd.Timestamp("2024-06-01 10:02:00"),
        "last_purchase_at": pd.Timestamp("2024-06-20 09:10:00"),
        "days_since_last_purchase": 10,
        "acquisition_channel": "ads",
        "distinct_channels": 2,
        "events_per_active_day": 8 / 3,
        "peak_events_per_minute": 2,
        "frequency": 1,
        "recency": 19.0,
        "T": 29.0,
        "monetary_value": 30.0,
    },
    ("shop", "0042"): {
        "first_seen_at": pd.Timestamp("2024-04-01 08:00:00"),
        "last_seen_at": pd.Timestamp("2024-05-01 08:00:00"),
        "tenure_days": 90,
        "days_since_last_seen": 60,
        "events_total": 2,
        "visits": 1,
        "page_views": 0,
        "signups": 0,
        "purchases": 1,
        "refunds": 0,
        "other_events": 0,
        "active_days": 2,
        "active_days_7d": 0,
        "active_days_30d": 0,
        "active_days_90d": 1,  # 04-01 is exactly 90 days back: outside the window
        "sessions": 2,
        "avg_session_seconds": 0.0,
        "revenue_total": 20.0,
        "revenue_30d": 0.0,
        "refunded_total": 0.0,
        "avg_order_value": 20.0,
        "first_order_value": 20.0,
        "first_purchase_at": pd.Timestamp("2024-05-01 08:00:00"),
        "last_purchase_at": pd.Timestamp("2024-05-01 08:00:00"),
        "days_since_last_purchase": 60,
        "acquisition_channel": "organic",
        "distinct_channels": 1,
        "events_per_active_day": 1.0,
        "peak_events_per_minute": 1,
        "frequency": 0,
        "recency": 0.0,
        "T": 60.0,
        "monetary_value": 0.0,
    },
    ("app", "007"): {
        "first_seen_at": pd.Timestamp("2024-06-30 23:59:59"),
        "last_seen_at": pd.Timestamp("2024-06-30 23:59:59"),
        "tenure_days": 0,
        "days_since_last_seen": 0,
        "events_total": 1,
        "visits": 0,
        "page_views": 1,
        "signups": 0,
        "purchases": 0,
        "refunds": 0,
        "other_events": 0,
        "active_days": 1,
        "active_days_7d": 1,
        "active_days_30d": 1,
        "active_days_90d": 1,
        "sessions": 1,
        "avg_session_seconds": 0.0,
        "revenue_total": 0.0,
        "revenue_30d": 0.0,
        "refunded_total": 0.0,
        "avg_order_value": None,
        "first_order_value": None,
        "first_purchase_at": None,
        "last_purchase_at": None,
        "days_since_last_purchase": None,
        "acquisition_channel": None,
        "distinct_channels": 0,
        "events_per_active_day": 1.0,
        "peak_events_per_minute": 1,
        "frequency": None,
        "recency": None,
        "T": None,
        "monetary_value": None,
    },
}


@pytest.fixture
def features(run) -> pd.DataFrame:
    _, warehouse = run(TINY)
    rows = query(warehouse, "SELECT * FROM latest_features")
    return rows.set_index(["product_id", "user_id"])


def _same(actual, expected) -> bool:
    if expected is None:
        return pd.isna(actual)
    if isinstance(expected, float):
        return math.isclose(actual, expected, rel_tol=1e-12)
    return actual == expected


def test_one_row_per_product_and_user(features):
    assert sorted(features.index) == sorted(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_every_feature_column_matches_hand_computed_value(features, key):
    row = features.loc[key]
    columns = [c for c in features.columns if c != "run_id"]
    assert sorted(columns) == sorted(EXPECTED[key]), "a feature column has no expected value"
    wrong = {c: (row[c], EXPECTED[key][c]) for c in columns if not _same(row[c], EXPECTED[key][c])}
    assert wrong == {}


def test_weekly_unit_divides_recency_and_t_by_seven(run):
    _, warehouse = run(TINY, run_extra='time_unit = "W"')
    row = query(
        warehouse, "SELECT * FROM latest_features WHERE product_id = 'shop' AND user_id = '007'"
    )
    assert row.frequency[0] == 1
    assert row.recency[0] == pytest.approx(19 / 7, rel=1e-15)
    assert row["T"][0] == pytest.approx(29 / 7, rel=1e-15)


def test_timezone_decides_calendar_days(run):
    # 2024-06-01 02:00 UTC is still 2024-05-31 in New York: first seen a day earlier.
    _, warehouse = run(TINY, run_extra='timezone = "America/New_York"')
    row = query(
        warehouse, "SELECT * FROM latest_features WHERE product_id = 'shop' AND user_id = '007'"
    )
    assert row.tenure_days[0] == 29  # 10:00 UTC is 06:00 in New York: same day
    late = query(warehouse, "SELECT count(*) AS n FROM stg_events WHERE event_id = 't11'")
    assert late.n[0] == 1  # 23:59:59 UTC on as_of is 19:59 local: still on as_of
    after = query(warehouse, "SELECT count(*) AS n FROM stg_events WHERE event_id = 't12'")
    assert after.n[0] == 1  # 00:00 UTC on 07-01 is 20:00 on 06-30 in New York: included


def test_session_gap_setting_changes_sessions(run):
    _, warehouse = run(TINY, extra="[features]\nsession_gap_minutes = 5")
    row = query(
        warehouse, "SELECT * FROM latest_features WHERE product_id = 'shop' AND user_id = '007'"
    )
    assert row.sessions[0] == 5  # 09:00 and 09:10 on 06-20 are now two sessions


def test_first_order_value_is_the_first_purchase_days_total_in_the_sample(tmp_path):
    """On the bundled sample: user_features.first_order_value equals the first
    purchase day's total of the staged events (deduplicated, typed)."""
    import dataclasses

    import duckdb

    import retention
    from tests.conftest import SAMPLE_PIPELINE

    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, warehouse=tmp_path / "w.duckdb", exports=tmp_path / "exports"
    )
    pipeline = dataclasses.replace(
        pipeline, run=dataclasses.replace(pipeline.run, keep_staged_events=True)
    )
    run = retention.run(pipeline)
    with duckdb.connect(str(pipeline.run.warehouse), read_only=True) as con:
        mismatches, covered = con.execute(
            "WITH days AS (SELECT product_id, user_id, event_date, sum(amount) AS amount "
            "FROM stg_events WHERE run_id = $run AND event_type = 'purchase' GROUP BY ALL), "
            "firsts AS (SELECT product_id, user_id, arg_min(amount, event_date) AS amount "
            "FROM days GROUP BY ALL) "
            "SELECT count(*) FILTER (WHERE f.first_order_value IS DISTINCT FROM firsts.amount "
            "AND abs(f.first_order_value - firsts.amount) > 1e-9 "
            "OR (f.first_order_value IS NULL) <> (firsts.amount IS NULL)), "
            "count(f.first_order_value) "
            "FROM user_features f JOIN firsts USING (product_id, user_id) WHERE f.run_id = $run",
            {"run": run.run_id},
        ).fetchall()[0]
    assert covered > 5_000 and mismatches == 0
