"""The runs ledger: only a fully successful run is published; failures and
killed runs leave the previously published run in place."""

import os
import signal
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from retention.config import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import FIXTURES, query

TINY = FIXTURES / "events_tiny.csv"


def published(warehouse) -> list[int]:
    return list(query(warehouse, "SELECT run_id FROM published_run").run_id)


def test_successful_run_is_published_with_its_counts(run):
    result, warehouse = run(TINY)
    runs = query(warehouse, "SELECT * FROM runs").iloc[0]
    assert (runs.status, runs.rows_read, runs.rows_staged, runs.users, runs.products) == (
        "published",
        12,
        11,
        3,
        2,
    )
    stages = query(warehouse, "SELECT stage, rows FROM run_stages ORDER BY started_at")
    assert list(stages.stage) == [
        "staging",
        "features",
        "scores",
        "tiers",
        "metrics",
        "contacts",
        "assignments",
        "exports",
    ]
    metrics_rows = stages.rows[4]
    assert metrics_rows > 0
    assert list(stages.rows) == [11, 3, 3, 3, metrics_rows, 0, 3, 0]  # no contacts: none sent
    assert published(warehouse) == [result.run_id]


def test_failed_run_leaves_previous_run_published(run, write_pipeline, monkeypatch):
    first, warehouse = run(TINY)
    before = query(warehouse, "SELECT * FROM latest_features ORDER BY ALL")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("retention.pipeline.build_features", broken)
    with pytest.raises(RuntimeError):
        run_pipeline(load_pipeline(write_pipeline(TINY)))
    runs = query(warehouse, "SELECT run_id, status, error FROM runs ORDER BY run_id")
    assert list(runs.status) == ["published", "failed"]
    assert runs.error[1] == "RuntimeError: disk on fire"
    assert published(warehouse) == [first.run_id]
    pd.testing.assert_frame_equal(
        query(warehouse, "SELECT * FROM latest_features ORDER BY ALL"), before
    )
    leftovers = query(warehouse, "SELECT count(*) AS n FROM stg_events WHERE run_id = 2")
    assert leftovers.n[0] == 0


def test_rerun_with_same_as_of_gives_identical_features(run):
    _, warehouse = run(TINY)
    second, _ = run(TINY)
    assert second.run_id == 2
    by_run = query(
        warehouse,
        "SELECT * EXCLUDE (run_id) FROM user_features WHERE run_id = $run ORDER BY ALL",
        {"run": 1},
    )
    again = query(
        warehouse,
        "SELECT * EXCLUDE (run_id) FROM user_features WHERE run_id = $run ORDER BY ALL",
        {"run": 2},
    )
    pd.testing.assert_frame_equal(by_run, again)
    staged = query(warehouse, "SELECT DISTINCT run_id FROM stg_events")
    assert list(staged.run_id) == [2]  # staged events of older runs are not kept


def test_run_left_running_by_a_dead_process_is_closed_out(run):
    _, warehouse = run(TINY)
    with duckdb.connect(str(warehouse)) as con:  # what a killed run leaves behind
        con.execute(
            "INSERT INTO runs (run_id, pipeline, started_at, status, retention_version) "
            "VALUES (2, 'p.toml', now(), 'running', 'x')"
        )
        con.execute("INSERT INTO user_features SELECT * REPLACE (2 AS run_id) FROM user_features")
    assert published(warehouse) == [1]
    third, _ = run(TINY)
    runs = query(warehouse, "SELECT run_id, status, error FROM runs ORDER BY run_id")
    assert list(runs.status) == ["published", "failed", "published"]
    assert runs.error[1].startswith("interrupted")
    assert query(warehouse, "SELECT count(*) AS n FROM user_features WHERE run_id = 2").n[0] == 0
    assert published(warehouse) == [third.run_id]


def test_killed_run_leaves_previous_run_published(write_pipeline, tmp_path):
    """SIGKILL a real run in a subprocess while it works on a slowed-down stage."""
    pipeline_path = write_pipeline(TINY)
    run_pipeline(load_pipeline(pipeline_path))
    marker = tmp_path / "features-written"
    script = f"""
import time
import retention.pipeline as p
from retention.config import load_pipeline
real = p.build_features
def slow(*args, **kwargs):
    users = real(*args, **kwargs)
    open({str(marker)!r}, "w").close()
    time.sleep(60)
    return users
p.build_features = slow
p.run_pipeline(load_pipeline({str(pipeline_path)!r}))
"""
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    warehouse = load_pipeline(pipeline_path).run.warehouse
    assert published(warehouse) == [1]
    # the killed run wrote only to its private copy: the published file never saw it
    statuses = query(warehouse, "SELECT status FROM runs ORDER BY run_id").status
    assert list(statuses) == ["published"]
    assert warehouse.with_name(warehouse.name + ".building").exists()
    result = run_pipeline(load_pipeline(pipeline_path))
    assert published(warehouse) == [result.run_id] == [2]
    assert not warehouse.with_name(warehouse.name + ".building").exists()


def test_history_keeps_tiers_and_trims_per_user_detail(run):
    for _ in range(3):
        _, warehouse = run(TINY, run_extra="keep_runs = 2")
    kept = query(warehouse, "SELECT DISTINCT run_id FROM user_features ORDER BY run_id")
    assert list(kept.run_id) == [2, 3]
    history = query(warehouse, "SELECT run_id, count(*) AS n FROM tier_history GROUP BY ALL")
    assert sorted(history.run_id) == [1, 2, 3] and set(history.n) == {3}
    moves = query(warehouse, "SELECT from_tier, to_tier, users FROM tier_transitions")
    assert (moves.from_tier == moves.to_tier).all() and moves.users.sum() == 3
