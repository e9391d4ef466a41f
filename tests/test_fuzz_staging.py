"""Staging under fuzzed input: every row written is accounted for, ids survive.

Hypothesis writes event files (CSV, JSON lines, Parquet with string columns)
that mix clean rows with nulls, bad times (many formats, offsets, years 0001
and 9999, empty strings), bad amounts ("12,50", "1e999", "NaN", text), 10k
character strings, quotes, commas and newlines inside fields, non-ASCII and
emoji ids, SQL-looking text and repeated event_ids, then runs the real
pipeline through the CLI with max_reject_ratio = 1.0. Each row carries a
unique tag in `channel`, so every row can be traced to the table it landed in.

A run either publishes, and then:
- `rows_read` is the number of data rows written (CSV lines that cannot be
  split included) and splits as staged + rejected + duplicate + after as_of;
- every row is staged, rejected or dropped, never two of these, never twice;
- clean rows are staged (or dropped as a later copy of a staged event_id) with
  the time and amount written, converted to UTC;
- staged and rejected rows keep their user_id byte for byte;
or it stops with exactly one `Error: ...` line on stderr and no traceback.
It never hangs: each run has a time limit.
"""

from __future__ import annotations

import concurrent.futures
import csv
import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.cli import main
from tests.conftest import pipeline_text

