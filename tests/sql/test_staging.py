"""Staging: rejection reasons, duplicates, as_of cut-off, ids kept as given,
time formats, and the CSV / JSON / Parquet / glob / hive-folder readers."""

import json

import pandas as pd
import pytest

from retention.config.pipeline_file import load_pipeline
from retention.errors import DataQualityError
from retention.pipeline import run_pipeline
from tests.conftest import FIXTURES, query

PERMISSIVE = "[validation]\nmax_reject_ratio = 1.0"


def test_each_bad_row_is_rejected_with_its_reason(run):
    result, warehouse = run(FIXTURES / "events_bad_rows.csv", extra=PERMISSIVE)
    rejected = query(warehouse, "SELECT reason, event_id FROM rejected_events ORDER BY event_id")
    reasons = dict(zip(rejected.event_id.fillna("-"), rejected.reason, strict=True))
    assert reasons == {
        "b1": "missing_user_id",
        "b2": "missing_user_id",
        "b3": "missing_event_time",
        "b4": "unparseable_event_time",
        "b5": "event_time_out_of_range",
        "b6": "missing_product_id",
        "b7": "missing_event_type",
        "b8": "unparseable_amount",
        "b9": "missing_amount",
        "b10": "unparseable_amount",
        "-": "malformed_csv_line",
    }
    assert result.counts.rows_read == 13
    assert result.counts.rows_rejected == 11
    assert result.counts.rows_staged == 2


def test_rejected_rows_keep_original_values(run):
    _, warehouse = run(FIXTURES / "events_bad_rows.csv", extra=PERMISSIVE)
    row = query(warehouse, "SELECT * FROM rejected_events WHERE event_id = 'b8'").iloc[0]
    assert (row.user_id, row.event_time, row.amount) == ("u2", "2024-06-01 10:00:00", "abc")
    assert row.source_file.endswith("events_bad_rows.csv")
    line = query(warehouse, "SELECT * FROM rejected_events WHERE reason = 'malformed_csv_line'")
    assert line.source_text[0] == "b11,u2,2024-06-01 10:00:00,visit,,shop,ads,one-too-many"
    assert line.source_line[0] == 14


def test_too_many_rejections_fail_the_run_and_keep_the_rejects(write_pipeline):
    pipeline = load_pipeline(write_pipeline(FIXTURES / "events_bad_rows.csv"))
    with pytest.raises(DataQualityError, match=r"11 of 13 rows \(84.6%\) were rejected"):
        run_pipeline(pipeline)
    runs = query(pipeline.run.warehouse, "SELECT status FROM runs")
    assert list(runs.status) == ["failed"]
    kept = query(pipeline.run.warehouse, "SELECT count(*) AS n FROM rejected_events")
    assert kept.n[0] == 11
    staged = query(pipeline.run.warehouse, "SELECT count(*) AS n FROM stg_events")
    assert staged.n[0] == 0


def test_duplicate_event_ids_are_dropped_and_counted(run):
    result, warehouse = run(FIXTURES / "events_duplicates.csv", extra=PERMISSIVE)
    staged = query(
        warehouse,
        "SELECT product_id, event_id, event_time FROM stg_events ORDER BY event_time, product_id",
    )
    # d1: the earliest copy is kept, its exact twin is a duplicate, and the copy
    # at 10:00:05 is not the same event: it is rejected as conflicting_duplicate.
    # d2 in another product is another event; rows without event_id are never
    # duplicates.
    assert list(zip(staged.product_id, staged.event_id.fillna("-"), strict=True)) == [
        ("shop", "d1"),
        ("app", "d2"),
        ("shop", "d2"),
        ("shop", "-"),
        ("shop", "-"),
    ]
    assert staged.event_time[0] == pd.Timestamp("2024-06-01 10:00:00")
    counts = result.counts
    assert (counts.rows_read, counts.rows_duplicate, counts.rows_after_as_of) == (9, 2, 1)
    assert counts.rows_rejected == 1
    rejected = query(warehouse, "SELECT reason, event_id, event_time FROM rejected_events")
    assert list(rejected.itertuples(index=False, name=None)) == [
        ("conflicting_duplicate", "d1", "2024-06-01 10:00:05")
    ]
    assert counts.rows_read == (
        counts.rows_staged + counts.rows_rejected + counts.rows_duplicate + counts.rows_after_as_of
    )


def test_amounts_beyond_the_bound_cost_one_row_not_the_run(run, tmp_path):
    events = tmp_path / "big.csv"
    events.write_text(
        "event_id,user_id,event_time,event_type,amount,product_id,channel\n"
        "a,u1,2024-06-01 10:00:00,order,1.7e308,shop,ads\n"
        "b,u1,2024-06-02 10:00:00,order,1.7e308,shop,ads\n"
        "c,u1,2024-06-03 10:00:00,order,-2e15,shop,ads\n"
        "d,u1,2024-06-04 10:00:00,order,999999999999999,shop,ads\n"
        "e,u2,2024-06-04 10:00:00,order,12.5,shop,ads\n"
    )
    result, warehouse = run(events, extra=PERMISSIVE)
    rejected = query(warehouse, "SELECT event_id, reason FROM rejected_events ORDER BY 1")
    assert list(rejected.itertuples(index=False, name=None)) == [
        ("a", "amount_out_of_range"),
        ("b", "amount_out_of_range"),
        ("c", "amount_out_of_range"),
    ]
    revenue = query(warehouse, "SELECT user_id, revenue_total FROM user_features ORDER BY 1")
    assert list(revenue.revenue_total) == [999999999999999.0, 12.5]


