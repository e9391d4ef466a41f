"""The Spark engine gives the DuckDB engine's results: the bundled sample on both, every
per-user table compared row for row.

Ids, tiers, reasons, playbooks and every other non-float value must be equal;
floats to 1e-9 relative (sums of floats depend on their order). Spark runs
with ANSI mode and UTC (fixed by retention/engines/spark/session.py), first as
local[2], then as a real standalone cluster on 127.0.0.1 (one master, two
workers) started and stopped here. Slow (Spark starts in tens of seconds on
two cores): marked `spark`, run by .ci/run as its own step.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from retention.warehouse.lake_views import LAKE_TABLES
from tests.analysis.test_policy_on_real_data import CDNOW_MAPPING, cdnow_csv, pipeline
from tests.conftest import REPO, SAMPLE_PIPELINE

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark", reason="the Spark engine needs the spark extra")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java (e.g. Debian's default-jre-headless)", allow_module_level=True)

# table -> its key; every other column is compared
PER_USER_TABLES = {
    "user_features": "product_id, user_id",
    "product_rhythm": "product_id",
    "user_scores": "product_id, user_id",
    "user_survival": "product_id, user_id",
    "user_tiers": "product_id, user_id",
    "playbook_assignments": "product_id, user_id",
    # small, but computed from the per-user lifetimes Spark counts and samples
    "survival_curves": "product_id, group_kind, group_value, timeline_days",
    "hazard_ratios": "product_id, covariate",
}
# one run in each warehouse: the whole table is that run
QUERIES = {
    table: f"SELECT * EXCLUDE (run_id) FROM {table} ORDER BY {key}"
    for table, key in PER_USER_TABLES.items()
}
# staging's outcome: the row counts and every rejected row (the sample's events
# are typed Parquet, so they stage on Spark)
QUERIES["runs"] = (
    "SELECT as_of, rows_read, rows_staged, rows_rejected, rows_duplicate, rows_after_as_of "
    "FROM runs"
)
QUERIES["rejected_events"] = "SELECT * EXCLUDE (run_id) FROM rejected_events ORDER BY ALL"
# The fits on the driver, from the triples aggregated on Spark. Fit times
# differ; a fit that was not used (a fallback row says why) is compared by
# that row only: an unidentified Gamma-Gamma wanders along its flat ridge.
QUERIES["model_params"] = (
    "SELECT * EXCLUDE (run_id) FROM model_params AS m WHERE param <> 'fit_seconds' "
    "AND (param = 'fallback' OR NOT EXISTS (SELECT 1 FROM model_params AS f WHERE "
    "f.param = 'fallback' AND f.product_id = m.product_id AND f.model = m.model)) "
    "ORDER BY product_id, model, param, value"
)
# Gamma-Gamma is fitted on per-user mean spends, which the two engines sum in
# another order (equal to 1e-15, not bit for bit); its optimum moves by the
# optimizer's own tolerance. Every per-user score still agrees to 1e-9.
RELATIVE = {"model_params": 1e-7}


SPARK_SETTINGS = (
    '\n[spark]\nmaster = "{master}"\nlake = "{lake}"\n'
    '[spark.conf]\n"spark.sql.shuffle.partitions" = 4\n"spark.executor.memory" = "512m"\n'
    '"spark.driver.host" = "127.0.0.1"\n"spark.driver.bindAddress" = "127.0.0.1"\n'
)


def sample_pipeline(folder: Path, engine: str, master: str = "local[2]", extra: str = "") -> Path:
    """The bundled sample with its outputs in `folder`, the engine chosen and `extra`
    TOML sections."""
    text = SAMPLE_PIPELINE.read_text(encoding="utf-8")
    text = text.replace('"../out/sample/retention.duckdb"', f'"{folder / "retention.duckdb"}"')
    text = text.replace('"../out/sample/exports"', f'"{folder / "exports"}"')
    text = text.replace('"../data/', f'"{REPO / "data"}/')
    text = text.replace("[run]\n", f'[run]\nengine = "{engine}"\n', 1)
    text += SPARK_SETTINGS.format(master=master, lake=folder / "lake")
    text += extra
    path = folder / "pipeline.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def duckdb_warehouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("duckdb")
    return run_pipeline(load_pipeline(sample_pipeline(folder, "duckdb"))).warehouse


def assert_same_tables(expected: Path, actual: Path, may_be_empty: tuple[str, ...] = ()) -> None:
    with (
        duckdb.connect(str(expected), read_only=True) as left,
        duckdb.connect(str(actual), read_only=True) as right,
    ):
        for table, query in QUERIES.items():
            names = [c[0] for c in left.execute(query).description]
            rows, other = left.execute(query).fetchall(), right.execute(query).fetchall()
            assert rows or table in may_be_empty, f"{table} is empty"
            assert len(rows) == len(other), f"{table}: {len(rows)} rows on DuckDB, {len(other)}"
            for row, got in zip(rows, other, strict=True):
                for name, want, value in zip(names, row, got, strict=True):
                    assert _same(want, value, RELATIVE.get(table, 1e-9)), (
                        f"{table}.{name} of {row[:3]}: {want!r} != {value!r}"
                    )


def _same(want, value, relative: float = 1e-9) -> bool:
    if isinstance(want, float) and isinstance(value, float):
        if math.isnan(want) or math.isnan(value):
            return math.isnan(want) and math.isnan(value)
        return math.isclose(want, value, rel_tol=relative, abs_tol=1e-12)
    return want == value


def test_spark_local_gives_the_duckdb_tables(duckdb_warehouse, tmp_path):
    spark = run_pipeline(load_pipeline(sample_pipeline(tmp_path, "spark")))
    assert_same_tables(duckdb_warehouse, spark.warehouse)
    with duckdb.connect(str(spark.warehouse), read_only=True) as con:
        steps = {row[0] for row in con.execute("SELECT step FROM run_steps").fetchall()}
    assert {"spark parsed_events", "spark dedup"} <= steps  # staged on Spark
    assert "hand the staged events to spark" not in steps
    lake = tmp_path / "lake" / f"run_{spark.run_id}"
    assert sorted(p.name for p in lake.iterdir()) == [
        "activity_predictions",
        "channel_problems",
        "cox_baseline",
        "cox_positions",
        "playbook_assignments",
        "playbook_channels",
        "product_rhythm",
        "purchase_predictions",
        "recent_sends",
        "rfm_scores",
        "spend_params",
        "stg_events",
        "user_days",
        "user_features",
        "user_lifetimes",
        "user_scores",
        "user_survival",
        "user_tiers",
        "user_timelines",
    ]
    # the per-user tables are views over this run's lake files, not copies in the file
    with duckdb.connect(str(spark.warehouse), read_only=True) as con:
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        listed = con.execute("SELECT table_name, path FROM lake_files").fetchall()
    assert set(LAKE_TABLES) <= views
    assert not set(LAKE_TABLES) & tables
    assert {table for table, _ in listed} == set(LAKE_TABLES)
    assert all(Path(path).is_relative_to(lake.resolve()) for _, path in listed)
    # the built-in playbooks hold out 5-10% of each: the same users on both engines
    held = held_out_users(duckdb_warehouse)
    assert len(held) > 100
    assert held_out_users(spark.warehouse) == held


# A Cox sample smaller than the eligible users (drawn by position in user_id order on
# both engines) and covariate purchase models (Spark counts the covariate groups and
# replaces their users' scores, as user_scores_final).
SAMPLED_COVARIATES = (
    '\n[scores]\ncovariates = ["acquisition_channel", "log_first_order_value"]\n'
    "\n[survival]\nmax_fit_users = 400\n"
)


def test_spark_draws_the_same_cox_sample_and_applies_covariate_scores(tmp_path):
    duck = sample_pipeline(tmp_path / "duckdb", "duckdb", extra=SAMPLED_COVARIATES)
    spark = sample_pipeline(tmp_path / "spark", "spark", extra=SAMPLED_COVARIATES)
    expected = run_pipeline(load_pipeline(duck)).warehouse
    result = run_pipeline(load_pipeline(spark))
    assert_same_tables(expected, result.warehouse)
    with duckdb.connect(str(expected), read_only=True) as con:
        fitted = con.execute(
            "SELECT product_id, value FROM model_params WHERE model = 'cox' "
            "AND param = 'n_fit_users' ORDER BY 1"
        ).fetchall()
        covariate_models = con.execute(
            "SELECT count(*) FROM model_params WHERE model LIKE '%_covariates'"
        ).fetchall()[0][0]
    assert fitted and all(users == 400 for _, users in fitted)  # sampled, not all
    assert covariate_models > 0
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        files = con.execute("SELECT path FROM lake_files WHERE table_name = 'user_scores'")
        assert {Path(row[0]).parent.name for row in files.fetchall()} == {"user_scores_final"}
        steps = {row[0] for row in con.execute("SELECT step FROM run_steps").fetchall()}
    assert "scores/covariate_user_scores" not in steps  # replaced on Spark, not on DuckDB


def test_cdnow_gives_the_same_tables_on_both_engines(tmp_path):
    """Real data: lifetimes' full CDNOW log (69,659 purchases of 23,570 buyers, 56,902
    of them by as_of), as typed Parquet so that it stages on Spark. Its money sums tie
    often (many buyers spent the same), which once split an RFM tie by float summation
    order."""
    events = tmp_path / "cdnow.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT user_id, event_time::TIMESTAMP AS event_time, amount FROM "
            f"read_csv('{cdnow_csv('CDNOW_master', tmp_path)}', types = {{'user_id': 'VARCHAR'}})) "
            f"TO '{events}' (FORMAT parquet)"
        )
    warehouses = {}
    for engine in ("duckdb", "spark"):
        folder = tmp_path / engine
        folder.mkdir()
        path = pipeline(folder, events, "1997-12-31", CDNOW_MAPPING)
        text = path.read_text().replace("[run]\n", f'[run]\nengine = "{engine}"\n', 1)
        text = text.replace(f'path = "{events.name}"', f'path = "{events}"')
        path.write_text(text + SPARK_SETTINGS.format(master="local[2]", lake=folder / "lake"))
        warehouses[engine] = run_pipeline(load_pipeline(path)).warehouse
    assert_same_tables(*warehouses.values(), may_be_empty=("rejected_events",))
    with duckdb.connect(str(warehouses["spark"]), read_only=True) as con:
        read, rejected, staged, buyers = con.execute(
            "SELECT rows_read, rows_rejected, rows_staged, (SELECT count(*) FROM user_scores "
            "WHERE m_score IS NOT NULL) FROM runs"
        ).fetchall()[0]
        steps = {row[0] for row in con.execute("SELECT step FROM run_steps").fetchall()}
    assert (read, rejected, staged, buyers) == (69_659, 0, 56_902, 23_570)
    assert "spark dedup" in steps  # staged on Spark


def held_out_users(warehouse: Path) -> set[tuple[str, str, str]]:
    """(product_id, user_id, playbook) of every held-out user of the warehouse's one run."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        query = "SELECT product_id, user_id, playbook FROM playbook_assignments WHERE holdout"
        return set(con.execute(query).fetchall())


