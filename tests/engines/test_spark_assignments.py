"""Assignments on Spark give DuckDB's: holdouts that hold people out, every suppression
reason, the frequency cap from an earlier run's sends, and filters held to the subset.

The campaign of tests/stages/test_playbooks.py (every reason, channel
fall-through) plus 300 mail users and 20 without contacts, with a 0.3 holdout on both playbooks, run
twice on each engine: the second run, two days later, is capped by the first
run's sends. Marked `spark` (starts a local Spark).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil

import duckdb
import pytest

from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError
from retention.pipeline import run_pipeline
from tests.stages.test_playbooks import CONTACTS, MAPPING, write_sources

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="the Spark engine needs the spark extra")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java (e.g. Debian's default-jre-headless)", allow_module_level=True)

# mail users (one in five without consent) and users without a contact row
USERS = {**CONTACTS, **{f"n{i:02d}": None for i in range(20)}}
for i in range(300):
    USERS[f"m{i:03d}"] = (f"m{i}@example.com", "", "yes" if i % 5 else "no", "no")
PLAYBOOKS = """
[[playbooks]]
name = "calls"
tiers = ["active"]
filter = "{filter}"
channels = ["call"]
holdout_share = 0.3
priority = 10

[[playbooks]]
name = "mails"
tiers = ["active"]
channels = ["email", "sms"]
holdout_share = 0.3

[exports]
max_contacts = 1
window_days = 7
"""
SPARK = """
[spark]
master = "local[2]"
lake = "out/lake"
[spark.conf]
"spark.sql.shuffle.partitions" = 4
"spark.driver.host" = "127.0.0.1"
"spark.driver.bindAddress" = "127.0.0.1"
"""
QUERY = (
    "SELECT a.* EXCLUDE (run_id) FROM playbook_assignments AS a JOIN runs USING (run_id) "
    "ORDER BY runs.as_of, product_id, user_id"
)


def campaign(folder, engine: str, filter: str = "user_id LIKE 'c%'"):
    """The campaign's pipeline in `folder` for `engine`."""
    folder.mkdir()
    events = write_sources(folder, users=USERS)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS.format(filter=filter)
    run_extra = ""
    if engine == "spark":
        run_extra, extra = 'engine = "spark"', extra + SPARK
    text = (
        f'[run]\nwarehouse = "out/retention.duckdb"\nexports = "out/exports"\n'
        f'as_of = "2024-06-30"\n{run_extra}\n[source.events]\npath = "{events}"\n'
        f"{MAPPING}\n{extra}"
    )
    path = folder / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return load_pipeline(path)


def two_runs(pipeline) -> list[tuple]:
    """Run the day and two days later; every assignment row of both runs."""
    run_pipeline(pipeline)
    run_pipeline(pipeline.with_overrides(as_of=dt.date(2024, 7, 2)))
    with duckdb.connect(str(pipeline.run.warehouse), read_only=True) as con:
        return con.execute(QUERY).fetchall()


def test_assignments_on_spark_are_duckdbs_across_runs(tmp_path):
    want = two_runs(campaign(tmp_path / "duckdb", "duckdb"))
    got = two_runs(campaign(tmp_path / "spark", "spark"))
    assert got == want
    reasons = {row[-1] for row in want}
    assert reasons >= {"holdout", "frequency_cap", "junk", "no_playbook", "no_contact", None}
    assert reasons >= {"invalid_email", "no_email_consent", "invalid_phone", "no_sms_consent"}
    held = [row for row in want if row[5]]  # holdout
    assert 0.2 < len(held) / len([row for row in want if row[3]]) < 0.4
    assert (tmp_path / "spark" / "out" / "lake").is_dir()


def test_a_filter_outside_the_portable_subset_fails_naming_the_section(tmp_path):
    pipeline = campaign(tmp_path / "spark", "spark", filter="isfinite(clv) AND user_id LIKE 'c%'")
    with pytest.raises(ConfigError, match=r"\[\[playbooks\]\].*isfinite"):
        run_pipeline(pipeline)
