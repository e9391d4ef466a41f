"""Shared helpers: write a pipeline file around a fixture and run it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import RunResult, run_pipeline

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
SAMPLE_PIPELINE = REPO / "pipelines" / "sample.toml"
# The stages of a run, in the order run_stages records them.
RUN_STAGES = [
    "staging",
    "features",
    "scores",
    "tiers",
    "metrics",
    "contacts",
    "assignments",
    "exports",
]

FULL_MAPPING = """
[source.events.columns]
user_id = "user_id"
event_time = "event_time"
event_type = "event_type"
amount = "amount"
product_id = "product_id"
channel = "channel"
event_id = "event_id"

[source.events.event_types]
purchase = ["purchase", "order"]
"""
# The fixtures' columns without a channel, with "order" as the only purchase type.
ORDER_MAPPING = """
[source.events.columns]
user_id = "user_id"
event_time = "event_time"
event_type = "event_type"
amount = "amount"
product_id = "product_id"
event_id = "event_id"

[source.events.event_types]
purchase = ["order"]
"""


def pipeline_text(
    events: Path | str,
    as_of: str = "2024-06-30",
    mapping: str = FULL_MAPPING,
    run_extra: str = "",
    extra: str = "",
    keep_staged_events: bool = True,
) -> str:
    """Tests keep the staged events in the warehouse to look at them (not the default)."""
    return f"""
[run]
warehouse = "out/retention.duckdb"
exports = "out/exports"
as_of = "{as_of}"
keep_staged_events = {str(keep_staged_events).lower()}
{run_extra}

[source.events]
path = "{events}"
{mapping}
{extra}
"""


@pytest.fixture
def write_pipeline(tmp_path: Path):
    """Write a pipeline file into tmp_path; returns its path."""

    def write(events: Path | str, name: str = "pipeline.toml", **kwargs) -> Path:
        path = tmp_path / name
        path.write_text(pipeline_text(events, **kwargs), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run(write_pipeline):
    """Write a pipeline around `events` and run it; returns (result, warehouse path)."""

    def run_it(events: Path | str, **kwargs) -> tuple[RunResult, Path]:
        pipeline = load_pipeline(write_pipeline(events, **kwargs))
        return run_pipeline(pipeline), pipeline.run.warehouse

    return run_it


def query(warehouse: Path, sql: str, params: dict | None = None) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or {}).df()


@pytest.fixture(scope="session", autouse=True)
def the_clone_stays_clean():
    """Tests write only below their own temporary folders: no out/ in the clone."""
    before = {p.name for p in REPO.iterdir()}
    yield
    created = sorted({p.name for p in REPO.iterdir()} - before - {".pytest_cache", ".hypothesis"})
    assert created == [], f"the test run left {created} in the clone"