def test_spark_standalone_cluster_gives_the_duckdb_tables(duckdb_warehouse, tmp_path):
    with standalone_cluster(tmp_path / "cluster", workers=2) as master:
        spark = run_pipeline(load_pipeline(sample_pipeline(tmp_path, "spark", master)))
        from retention.engines.spark.session import stop_session

        stop_session()
    assert_same_tables(duckdb_warehouse, spark.warehouse)


class standalone_cluster:
    """A Spark standalone master and workers on 127.0.0.1, stopped on exit."""

    def __init__(self, folder: Path, workers: int):
        self.folder, self.workers, self.processes = folder, workers, []

    def __enter__(self) -> str:
        home = Path(pyspark.__file__).parent
        self.folder.mkdir(parents=True)
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
        port, ui = _free_port(), _free_port()
        master = f"spark://127.0.0.1:{port}"
        self._start(home, env, "master.Master", "--host", "127.0.0.1", "--port", str(port),
                    "--webui-port", str(ui))  # fmt: skip
        for number in range(self.workers):
            work = self.folder / f"worker{number}"
            self._start(home, env, "worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                        "--memory", "1g", "--work-dir", str(work), "--webui-port",
                        str(_free_port()), master)  # fmt: skip
        self._wait_for_workers(ui)
        return master

    def _start(self, home: Path, env: dict, main: str, *args: str) -> None:
        log = (self.folder / f"{main}-{len(self.processes)}.log").open("wb")
        command = [str(home / "bin" / "spark-class"), f"org.apache.spark.deploy.{main}", *args]
        self.processes.append(
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        )

    def _wait_for_workers(self, ui: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as page:
                    if json.load(page).get("aliveworkers", 0) >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"the Spark workers did not register; logs in {self.folder}")

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
