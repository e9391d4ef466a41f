"""The runs ledger: only a fully successful run is published; failures and
killed runs leave the previously published run in place."""

import datetime as dt
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from retention.analysis.reexport import export_published
from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError, RetentionError
from retention.pipeline import run_pipeline
from retention.stages.exports.folder import verify_export
from tests.conftest import FIXTURES, RUN_STAGES, query
from tests.snapshots import (
    file_sha256,
    hidden_entries,
    is_owner_only,
    relation_hashes,
    visible_files,
)
from tests.stages.test_playbooks import MAPPING, PLAYBOOKS, write_sources

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
    assert list(stages.stage) == RUN_STAGES
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


# A child process runs the pipeline (or re-exports its published run) with one
# function wrapped: when a call's arguments contain `match`, it touches a marker
# file (before or after the real call) and sleeps until the parent SIGKILLs it
# ("mark": touches the marker as the call starts and carries on).
CHILD = """
import importlib, sys, time
command, module_name, function_name, when, match, marker, pipeline_path = sys.argv[1:]
from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError, RetentionError
from retention.analysis.reexport import export_published
from retention.pipeline import run_pipeline
module = importlib.import_module(module_name)
real = getattr(module, function_name)
def stop_here(*args, **kwargs):
    if match not in repr(args):
        return real(*args, **kwargs)
    if when == "mark":  # only say when the call starts, and carry on
        open(marker, "w").close()
        return real(*args, **kwargs)
    if when == "after":
        real(*args, **kwargs)
    open(marker, "w").close()
    time.sleep(60)
setattr(module, function_name, stop_here)
{"run": run_pipeline, "export": export_published}[command](load_pipeline(pipeline_path))
"""
# Where a `retention run` dies: (module, function, stop before or after it, and
# whether the warehouse rename, the commit point of a run, had happened).
KILL_POINTS = {
    "staging": ("retention.pipeline", "stage_events", "after", False),
    "features": ("retention.pipeline", "build_features", "after", False),
    "scores": ("retention.pipeline", "build_scores", "after", False),
    "exports_one_file_written": ("retention.stages.exports.folder", "_write_file", "after", False),
    "exports_written_and_sends_recorded": ("retention.pipeline", "publish_run", "before", False),
    "warehouse_published_folder_not_renamed": (
        "retention.pipeline",
        "commit_export",
        "before",
        True,
    ),
}


@pytest.fixture
def campaign_pipeline(write_pipeline, tmp_path):
    """A pipeline with contacts and playbooks, so each run writes export files."""
    events = write_sources(tmp_path)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    return write_pipeline(events, mapping=MAPPING, extra=extra)


def kill_child_at(
    tmp_path, pipeline_path, module, function, when, match="", command="run", delay=0.0
) -> None:
    """Run the pipeline in a child process and SIGKILL it where `function` is
    called (`delay` seconds later)."""
    marker = tmp_path / "child-stopped"
    marker.unlink(missing_ok=True)
    arguments = [command, module, function, when, match, str(marker), str(pipeline_path)]
    with open(tmp_path / "child.err", "w") as err:
        child = subprocess.Popen([sys.executable, "-c", CHILD, *arguments], stderr=err)
        deadline = time.time() + 60
        while not marker.exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert marker.exists(), (tmp_path / "child.err").read_text()