AS_OF = dt.date(2024, 6, 30)
COLUMNS = ["event_id", "user_id", "event_time", "event_type", "amount", "product_id", "channel"]
PERMISSIVE = "[validation]\nmax_reject_ratio = 1.0"
RUN_TIMEOUT_SECONDS = 60
# RETENTION_FUZZ_EXAMPLES=500 runs a deeper search (minutes, not seconds).
FUZZ = settings(
    max_examples=int(os.environ.get("RETENTION_FUZZ_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LONG = ["x" * 10_000, "é" * 10_000, 'a,"b"\n' * 1_700]
NASTY = [
    "'); DROP TABLE runs; --",
    '"); DROP TABLE stg_events; --',
    "1; DELETE FROM rejected_events WHERE true; --",
    "$run_id",
    "a,b",
    'say "hi"',
    '"',
    "'",
    "line\nbreak",
    "cr\r\nlf",
    "tab\there",
    " lead",
    "trail ",
    "007",
    "jürgen_42",
    "用户_1001",
    "🦄🎉",
    "👩\u200d👩\u200d👧",
    "\u200b",
    "NULL",
    "null",
    "\\N",
    "#comment",
    "=1+1",
    *LONG,
]
BAD_TIMES = [
    "",
    " ",
    "yesterday",
    "now",
    "today",
    "epoch",
    "infinity",
    "-infinity",
    "0001-01-01",
    "0001-01-01 00:00:00+14:00",
    "0000-01-01",
    "-0001-01-01",
    "9999-12-31 23:59:59",
    "9999-12-31T23:59:59-05:00",
    "294247-01-10 04:00:54",
    "294247-01-10",
    "290309-12-22 (BC) 00:00:00",
    "2024-02-30",
    "2024-13-01",
    "2024-06-01 25:00:00",
    "2024-06-01T10:00:00+99:00",
    "2024-06-01T10:00:00 +02:00",
    "20240601T100000Z",
    "31/05/2024 22:15",
    "June 1 2024",
    "1e9",
    "12345678",
    "99999999999",
    "99999999999999",
    "9999999999",
    "9999999999999",
    "2024-06-01 10:00:00 BC",
    "2024-07-15T00:00:00Z",
    "2199-12-31 23:59:59",
    "2200-01-01",
    "1969-12-31T23:59:59Z",
    "1970-01-01T01:00:00+02:00",
]
BAD_AMOUNTS = [
    "",
    " ",
    "12,50",
    "1.234,50",
    "$5",
    "5 €",
    "$$5",
    "1e999",
    "-1e999",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "-0",
    "abc",
    "1_000",
    "0x10",
    "(5)",
    "５",
    "1e",
    "--5",
]
EVENT_TYPES = ["purchase", "order", "ORDER", " Refund ", "visit", "page_view", "signup", "other"]
PRODUCTS = ["shop", "app", "Shop", "用户"]
SHARED_IDS = ["e1", "e2", " e1", "e1 "]


@dataclass
class Row:
    """One source row as written, and what a correct staging makes of it."""

    values: dict[str, str | None]
    clean: bool = False
    time_utc: dt.datetime | None = None
    amount: float | None = None
    group: str | None = None  # clean copies of one event_id


@dataclass
class EventFile:
    rows: list[Row]
    malformed: list[str] = field(default_factory=list)  # CSV lines that cannot be split


def text_or(values: list[str], max_size: int = 12) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.sampled_from(values),
        st.text(max_size=max_size).filter(lambda s: "\0" not in s),
    )


@st.composite
def clean_time(draw) -> tuple[str, dt.datetime]:
    """A valid time before as_of in one of the accepted spellings, and its UTC value."""
    utc = draw(st.datetimes(dt.datetime(2024, 1, 2), dt.datetime(2024, 6, 28, 23, 59, 59)))
    utc = utc.replace(microsecond=0)
    spelling = draw(st.sampled_from(["naive", "t", "z", "offset", "epoch_s", "epoch_ms"]))
    if spelling == "offset":
        minutes = draw(st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15))
        offset = dt.timezone(dt.timedelta(minutes=minutes))
        return utc.replace(tzinfo=dt.UTC).astimezone(offset).isoformat(), utc
    epoch = int(utc.replace(tzinfo=dt.UTC).timestamp())
    return {
        "naive": utc.strftime("%Y-%m-%d %H:%M:%S"),
        "t": utc.strftime("%Y-%m-%dT%H:%M:%S"),
        "z": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epoch_s": str(epoch),
        "epoch_ms": str(epoch * 1000),
    }[spelling], utc


@st.composite
def clean_row(draw, tag: str) -> Row:
    time_text, utc = draw(clean_time())
    event_type = draw(st.sampled_from(EVENT_TYPES))
    cents = draw(st.integers(-10_000, 1_000_000))
    amount_text = draw(st.sampled_from(["{:.2f}", "${:.2f}", "{:.2f} €", " {:.2f} "])).format(
        cents / 100
    )
    group = draw(st.one_of(st.none(), st.sampled_from(["dup-1", "dup-2"])))
    user_id = draw(st.sampled_from(NASTY + ["u1", "u2"]).filter(lambda s: s.strip()))
    values = {
        "event_id": group or f"clean-{tag}",
        "user_id": user_id,
        "event_time": time_text,
        "event_type": event_type,
        "amount": amount_text,
        "product_id": draw(st.sampled_from(PRODUCTS)),
        "channel": tag,
    }
    return Row(values, clean=True, time_utc=utc, amount=cents / 100, group=group)


@st.composite
def fuzz_row(draw, tag: str) -> Row:
    good_time = clean_time().map(lambda pair: pair[0])
    values = {
        "event_id": draw(st.one_of(st.none(), st.sampled_from(SHARED_IDS), text_or(NASTY))),
        "user_id": draw(text_or(NASTY + ["u1", "u2"])),
        "event_time": draw(st.one_of(good_time, text_or(BAD_TIMES, 25))),
        "event_type": draw(text_or(EVENT_TYPES + NASTY)),
        "amount": draw(st.one_of(st.decimals(-1e6, 1e6, places=2).map(str), text_or(BAD_AMOUNTS))),
        "product_id": draw(text_or(PRODUCTS + NASTY)),
        "channel": tag,
    }
    return Row(values)


@st.composite
def event_files(draw, malformed: bool = False) -> EventFile:
    size = draw(st.integers(1, 25))
    rows = [draw(st.one_of(clean_row(f"row-{i}"), fuzz_row(f"row-{i}"))) for i in range(size)]
    lines = []
    if malformed:
        for i in range(draw(st.integers(0, 2))):
            fields = draw(st.sampled_from([8, 3]))
            lines.append(
                ",".join(
                    ["m", "u1", "2024-06-01", "visit", "", "shop", f"bad-{i}"][:fields]
                    + ["x"] * (fields - 7)
                )
            )
    return EventFile(rows, lines)


def write_csv(path: Path, events: EventFile) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in events.rows:
            writer.writerow([row.values[c] for c in COLUMNS])
        for line in events.malformed:
            out.write(line + "\r\n")


def write_json(path: Path, events: EventFile) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for i, row in enumerate(events.rows):
            record = {c: v for c, v in row.values.items() if v is not None or i % 2}
            out.write(json.dumps(record, ensure_ascii=bool(i % 3)) + "\n")


def write_parquet(path: Path, events: EventFile) -> None:
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    table = pa.Table.from_pylist([row.values for row in events.rows], schema=schema)
    pq.write_table(table, path)


WRITERS = {"csv": write_csv, "jsonl": write_json, "parquet": write_parquet}


def invoke_run(pipeline: Path) -> Result:
    """`retention run PIPELINE --quiet`, failing the test instead of hanging."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(CliRunner().invoke, main, ["run", str(pipeline), "--quiet"])
    try:
        return future.result(timeout=RUN_TIMEOUT_SECONDS)
    except concurrent.futures.TimeoutError:
        raise AssertionError(f"retention run did not finish in {RUN_TIMEOUT_SECONDS} s") from None
    finally:
        pool.shutdown(wait=False)


def run_fuzzed(events: EventFile, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"events.{suffix}"
        WRITERS[suffix](source, events)
        pipeline = Path(folder) / "pipeline.toml"
        pipeline.write_text(
            pipeline_text(source.name, as_of=AS_OF.isoformat(), extra=PERMISSIVE),
            encoding="utf-8",
        )
        result = invoke_run(pipeline)
        if result.exit_code == 0:
            check_accounting(Path(folder) / "out" / "retention.duckdb", events)
        else:
            check_one_line_error(result)


def check_one_line_error(result: Result) -> None:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "unexpected" not in lines[0], lines[0]


def check_accounting(warehouse: Path, events: EventFile) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        run = con.execute(
            "SELECT run_id, rows_read, rows_staged, rows_rejected, rows_duplicate, "
            "rows_after_as_of FROM runs WHERE status = 'published'"
        ).fetchall()
        assert len(run) == 1
        run_id, read, staged, rejected, duplicate, after = run[0]
        stg = con.execute(
            "SELECT channel, user_id, event_id, event_time, amount FROM stg_events "
            "WHERE run_id = $r",
            {"r": run_id},
        ).fetchall()
        rej = con.execute(
            "SELECT channel, user_id, reason, source_text FROM rejected_events WHERE run_id = $r",
            {"r": run_id},
        ).fetchall()
    written = {row.values["channel"]: row for row in events.rows}
    assert read == len(events.rows) + len(events.malformed)
    assert read == staged + rejected + duplicate + after
    assert min(staged, rejected, duplicate, after) >= 0
    assert (len(stg), len(rej)) == (staged, rejected)

    staged_tags = [r[0] for r in stg]
    rejected_tags = [r[0] for r in rej if r[2] != "malformed_csv_line"]
    malformed_texts = [r[3] for r in rej if r[2] == "malformed_csv_line"]
    assert sorted(malformed_texts) == sorted(events.malformed)
    assert len(set(staged_tags + rejected_tags)) == len(staged_tags + rejected_tags)
    assert set(staged_tags + rejected_tags) <= written.keys()

    for tag, user_id, *_ in stg:
        assert user_id == written[tag].values["user_id"]  # byte for byte
    for tag, user_id, *_ in rej:
        if tag in written:
            assert user_id in (written[tag].values["user_id"], None)
            if user_id is None:
                assert not written[tag].values["user_id"]

    staged_ids = [r[2] for r in stg if r[2] is not None]
    assert len(staged_ids) == len(set(staged_ids))
    by_tag = {r[0]: r for r in stg}
    for tag, row in written.items():
        if not row.clean:
            continue
        assert tag not in rejected_tags, (row.values, rej)
        if row.group is None:
            _, _, _, event_time, amount = by_tag[tag]
            assert event_time == row.time_utc, row.values
            assert amount == row.amount, row.values
    for group in {row.group for row in written.values() if row.clean and row.group}:
        copies = [r for r in written.values() if r.clean and r.group == group]
        kept = [by_tag[r.values["channel"]] for r in copies if r.values["channel"] in by_tag]
        assert len(kept) <= 1
        if kept and not any(r.values["event_id"] == group for r in written.values() if not r.clean):
            assert kept[0][3] == min(r.time_utc for r in copies)
    unstaged = [t for t in written if t not in by_tag and t not in rejected_tags]
    assert len(unstaged) == duplicate + after


@FUZZ
@given(event_files(malformed=True))
def test_csv_rows_are_all_accounted_for(events):
    run_fuzzed(events, "csv")


@FUZZ
@given(event_files())
def test_json_lines_rows_are_all_accounted_for(events):
    run_fuzzed(events, "jsonl")


@FUZZ
@given(event_files())
def test_parquet_rows_are_all_accounted_for(events):
    run_fuzzed(events, "parquet")
