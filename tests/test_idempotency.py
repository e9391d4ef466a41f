"""Idempotent reruns: running the same pipeline with the same as_of again gives
the same rows in every table and view of the warehouse and the same export
files byte for byte, apart from run ids and wall-clock times; running a day
again or re-exporting never counts a contact twice."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import duckdb
import pytest

from retention.analysis.reexport import export_published
from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import query
from tests.snapshots import columns, relations, visible_files
from tests.stages.test_playbooks import MAPPING, PLAYBOOKS, write_sources

RUN_ID_COLUMN = re.compile(r"(.*_)?run_id|evaluation_id")
RUN_FOLDER = re.compile(r"\brun-[0-9]+\b")
DURATION_COLUMNS = {"seconds"}  # how long a stage took


@pytest.fixture
def campaign(write_pipeline, tmp_path):
    """A pipeline with contacts and playbooks, so each run writes export files."""
    events = write_sources(tmp_path)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    return write_pipeline(events, mapping=MAPPING, extra=extra)


def latest_run(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT run_id FROM published_run").fetchall()[0][0]


def wall_clock_columns(con, name: str, started: dt.datetime) -> set[str]:
    """Timestamp columns holding when something ran (every value from this test's runs).

    Data times (first_seen_at, event_time, ...) come from 2024 fixtures; a
    column that mixes the two would be a bug and fails here.
    """
    found = set()
    for column, kind in columns(con, name):
        if not kind.startswith("TIMESTAMP"):
            continue
        quoted = f'"{column}"'
        recent, total = con.execute(
            f'SELECT count(*) FILTER (WHERE {quoted} >= $started), count({quoted}) FROM "{name}"',
            {"started": started},
        ).fetchall()[0]
        if recent:
            assert recent == total, f"{name}.{column} mixes data times and run times"
            found.add(column)
    return found


def stable_rows(con, name: str, started: dt.datetime, run_id: int | None) -> list[tuple]:
    """Sorted rows without run ids, wall-clock times and durations; `run-N` folder
    names (which carry the run id) made alike. Only `run_id`'s rows if given."""
    volatile = wall_clock_columns(con, name, started) | DURATION_COLUMNS
    kept = [
        c for c, _ in columns(con, name) if not RUN_ID_COLUMN.fullmatch(c) and c not in volatile
    ]
    where = "WHERE run_id = $run_id" if run_id is not None else ""
    listed = ", ".join(f'"{c}"' for c in kept)
    rows = con.execute(
        f'SELECT {listed} FROM "{name}" {where}', {"run_id": run_id} if run_id else {}
    ).fetchall()
    same = [tuple(RUN_FOLDER.sub("run-N", v) if isinstance(v, str) else v for v in r) for r in rows]
    return sorted(same, key=repr)


def older_rows(con, name: str, newest: int) -> list[tuple]:
    return sorted(
        con.execute(
            f'SELECT * FROM "{name}" WHERE run_id < $newest', {"newest": newest}
        ).fetchall(),
        key=repr,
    )


def test_rerun_gives_identical_rows_in_every_table_and_view(campaign, tmp_path):
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    pipeline = load_pipeline(campaign)
    run_pipeline(pipeline)
    run_pipeline(pipeline)  # the state to compare against already holds a rerun's history
    before = tmp_path / "before.duckdb"
    shutil.copyfile(pipeline.run.warehouse, before)
    run_pipeline(pipeline)

    with (
        duckdb.connect(str(before), read_only=True) as old,
        duckdb.connect(str(pipeline.run.warehouse), read_only=True) as new,
    ):
        assert relations(new) == relations(old)
        old_run, new_run = latest_run(old), latest_run(new)
        assert (old_run, new_run) == (2, 3)
        compared = []
        for name, kind in relations(new).items():
            by_run = any(c == "run_id" for c, _ in columns(new, name))
            rows = stable_rows(new, name, started, new_run if by_run else None)
            assert rows == stable_rows(old, name, started, old_run if by_run else None), name
            compared.append((name, len(rows)))
            if kind == "table" and by_run:
                # earlier runs' rows are untouched (a table that keeps only the
                # published run's rows, such as stg_events, keeps only those)
                kept_history = old.execute(
                    f'SELECT count(DISTINCT run_id) > 1 FROM "{name}"'
                ).fetchall()[0][0]
                expected = older_rows(old, name, old_run + 1) if kept_history else []
                assert older_rows(new, name, new_run) == expected, name
    # the comparison saw the real data, not empty tables
    counts = dict(compared)
    assert len(counts) >= 30
    assert counts["user_tiers"] == counts["playbook_assignments"] == 12
    assert counts["sends"] == 3 and counts["runs"] == 1 and counts["tier_transitions"] > 0


def test_rerun_writes_identical_export_files(campaign):
    pipeline = load_pipeline(campaign)
    first = run_pipeline(pipeline)
    second = run_pipeline(pipeline)
    old = visible_files(first.export_dir)
    new = visible_files(second.export_dir)
    assert (
        sorted(new)
        == sorted(old)
        == [
            "calls__call.csv",
            "mails__email.csv",
            "mails__sms.csv",
            "manifest.json",
        ]
    )
    for name, data in new.items():
        if name == "manifest.json":  # the run id is the only difference
            assert data.replace(b'"run_id": 2,', b'"run_id": 1,') == old[name]
            assert data != old[name]
        else:
            assert data == old[name], name


def test_running_a_day_again_and_re_exporting_count_each_contact_once(write_pipeline, tmp_path):
    """Cap two contacts a week: a user sent once on 06-30 is not capped on 07-02,
    however often 06-30 was run and exported again."""
    events = write_sources(tmp_path)
    cap_two = PLAYBOOKS.replace("max_contacts = 1", "max_contacts = 2")
    path = write_pipeline(
        events, mapping=MAPPING, extra=f'[source.contacts]\npath = "contacts.csv"\n{cap_two}'
    )
    pipeline = load_pipeline(path)
    for _ in range(2):
        run_pipeline(pipeline)
    export_published(pipeline)
    export_published(pipeline, playbook="mails")
    warehouse = pipeline.run.warehouse
    per_contact = query(
        warehouse,
        "SELECT run_id, user_id, playbook, channel, count(*) AS n FROM sends GROUP BY ALL",
    )
    assert set(per_contact.n) == {1}  # one row per run and contact, re-exports included
    assert sorted(set(per_contact.user_id)) == ["a_sent", "b_sms", "c3_call"]

    next_day = run_pipeline(pipeline.with_overrides(as_of=dt.date(2024, 7, 2)))
    rows = query(
        warehouse,
        "SELECT user_id, suppressed_reason FROM playbook_assignments "
        "WHERE run_id = $run AND user_id IN ('a_sent', 'b_sms', 'c3_call') ORDER BY user_id",
        {"run": next_day.run_id},
    )
    assert list(rows.suppressed_reason.fillna("sent")) == ["sent", "sent", "sent"]
