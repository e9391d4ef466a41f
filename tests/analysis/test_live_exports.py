"""Backtests and --db runs never touch the pipeline's live export folder."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

import retention
from retention.analysis.evaluate import evaluate
from retention.config.pipeline_file import load_pipeline
from retention.errors import RetentionError
from retention.pipeline import run_pipeline
from tests.stages.test_playbooks import MAPPING, PLAYBOOKS, write_sources


def fingerprint(folder):
    """Every file below `folder` with its sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def live(write_pipeline, tmp_path):
    events = write_sources(tmp_path)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    path = write_pipeline(events, mapping=MAPPING, extra=extra)
    result = run_pipeline(load_pipeline(path))
    return path, result, fingerprint(load_pipeline(path).run.exports)


def test_a_backtest_leaves_the_live_lists_alone(live):
    path, _, before = live
    evaluate(load_pipeline(path), dt.date(2024, 6, 20), 7)
    assert fingerprint(load_pipeline(path).run.exports) == before


def test_a_run_into_another_warehouse_gets_its_own_exports(live, tmp_path):
    path, _, before = live
    other = tmp_path / "other" / "w.duckdb"
    result = retention.run(retention.load_pipeline(path, warehouse=other))
    assert result.export_dir.parent == tmp_path / "other" / "w-exports"
    assert fingerprint(load_pipeline(path).run.exports) == before


def test_another_warehouse_never_replaces_a_folder_it_did_not_write(live, tmp_path):
    path, _, before = live
    live_exports = load_pipeline(path).run.exports
    intruder = retention.load_pipeline(path, warehouse=tmp_path / "b.duckdb", exports=live_exports)
    with pytest.raises(RetentionError, match="was not written by this warehouse"):
        retention.run(intruder)
    assert fingerprint(live_exports) == before
