"""Backfills: the published run is the newest as_of, not the run that finished last.

A scheduler that fills in an older day stores that run beside the latest one
(queryable by its run_id) without changing what the latest_* views show; a
rerun of the newest day replaces it; tier_transitions compares consecutive
as_of days.
"""

import datetime as dt

import duckdb
import pytest

import retention
from retention.pipeline import run_pipeline
from retention.warehouse.ledger import is_latest, latest_run_id
from retention.warehouse.schema import create_schema
from tests.conftest import FIXTURES, SAMPLE_PIPELINE, query
from tests.snapshots import relation_hashes

# What an analyst reads as "the latest": every latest_* view and the views built on them.
LATEST_VIEWS = ("published_run", "tier_summary", "tier_transitions")


def _latest_hashes(warehouse) -> dict[str, str]:
    hashes = relation_hashes(warehouse)
    return {n: h for n, h in hashes.items() if n.startswith("latest_") or n in LATEST_VIEWS}


def _transitions(warehouse) -> list[tuple]:
    return query(warehouse, "SELECT * FROM tier_transitions ORDER BY ALL").values.tolist()


def _transitions_between(warehouse, earlier: int, later: int) -> list[tuple]:
    """What tier_transitions must hold when it compares run `earlier` with run `later`."""
    return query(
        warehouse,
        "WITH a AS (SELECT * FROM user_tiers WHERE run_id = $earlier), "
        "b AS (SELECT * FROM user_tiers WHERE run_id = $later) "
        "SELECT coalesce(b.product_id, a.product_id) AS product_id, "
        "coalesce(a.tier, '(none)') AS from_tier, coalesce(b.tier, '(gone)') AS to_tier, "
        "count(*) AS users FROM b FULL OUTER JOIN a USING (product_id, user_id) "
        "GROUP BY ALL ORDER BY ALL",
        {"earlier": earlier, "later": later},
    ).values.tolist()