def test_staged_events_stay_out_of_the_warehouse_unless_kept(run):
    tiny = FIXTURES / "events_tiny.csv"
    result, warehouse = run(tiny, keep_staged_events=False)
    assert result.counts.rows_staged == 11
    assert query(warehouse, "SELECT count(*) AS n FROM stg_events").n[0] == 0
    assert query(warehouse, "SELECT sum(events_total) AS n FROM user_features").n[0] == 11
    kept, _ = run(tiny, keep_staged_events=True)
    staged = query(warehouse, "SELECT run_id, count(*) AS n FROM stg_events GROUP BY ALL")
    assert (list(staged.run_id), list(staged.n)) == ([kept.run_id], [11])
    run(tiny, keep_staged_events=False)  # publishing a run drops older runs' staged events
    assert query(warehouse, "SELECT count(*) AS n FROM stg_events").n[0] == 0


def test_events_after_as_of_are_ignored_not_rejected(run):
    result, warehouse = run(FIXTURES / "events_tiny.csv", as_of="2024-06-01")
    assert result.counts.rows_rejected == 0
    assert result.counts.rows_after_as_of == 6  # everything after 2024-06-01 23:59:59
    last = query(warehouse, "SELECT max(event_time) AS t FROM stg_events")
    assert last.t[0] == pd.Timestamp("2024-06-01 18:00:00")


def test_as_of_latest_is_the_last_day_with_events(run):
    result, _ = run(FIXTURES / "events_tiny.csv", as_of="latest")
    assert str(result.as_of) == "2024-07-01"
    assert result.counts.rows_after_as_of == 0


def test_user_ids_are_kept_exactly_as_given(run):
    _, warehouse = run(FIXTURES / "events_user_ids.csv")
    ids = query(warehouse, "SELECT user_id FROM latest_features")
    assert sorted(ids.user_id) == sorted(
        ["007", "0007", "7", "jürgen_42", "用户_1001", 'a,b "quoted"', " 7"]
    )


def test_time_formats_iso_offsets_dates_and_epochs(run):
    _, warehouse = run(FIXTURES / "events_time_formats.csv", mapping="")
    times = query(warehouse, "SELECT event_time FROM stg_events")
    values = sorted(times.event_time)
    assert (
        values == [pd.Timestamp("2024-06-01 00:00:00")] + [pd.Timestamp("2024-06-01 10:00:00")] * 5
    )


def test_explicit_event_time_format(run, tmp_path):
    events = tmp_path / "events_day_first.csv"
    events.write_text("user_id,event_time\nu1,31/05/2024 22:15\nu1,01/06/2024 08:00\n")
    _, warehouse = run(events, mapping='event_time_format = "%d/%m/%Y %H:%M"')
    times = query(warehouse, "SELECT event_time FROM stg_events ORDER BY event_time")
    assert list(times.event_time) == [
        pd.Timestamp("2024-05-31 22:15"),
        pd.Timestamp("2024-06-01 08:00"),
    ]


def test_unmapped_event_type_uses_default_and_product_is_default(run, tmp_path):
    events = tmp_path / "orders.csv"
    events.write_text("customer,ordered_at,total\nc1,2024-06-01,10\nc1,2024-06-05,20\n")
    mapping = (
        '[source.events.columns]\nuser_id = "customer"\nevent_time = "ordered_at"\namount = "total"'
    )
    _, warehouse = run(events, mapping=mapping)
    row = query(warehouse, "SELECT * FROM latest_features").iloc[0]
    assert (row.product_id, row.purchases, row.frequency, row.monetary_value) == (
        "default",
        2,
        1,
        20.0,
    )


def test_parquet_json_glob_and_hive_folder_read_the_same_events(run, tmp_path):
    frame = pd.read_csv(FIXTURES / "events_tiny.csv", dtype=str)
    frame.to_parquet(tmp_path / "events.parquet")
    with open(tmp_path / "events.jsonl", "w", encoding="utf-8") as out:
        for record in frame.to_dict("records"):
            out.write(json.dumps({k: v for k, v in record.items() if isinstance(v, str)}) + "\n")
    for product, part in frame.groupby("product_id"):
        folder = tmp_path / "lake" / f"product={product}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part-0.parquet")
    expected = None
    for source in ["events.parquet", "events.jsonl", "lake", "lake/*/*.parquet"]:
        result, warehouse = run(tmp_path / source, name=f"{source.replace('/', '_')}.toml")
        features = query(warehouse, "SELECT * EXCLUDE (run_id) FROM latest_features ORDER BY ALL")
        if expected is None:
            expected = features
        pd.testing.assert_frame_equal(features, expected, check_dtype=False)
        assert result.counts.rows_staged == 11


def test_an_as_of_before_or_long_after_the_data_is_warned_about(run, caplog):
    with caplog.at_level("WARNING", logger="retention.stages.staging.events"):
        run(FIXTURES / "events_tiny.csv", as_of="2020-01-01")
        run(FIXTURES / "events_tiny.csv", as_of="2025-06-30")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("is before the first event" in w and "has no users" in w for w in warnings)
    assert any("days after the last event" in w for w in warnings)
