"""Readers under load: processes query the published warehouse in a loop
while runs write, publish and fail; they never hit a lock error and never see
a half-written run (every published run has its tiers for every user)."""

import os
import stat
import subprocess
import sys
import time

import pytest

from retention.config.pipeline_file import load_pipeline
from retention.errors import DataQualityError
from retention.pipeline import run_pipeline
from tests.conftest import FIXTURES

READER = """
import sys, time, duckdb
path, stop_at = sys.argv[1], float(sys.argv[2])
reads = errors = torn = 0
while time.time() < stop_at:
    try:
        with duckdb.connect(path, read_only=True) as con:
            features, tiers = con.execute(
                "SELECT (SELECT count(*) FROM latest_features), (SELECT count(*) FROM latest_tiers)"
            ).fetchall()[0]
        reads += 1
        torn += features != tiers
    except Exception as exc:
        errors += 1
        print(type(exc).__name__, str(exc).splitlines()[0], file=sys.stderr)
print(reads, errors, torn)
"""


@pytest.mark.slow
def test_readers_never_fail_or_see_a_partial_run(write_pipeline, tmp_path):
    good = load_pipeline(write_pipeline(FIXTURES / "events_tiny.csv"))
    bad = load_pipeline(write_pipeline(FIXTURES / "events_bad_rows.csv", name="bad.toml"))
    run_pipeline(good)
    stop_at = time.time() + 6
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(good.run.warehouse), str(stop_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    runs = failures = 0
    while time.time() < stop_at - 1:
        run_pipeline(good)
        runs += 1
        with pytest.raises(DataQualityError):
            run_pipeline(bad)  # same warehouse: fails on its reject ratio
        failures += 1
    results = [reader.communicate(timeout=60) for reader in readers]
    for out, err in results:
        reads, errors, torn = map(int, out.split())
        assert (errors, torn) == (0, 0), err
        assert reads > 0
    assert runs >= 1 and failures >= 1


def test_warehouse_file_is_owner_only(run):
    _, warehouse = run(FIXTURES / "events_tiny.csv")
    assert stat.S_IMODE(os.stat(warehouse).st_mode) == 0o600
