"""The Python API (`import retention`) and the commands' --json output.

Arrange and assert with the API, act with the API or with the command line;
the JSON a command prints must be the API result's to_dict().
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json

import duckdb
import pytest
from click.testing import CliRunner

import retention
from retention.cli import main
from tests.conftest import FIXTURES, SAMPLE_PIPELINE, query


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The bundled sample pipeline, run once through the API into a folder of the test's."""
    out = tmp_path_factory.mktemp("api")
    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, warehouse=out / "w.duckdb", exports=out / "exports"
    )
    return pipeline, retention.run(pipeline, as_of="2024-06-30")


def test_run_returns_what_the_warehouse_holds(sample_run):
    pipeline, result = sample_run
    assert result.as_of == dt.date(2024, 6, 30)
    tiers = query(
        result.warehouse,
        "SELECT product_id, tier, count(*) AS users FROM latest_tiers GROUP BY ALL",
    )
    stored = {(r.product_id, r.tier): r.users for r in tiers.itertuples()}
    returned = {(p, t): n for p, by_tier in result.tiers.items() for t, n in by_tier.items()}
    assert returned == stored
    users = query(
        result.warehouse, "SELECT product_id, count(*) AS n FROM latest_features GROUP BY 1"
    )
    assert result.users == dict(zip(users.product_id, users.n, strict=True))
    runs = query(
        result.warehouse,
        "SELECT run_id, rows_read, rows_staged FROM runs WHERE status = 'published'",
    )
    assert (result.run_id, result.counts.rows_read, result.counts.rows_staged) == tuple(
        runs.iloc[0]
    )
    assert [stage.stage for stage in result.stages][:2] == ["staging", "features"]
    assert result.export_dir is not None and result.export_dir.parent == pipeline.run.exports


def test_run_result_is_frozen_and_its_dict_is_json(sample_run):
    _, result = sample_run
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.run_id = 99
    document = json.loads(json.dumps(result.to_dict()))
    assert document["as_of"] == "2024-06-30"
    assert document["counts"]["rows_read"] == result.counts.rows_read
    assert document["tiers"] == result.tiers
    assert document["users"] == result.users
    assert document["warehouse"] == str(result.warehouse)
    assert document["stages"][0] == {
        "stage": "staging",
        "seconds": result.stages[0].seconds,
        "rows": result.counts.rows_staged,
    }


def test_load_pipeline_overrides_win_over_the_file(tmp_path):
    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, as_of="2024-01-31", warehouse=tmp_path / "w.duckdb"
    )
    assert pipeline.run.as_of == dt.date(2024, 1, 31)
    assert pipeline.run.warehouse == (tmp_path / "w.duckdb").resolve()


def test_load_pipeline_names_an_unknown_override():
    with pytest.raises(retention.RetentionError) as error:
        retention.load_pipeline(SAMPLE_PIPELINE, warehous="x.duckdb")
    assert str(error.value) == (
        "load_pipeline: unknown override warehous; overrides are: as_of, warehouse, exports"
    )


def test_a_bad_as_of_is_one_sentence():
    with pytest.raises(retention.RetentionError, match=r'as_of "June": expected a date'):
        retention.run(SAMPLE_PIPELINE, as_of="June")


def test_connect_reads_but_cannot_write_or_reach_files(sample_run):
    _, result = sample_run
    with retention.connect(result.warehouse) as con:
        tiered = con.execute("SELECT count(*) FROM latest_tiers").fetchone()[0]
        assert tiered == sum(result.users.values())
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE mine AS SELECT 1")
        with pytest.raises(duckdb.Error):
            con.execute(f"SELECT * FROM read_csv('{FIXTURES / 'events_tiny.csv'}')")
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")


def test_connect_to_a_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(retention.RetentionError, match="does not exist"):
        retention.connect(tmp_path / "nothing.duckdb")


def test_load_model_rebuilds_the_stored_fit(sample_run):
    _, result = sample_run
    model = retention.load_model(result.warehouse, "shop", "bgnbd")
    params = query(
        result.warehouse,
        "SELECT param, value FROM model_params WHERE run_id = $run AND product_id = 'shop' "
        "AND model = 'bgnbd' AND param IN ('r', 'alpha', 'a', 'b')",
        {"run": result.run_id},
    )
    assert model.params_ == dict(zip(params.param, params.value, strict=True))
    scores = query(
        result.warehouse,
        "SELECT frequency, recency, t, p_alive FROM latest_scores "
        "WHERE product_id = 'shop' AND p_alive IS NOT NULL LIMIT 500",
    )
    repeat = scores.frequency > 0  # one-time buyers' P(alive) takes the dropout formula
    predicted = model.p_alive(scores.frequency, scores.recency, scores.t)
    assert predicted[repeat] == pytest.approx(scores.p_alive[repeat].to_numpy(), rel=1e-9)
    expected = query(
        result.warehouse,
        "SELECT frequency, recency, t, expected_purchases_90d FROM latest_scores "
        "WHERE product_id = 'shop' AND expected_purchases_90d IS NOT NULL LIMIT 500",
    )
    again = model.expected_purchases(90, expected.frequency, expected.recency, expected.t)
    assert again == pytest.approx(expected.expected_purchases_90d.to_numpy(), rel=1e-9)


