"""Time zones in staging: instants are stored in UTC, calendar days come from
`[run] timezone`.

- Every time with an offset (`Z`, `+02:00`, `-0500`, `+05:45`, `+14:00`) is
  converted to UTC, so one file may mix offsets: the same instant written
  with different offsets is one and the same `event_time`.
- A timestamp without an offset is taken as UTC, whatever the pipeline's zone.
- A plain date (`2024-06-01`, a DATE column, a strptime format without a time
  of day) is a calendar day: it starts at midnight in the pipeline's zone and
  keeps its day there.
- `event_date` is the day of `event_time` in `[run] timezone`; as_of cuts by
  that day. On daylight-saving days (a 23- or 25-hour local day) no event is
  created or lost and each lands on its local day, including the repeated
  hour of autumn, written once with each offset.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES, query

USER_AND_TIME = '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"'
STAGED = "SELECT user_id, event_time, event_date FROM stg_events ORDER BY user_id, event_time"


def zone_setting(zone: str) -> str:
    return f'timezone = "{zone}"'


def test_mixed_offsets_in_one_file_are_one_instant_in_utc(run):
    _, warehouse = run(FIXTURES / "events_mixed_offsets.csv", mapping=USER_AND_TIME)
    staged = query(warehouse, STAGED)
    assert len(staged) == 9
    assert set(staged.event_time) == {pd.Timestamp("2024-06-01 10:00:00")}
    assert set(staged.event_date.astype(str)) == {"2024-06-01"}


@pytest.mark.parametrize(
    ("zone", "days"),
    [
        ("UTC", ["2024-06-01", "2024-06-02"]),
        ("Asia/Tokyo", ["2024-06-02", "2024-06-02"]),  # UTC+9
        ("Asia/Kolkata", ["2024-06-02", "2024-06-02"]),  # UTC+5:30
        ("America/Los_Angeles", ["2024-06-01", "2024-06-01"]),  # UTC-7 in summer
        ("Pacific/Kiritimati", ["2024-06-02", "2024-06-02"]),  # UTC+14
    ],
)
def test_pipeline_timezone_decides_the_calendar_day(run, tmp_path, zone, days):
    events = tmp_path / "events.csv"
    events.write_text("user_id,event_time\nu1,2024-06-01T23:30:00Z\nu1,2024-06-02T03:00:00Z\n")
    _, warehouse = run(events, mapping=USER_AND_TIME, run_extra=zone_setting(zone))
    staged = query(warehouse, STAGED)
    assert list(staged.event_time) == [
        pd.Timestamp("2024-06-01 23:30:00"),
        pd.Timestamp("2024-06-02 03:00:00"),
    ]
    assert list(staged.event_date.astype(str)) == days
    active = query(warehouse, "SELECT active_days FROM latest_features")
    assert active.active_days[0] == len(set(days))


def test_naive_timestamps_are_utc_whatever_the_zone(run, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("user_id,event_time\nu1,2024-06-01 20:00:00\nu1,2024-06-01T20:00:00\n")
    _, warehouse = run(events, mapping=USER_AND_TIME, run_extra=zone_setting("Asia/Tokyo"))
    staged = query(warehouse, STAGED)
    assert list(staged.event_time) == [pd.Timestamp("2024-06-01 20:00:00")] * 2
    assert list(staged.event_date.astype(str)) == ["2024-06-02"] * 2  # 05:00 in Tokyo


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "UTC"])
def test_plain_dates_keep_their_day_in_the_pipeline_zone(run, tmp_path, zone):
    (tmp_path / "events.csv").write_text("user_id,event_time\nu1,2024-06-01\nu1,2024-6-2\n")
    _, warehouse = run(tmp_path / "events.csv", mapping=USER_AND_TIME, run_extra=zone_setting(zone))
    staged = query(warehouse, STAGED)
    assert list(staged.event_date.astype(str)) == ["2024-06-01", "2024-06-02"]
    midnight = pd.Timestamp("2024-06-01", tz=zone).tz_convert("UTC").tz_localize(None)
    assert staged.event_time[0] == midnight


def test_day_only_strptime_format_and_date_column_are_calendar_days(run, tmp_path):
    zone = zone_setting("America/New_York")
    (tmp_path / "days.csv").write_text("user_id,event_time\nu1,01/06/2024\n")
    day_first = 'event_time_format = "%d/%m/%Y"\n' + USER_AND_TIME
    _, warehouse = run(tmp_path / "days.csv", mapping=day_first, run_extra=zone)
    assert query(warehouse, STAGED).event_date.astype(str).tolist() == ["2024-06-01"]
    table = pa.table({"user_id": ["u1"], "event_time": pa.array([dt.date(2024, 6, 1)])})
    pq.write_table(table, tmp_path / "days.parquet")
    _, warehouse = run(tmp_path / "days.parquet", mapping=USER_AND_TIME, run_extra=zone)
    staged = query(warehouse, STAGED)
    assert staged.event_date.astype(str).tolist() == ["2024-06-01"]
    assert staged.event_time[0] == pd.Timestamp("2024-06-01 04:00:00")  # EDT midnight


def test_parquet_timestamps_with_a_zone_are_converted_to_utc(run, tmp_path):
    berlin = pd.Timestamp("2024-06-01 12:00", tz="Europe/Berlin")
    frame = pd.DataFrame({"user_id": ["u1"], "event_time": [berlin]})
    frame.to_parquet(tmp_path / "events.parquet")
    _, warehouse = run(tmp_path / "events.parquet", mapping=USER_AND_TIME)
    assert query(warehouse, STAGED).event_time[0] == pd.Timestamp("2024-06-01 10:00:00")


def test_as_of_cuts_by_the_local_day(run, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,event_time\n"
        "u1,2024-06-01T14:59:59Z\n"  # 23:59:59 in Tokyo: on as_of
        "u1,2024-06-01T15:00:00Z\n"  # 00:00 on June 2 in Tokyo: after as_of
    )
    result, warehouse = run(
        events, as_of="2024-06-01", mapping=USER_AND_TIME, run_extra=zone_setting("Asia/Tokyo")
    )
    assert (result.counts.rows_staged, result.counts.rows_after_as_of) == (1, 1)
    assert query(warehouse, STAGED).event_time[0] == pd.Timestamp("2024-06-01 14:59:59")


DST_DAYS = [
    ("Europe/Berlin", dt.date(2024, 3, 31), 23),  # 02:00 -> 03:00
    ("Europe/Berlin", dt.date(2024, 10, 27), 25),  # 03:00 -> 02:00
    ("America/New_York", dt.date(2024, 3, 10), 23),  # 02:00 -> 03:00
    ("America/New_York", dt.date(2024, 11, 3), 25),  # 02:00 -> 01:00
]


def quarter_hours_around(day: dt.date, zone: str) -> list[dt.datetime]:
    """Every quarter hour, as aware UTC times, from the local day before to the day after."""
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), ZoneInfo(zone))
    end = dt.datetime.combine(day + dt.timedelta(days=2), dt.time(), ZoneInfo(zone))
    first, last = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    quarter = dt.timedelta(minutes=15)
    return [first + quarter * i for i in range((last - first) // quarter)]


@pytest.mark.parametrize(
    ("zone", "day", "hours"), DST_DAYS, ids=[f"{z}-{d}" for z, d, _ in DST_DAYS]
)
def test_daylight_saving_days_neither_create_nor_lose_events(run, tmp_path, zone, day, hours):
    """Each instant is written twice: in UTC (user `utc`) and in local time with
    its offset (user `local`); the autumn hour that repeats appears once with
    each offset. Both users must get the same instants on the same local days."""
    instants = quarter_hours_around(day, zone)
    lines = ["user_id,event_time"]
    for instant in instants:
        lines.append(f"utc,{instant.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        lines.append(f"local,{instant.astimezone(ZoneInfo(zone)).isoformat()}")
    (tmp_path / "events.csv").write_text("\n".join(lines) + "\n")
    result, warehouse = run(
        tmp_path / "events.csv",
        as_of=(day + dt.timedelta(days=1)).isoformat(),
        mapping=USER_AND_TIME,
        run_extra=zone_setting(zone),
    )
    assert (result.counts.rows_read, result.counts.rows_staged) == (
        2 * len(instants),
        2 * len(instants),
    )
    staged = query(warehouse, STAGED)
    expected_days = Counter(i.astimezone(ZoneInfo(zone)).date() for i in instants)
    assert expected_days[day] == hours * 4  # a 23- or 25-hour local day
    local_days = [i.astimezone(ZoneInfo(zone)).date() for i in instants]
    for user in ("utc", "local"):
        mine = staged[staged.user_id == user]
        assert list(mine.event_time) == [pd.Timestamp(i.replace(tzinfo=None)) for i in instants]
        assert list(mine.event_date.dt.date) == local_days
        assert Counter(mine.event_date.dt.date) == expected_days
    features = query(warehouse, "SELECT user_id, active_days FROM latest_features ORDER BY 1")
    assert features.values.tolist() == [["local", 3], ["utc", 3]]