class Outputs:
    """What readers see of a pipeline's outputs, taken before a run is killed."""

    def __init__(self, pipeline_path):
        settings = load_pipeline(pipeline_path).run
        self.warehouse, self.exports = settings.warehouse, settings.exports
        self.folder = {p.name for p in self.warehouse.parent.iterdir()}
        self.warehouse_sha256 = file_sha256(self.warehouse)
        self.tables = relation_hashes(self.warehouse)
        self.files = visible_files(self.exports)

    def assert_warehouse_unchanged(self) -> None:
        assert file_sha256(self.warehouse) == self.warehouse_sha256
        assert relation_hashes(self.warehouse) == self.tables

    def assert_leftovers_are_private(self, run_id: int) -> None:
        """A killed run leaves only owner-only work folders no reader opens."""
        left = {p.name for p in self.warehouse.parent.iterdir()} - self.folder
        assert left <= {self.warehouse.name + ".building"}
        for name in left:
            assert is_owner_only(self.warehouse.parent / name), name
        for entry in hidden_entries(self.exports):
            assert entry.name.startswith(f".run-{run_id}.") and is_owner_only(entry), entry.name

    def assert_cleaned_up(self, run_id: int) -> None:
        assert {p.name for p in self.warehouse.parent.iterdir()} == self.folder
        assert hidden_entries(self.exports) == []
        assert (self.exports / "LATEST").read_text() == f"run-{run_id}\n"
        # every folder the sends history names is in place, checked, with exactly those rows
        sends = query(self.warehouse, "SELECT file, count(*) AS n FROM sends GROUP BY ALL")
        for folder, rows in zip(sends.file, sends.n, strict=True):
            verify_export(self.exports / folder)
            manifest = json.loads((self.exports / folder / "manifest.json").read_text())
            assert sum(f["rows"] for f in manifest["files"]) == rows, folder


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_leaves_the_previous_outputs_exactly(point, campaign_pipeline, tmp_path):
    """SIGKILL a real run at each stage: readers still see the previous run's
    warehouse and files byte for byte, nothing half-written is visible, and the
    next run succeeds and cleans up."""
    first = run_pipeline(load_pipeline(campaign_pipeline))
    before = Outputs(campaign_pipeline)
    assert (before.exports / "LATEST").read_text() == "run-1\n" and len(before.files) == 5
    *where, published_at_kill = KILL_POINTS[point]

    kill_child_at(tmp_path, campaign_pipeline, *where)
    if published_at_kill:  # past the commit point: run 2 is the published run
        assert published(before.warehouse) == [2]
    else:
        before.assert_warehouse_unchanged()
        assert published(before.warehouse) == [first.run_id]
    assert visible_files(before.exports) == before.files  # the previous run's files, exactly
    before.assert_leftovers_are_private(run_id=2)
    built = [visible_files(e) for e in hidden_entries(before.exports) if published_at_kill]

    result = run_pipeline(load_pipeline(campaign_pipeline))
    assert result.run_id == (3 if published_at_kill else 2)
    assert published(before.warehouse) == [result.run_id]
    before.assert_cleaned_up(result.run_id)
    for name, data in before.files.items():  # run-1's folder is untouched
        assert name == "LATEST" or (before.exports / name).read_bytes() == data
    if published_at_kill:  # the published run's folder was renamed into place, not lost
        assert [visible_files(before.exports / "run-2")] == built


@pytest.mark.parametrize(
    ("point", "folder_in_place"),
    [
        # files rebuilt and sends re-recorded, old folder still in place
        (("retention.analysis.reexport", "commit_export", "before", ""), True),
        # the old folder moved aside, the new one not yet renamed into place
        (("os", "rename", "after", ".run-1.old"), False),
    ],
    ids=["before_rename", "between_renames"],
)
def test_killed_export_command_is_finished_by_the_next_export(
    point, folder_in_place, campaign_pipeline, tmp_path
):
    run_pipeline(load_pipeline(campaign_pipeline))
    before = Outputs(campaign_pipeline)

    kill_child_at(tmp_path, campaign_pipeline, *point, command="export")
    # the run folder is the whole previous one, or (between the two renames) absent
    expected = before.files if folder_in_place else {"LATEST": before.files["LATEST"]}
    assert visible_files(before.exports) == expected
    before.assert_leftovers_are_private(run_id=1)

    export_published(load_pipeline(campaign_pipeline))
    assert visible_files(before.exports) == before.files  # the same files, byte for byte
    before.assert_cleaned_up(run_id=1)
    assert query(before.warehouse, "SELECT count(*) AS n FROM sends").n[0] == 3


# Runs killed at random moments; the soak command raises the count and the seed.
KILL_MOMENTS = int(os.environ.get("RETENTION_KILL_MOMENTS", "2"))
KILL_SEED = os.environ.get("RETENTION_KILL_SEED", "0")