def test_load_model_names_what_is_there(sample_run):
    _, result = sample_run
    with pytest.raises(retention.RetentionError) as error:
        retention.load_model(result.warehouse, "nope", "bgnbd")
    assert "products with fits are: app, shop" in str(error.value)
    with pytest.raises(retention.RetentionError, match='model "cox": not a stored model'):
        retention.load_model(result.warehouse, "shop", "cox")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args] + ["--quiet"])


def test_run_json_is_the_results_dict(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    printed = invoke("run", pipeline, "--json")
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.stdout)  # one object, nothing else on stdout
    again = retention.run(pipeline).to_dict()
    assert document["run_id"] == 1 and again["run_id"] == 2
    for key in ("as_of", "counts", "tiers", "users", "assignments", "warehouse"):
        assert document[key] == again[key], key


def test_json_errors_are_json_too(write_pipeline):
    printed = invoke("run", write_pipeline(FIXTURES / "events_bad_rows.csv"), "--json")
    assert printed.exit_code == 4
    document = json.loads(printed.stdout)
    assert document["exit_code"] == 4
    assert document["error"].startswith("11 of 13 rows (84.6%) were rejected")
    assert printed.stderr.startswith("Error: 11 of 13 rows")


def test_export_json_is_the_results_dict(sample_run):
    pipeline, result = sample_run
    exported = retention.export(pipeline, playbook="win_back")
    document = json.loads(json.dumps(exported.to_dict()))
    assert document["run_id"] == result.run_id
    assert document["folder"] == str(exported.folder)
    files = document["manifest"]["files"]
    generic = [entry for entry in files if entry["profile"] == "generic"]
    assert generic and {entry["file"].split("__")[0] for entry in generic} == {"win_back"}
    with open(exported.folder / "klaviyo" / "email.csv", newline="", encoding="utf-8") as handle:
        tags = [json.loads(row["Retention Tags"]) for row in csv.DictReader(handle)]
    assert tags and all(row[0] == "win_back" for row in tags)  # the tool files obey the filter


def test_export_and_uplift_commands_print_json(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    assert invoke("run", pipeline).exit_code == 0
    exported = invoke("export", pipeline, "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["run_id"] == 1
    measured = invoke("uplift", pipeline, "--run", "1", "--horizon", "30D", "--json")
    assert measured.exit_code == 0, measured.output
    assert json.loads(measured.stdout) == {"run_id": 1, "horizon_days": 30, "results": []}


def test_uplift_through_the_api(sample_run):
    pipeline, result = sample_run
    measured = retention.uplift(pipeline, run_id=result.run_id, horizon="30D")
    rows = json.loads(json.dumps(measured.to_dict()))["results"]
    assert {row["metric"] for row in rows} == {"active", "purchases", "revenue"}
    pooled = [row for row in rows if row["product_id"] is None]
    assert len(pooled) == 3 * measured.results.playbook.nunique() > 0
    assert {row["product_id"] for row in rows} - {None} <= {"app", "shop"}
    for row in pooled:  # the pooled row counts every product's users
        parts = [
            r
            for r in rows
            if r["product_id"] is not None
            and (r["playbook"], r["metric"]) == (row["playbook"], row["metric"])
        ]
        assert parts and sum(r["sent_users"] for r in parts) == row["sent_users"]
        assert sum(r["holdout_users"] for r in parts) == row["holdout_users"]


def test_help_lists_the_api():
    text = retention.__doc__
    for name in (
        "load_pipeline",
        "run",
        "evaluate",
        "compare",
        "export",
        "uplift",
        "connect",
        "load_model",
    ):
        assert f"{name}(" in text
        assert callable(getattr(retention, name))


def test_t_and_T_name_the_same_column_in_features_and_scores(sample_run):
    """lifetimes' `T` in latest_features and the contract's `t` in latest_scores are one
    name to DuckDB (identifiers ignore case), so either spelling works in both."""
    _, result = sample_run
    with retention.connect(result.warehouse) as con:
        same = con.execute(
            "SELECT count(*) FROM latest_features f JOIN latest_scores s "
            "USING (product_id, user_id) WHERE f.t IS NOT DISTINCT FROM s.T"
        ).fetchone()[0]
        total = con.execute("SELECT count(*) FROM latest_scores").fetchone()[0]
    assert same == total