# Four runs of the sample in one module fixture (about half a minute).
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The sample as of 2024-06-30 and 2024-07-21, a backfill of 2024-06-15, then
    2024-07-21 again; what the latest_* views showed after each step."""
    folder = tmp_path_factory.mktemp("backfills")
    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, warehouse=folder / "w.duckdb", exports=folder / "exports"
    )
    warehouse = pipeline.run.warehouse
    seen = {}
    for step, day in (("first", "06-30"), ("second", "07-21"), ("backfill", "06-15")):
        result = retention.run(pipeline, as_of=dt.date.fromisoformat(f"2024-{day}"))
        seen[step] = result.run_id
        seen[f"after {step}"] = _latest_hashes(warehouse)
        seen[f"{step} result"] = result
        seen[f"LATEST after {step}"] = (folder / "exports" / "LATEST").read_text().strip()
    seen["transitions after backfill"] = _transitions(warehouse)
    seen["rerun"] = retention.run(pipeline, as_of=dt.date(2024, 7, 21)).run_id
    seen["warehouse"] = warehouse
    return seen


@slow
def test_a_backfill_leaves_every_latest_view_as_it_was(history):
    assert (history["first"], history["second"], history["backfill"]) == (1, 2, 3)
    assert history["after backfill"] == history["after second"]
    assert history["after second"] != history["after first"]  # a newer day does replace


@slow
def test_a_backfill_writes_its_lists_but_latest_keeps_naming_the_newest_day(history):
    assert history["LATEST after second"] == "run-2"
    assert history["LATEST after backfill"] == "run-2"
    backfill = history["backfill result"]
    assert not backfill.latest and history["second result"].latest
    assert backfill.export_dir.name == "run-3" and (backfill.export_dir / "manifest.json").exists()
    from retention.report.terminal import run_summary

    assert run_summary(backfill).startswith("run 3 stored as a backfill")


@slow
def test_the_backfill_is_stored_and_queryable_by_its_run_id(history):
    warehouse = history["warehouse"]
    runs = query(warehouse, "SELECT run_id, as_of::varchar, status FROM runs ORDER BY run_id")
    assert runs.values.tolist()[:3] == [
        [1, "2024-06-30", "published"],
        [2, "2024-07-21", "published"],
        [3, "2024-06-15", "published"],
    ]
    for table in ("user_tiers", "user_scores", "user_features", "playbook_assignments"):
        rows = query(warehouse, f"SELECT count(*) AS n FROM {table} WHERE run_id = 3")
        assert rows.n[0] > 0, table
    days = query(warehouse, "SELECT DISTINCT as_of::varchar AS day FROM tier_history ORDER BY 1")
    assert list(days.day) == ["2024-06-15", "2024-06-30", "2024-07-21"]


@slow
def test_tier_transitions_compare_the_two_newest_as_of_days(history):
    warehouse = history["warehouse"]
    assert history["transitions after backfill"] == _transitions_between(warehouse, 1, 2)
    assert history["transitions after backfill"] != _transitions_between(warehouse, 3, 2)


@slow
def test_a_rerun_of_the_newest_day_replaces_it(history):
    warehouse = history["warehouse"]
    assert history["rerun"] == 4
    assert list(query(warehouse, "SELECT run_id FROM published_run").run_id) == [4]
    days = query(warehouse, "SELECT as_of::varchar, run_id, day_rank FROM run_days ORDER BY 1")
    assert days.values.tolist() == [
        ["2024-06-15", 3, 3],
        ["2024-06-30", 1, 2],
        ["2024-07-21", 4, 1],
    ]
    assert _transitions(warehouse) == _transitions_between(warehouse, 1, 4)


@slow
def test_the_ledger_says_which_run_is_the_latest(history):
    with duckdb.connect(str(history["warehouse"]), read_only=True) as con:
        assert latest_run_id(con) == 4
        assert [is_latest(con, run_id) for run_id in (1, 2, 3, 4)] == [False, False, False, True]


def test_pruning_never_deletes_the_latest_run(write_pipeline):
    tiny = FIXTURES / "events_tiny.csv"
    for day in ("2024-06-30", "2024-07-01", "2024-06-20"):  # the last is a backfill
        path = write_pipeline(tiny, as_of=day, run_extra="keep_runs = 1")
        result = run_pipeline(retention.load_pipeline(path))
    warehouse = result.warehouse
    kept = query(warehouse, "SELECT DISTINCT run_id FROM user_features ORDER BY 1")
    assert list(kept.run_id) == [2, 3]  # the latest (as of 07-01) and the run just written
    staged = query(warehouse, "SELECT DISTINCT run_id FROM stg_events")
    assert list(staged.run_id) == [2]  # staged events of the latest run only
    assert list(query(warehouse, "SELECT run_id FROM latest_features").run_id.unique()) == [2]


def test_a_finished_run_of_the_same_day_wins_over_an_earlier_one():
    """Within a day the last to finish wins, even if an old file numbered runs otherwise."""
    with duckdb.connect() as con:
        create_schema(con)
        con.execute(
            "INSERT INTO runs (run_id, pipeline, as_of, started_at, finished_at, status, "
            "retention_version) VALUES "
            "(1, 'p', DATE '2024-07-01', TIMESTAMP '2024-07-02 01:00', "
            "TIMESTAMP '2024-07-02 03:00', 'published', 'x'), "
            "(2, 'p', DATE '2024-07-01', TIMESTAMP '2024-07-02 00:30', "
            "TIMESTAMP '2024-07-02 02:00', 'published', 'x'), "
            "(3, 'p', DATE '2024-07-05', TIMESTAMP '2024-07-06 01:00', NULL, 'failed', 'x'), "
            "(4, 'p', DATE '2024-06-01', TIMESTAMP '2024-07-06 02:00', "
            "TIMESTAMP '2024-07-06 03:00', 'published', 'x')"
        )
        assert latest_run_id(con) == 1
        assert not is_latest(con, 3) and not is_latest(con, 4)