@pytest.mark.slow
@pytest.mark.parametrize("moment", range(KILL_MOMENTS))
def test_run_killed_at_a_random_moment_leaves_whole_outputs(moment, campaign_pipeline, tmp_path):
    """Wherever a kill lands (also mid-query, mid-copy or mid-rename), readers see
    either the previous run or the new run whole, and the next run cleans up."""
    first = run_pipeline(load_pipeline(campaign_pipeline))
    before = Outputs(campaign_pipeline)
    delay = random.Random(f"{KILL_SEED}-{moment}").uniform(0, 1.3 * first.seconds)
    where = ("retention.pipeline", "open_warehouse", "mark")

    kill_child_at(tmp_path, campaign_pipeline, *where, delay=delay)
    killed_after_publishing = published(before.warehouse) == [2]
    if not killed_after_publishing:
        assert published(before.warehouse) == [1], f"killed {delay:.3f} s in"
        before.assert_warehouse_unchanged()
    now = visible_files(before.exports)
    for name, data in before.files.items():  # run-1's files never change
        assert name == "LATEST" or now.pop(name) == data
    assert now.pop("LATEST") in (b"run-1\n", b"run-2\n")
    if now:  # the new run's folder, only ever whole
        assert killed_after_publishing and {n.split("/")[0] for n in now} == {"run-2"}
        verify_export(before.exports / "run-2")
    before.assert_leftovers_are_private(run_id=2)

    result = run_pipeline(load_pipeline(campaign_pipeline))
    assert result.run_id == (3 if killed_after_publishing else 2)
    before.assert_cleaned_up(result.run_id)


def test_history_keeps_tiers_and_trims_per_user_detail(run):
    for day in ("2024-06-30", "2024-07-01", "2024-07-01"):  # the last reruns its day
        _, warehouse = run(TINY, as_of=day, run_extra="keep_runs = 2")
    kept = query(warehouse, "SELECT DISTINCT run_id FROM user_features ORDER BY run_id")
    assert list(kept.run_id) == [2, 3]
    history = query(warehouse, "SELECT run_id, count(*) AS n FROM tier_history GROUP BY ALL")
    assert sorted(history.run_id) == [1, 2, 3] and set(history.n) == {3}
    moves = query(warehouse, "SELECT from_tier, to_tier, users FROM tier_transitions")
    assert (moves.from_tier == moves.to_tier).all() and moves.users.sum() == 3


def test_old_export_folders_are_deleted_but_their_sends_stay(campaign_pipeline):
    path = campaign_pipeline
    text = path.read_text().replace("[exports]\n", "[exports]\nkeep_runs = 2\n")
    text = text.replace("max_contacts = 1", "max_contacts = 0")  # every run sends
    path.write_text(text)
    for day in ("2024-06-28", "2024-06-29", "2024-06-30"):
        run_pipeline(load_pipeline(path).with_overrides(as_of=dt.date.fromisoformat(day)))
    exports = load_pipeline(path).run.exports
    assert sorted(p.name for p in exports.iterdir()) == ["LATEST", "run-2", "run-3"]
    sends = query(load_pipeline(path).run.warehouse, "SELECT DISTINCT run_id FROM sends ORDER BY 1")
    assert list(sends.run_id) == [1, 2, 3]


def test_an_exports_path_through_a_file_is_one_sentence_before_any_work(write_pipeline, tmp_path):
    (tmp_path / "out").write_text("not a folder")
    pipeline = load_pipeline(write_pipeline(FIXTURES / "events_tiny.csv"))
    with pytest.raises(ConfigError, match=r"\[run\] warehouse: cannot create the folder"):
        run_pipeline(pipeline)


def test_a_full_disk_is_one_sentence_and_keeps_the_published_run(write_pipeline, monkeypatch):
    pipeline = load_pipeline(write_pipeline(FIXTURES / "events_tiny.csv"))
    run_pipeline(pipeline)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("retention.pipeline.build_features", full)
    with pytest.raises(RetentionError, match=r"^the disk is full while writing .*run again$"):
        run_pipeline(pipeline)
    runs = query(pipeline.run.warehouse, "SELECT status FROM runs ORDER BY run_id")
    assert list(runs.status) == ["published", "failed"]
