"""[scores] covariates on the bundled sample: coefficients in model_params, per-user
scores from each user's covariates, and the backtest's plain-vs-covariate figures."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

from retention.analysis.evaluate import evaluate
from retention.config.pipeline_file import load_pipeline
from retention.models import BetaGeoModel, customer_lifetime_value
from retention.pipeline import run_pipeline
from tests.conftest import SAMPLE_PIPELINE, query

COVARIATES = ("acquisition_channel", "log_first_order_value")


def with_covariates(tmp_path):
    pipeline = load_pipeline(SAMPLE_PIPELINE).with_overrides(
        warehouse=tmp_path / "w.duckdb", exports=tmp_path / "exports"
    )
    # few draws: the intervals are tested in test_score_outputs.py
    scores = dataclasses.replace(pipeline.scores, covariates=COVARIATES, interval_draws=5)
    return dataclasses.replace(pipeline, scores=scores)  # staged events are not kept


@pytest.fixture(scope="module")
def covariate_run(tmp_path_factory):
    pipeline = with_covariates(tmp_path_factory.mktemp("covariates"))
    return run_pipeline(pipeline), pipeline.run.warehouse


def params(warehouse, run_id):
    rows = query(
        warehouse,
        "SELECT * FROM model_params WHERE run_id = $run AND model = 'bgnbd_covariates' "
        "AND product_id = 'shop'",
        {"run": run_id},
    )
    return rows.set_index("param")


def test_coefficients_and_their_intervals_are_in_model_params(covariate_run):
    result, warehouse = covariate_run
    rows = params(warehouse, result.run_id)
    gammas = rows[rows.index.str.startswith("gamma_")]
    assert "gamma_acquisition_channel=paid_search" in gammas.index
    assert "gamma_log_first_order_value" in gammas.index
    assert "gamma_acquisition_channel=organic" not in gammas.index  # the reference level
    assert (gammas.stderr > 0).all()
    assert np.allclose(gammas.lower_95, gammas.value - 1.959964 * gammas.stderr)
    assert rows.note["reference_acquisition_channel"].endswith(": organic")
    assert rows.value["converged"] == 1
    assert rows.value["log_likelihood"] > rows.value["log_likelihood_without_covariates"]
    # the plain fit stays, under its own name
    plain = query(warehouse, "SELECT * FROM model_params WHERE model = 'bgnbd'")
    assert {"r", "alpha", "a", "b"} <= set(plain.param)


def test_user_scores_use_each_users_covariates(covariate_run):
    result, warehouse = covariate_run
    rows = params(warehouse, result.run_id).value
    users = query(
        warehouse,
        "SELECT s.*, f.acquisition_channel FROM user_scores s JOIN user_features f "
        "USING (run_id, product_id, user_id) WHERE s.run_id = $run AND s.product_id = 'shop' "
        "AND s.frequency > 0 AND f.acquisition_channel = 'paid_search' ORDER BY s.user_id LIMIT 5",
        {"run": result.run_id},
    )
    assert len(users) == 5
    amounts = (
        query(  # each user's first purchase day total, as the features stage keeps it
            warehouse,
            "SELECT user_id, first_order_value AS amount FROM user_features "
            "WHERE run_id = $run AND product_id = 'shop' AND first_order_value IS NOT NULL",
            {"run": result.run_id},
        )
        .set_index("user_id")
        .amount
    )
    for user in users.itertuples():
        bucket = np.round(4 * np.log(amounts[user.user_id])) / 4
        z = (bucket - rows["mean_log_first_order_value"]) / rows["sd_log_first_order_value"]
        eta = (
            rows["gamma_acquisition_channel=paid_search"] + rows["gamma_log_first_order_value"] * z
        )
        model = BetaGeoModel.from_params(
            {"r": rows.r, "alpha": rows.alpha * np.exp(-eta), "a": rows.a, "b": rows.b},
            one_time_buyer_correction=False,
        )
        expected = model.expected_purchases(90, user.frequency, user.recency, user.t)
        assert user.expected_purchases_90d == pytest.approx(float(expected), rel=1e-9)
        factor = customer_lifetime_value(
            model,
            user.frequency,
            user.recency,
            user.t,
            1.0,
            months=12,
            monthly_discount_rate=0.01,
            unit_days=1,
        )
        assert user.clv == pytest.approx(user.expected_average_value * float(factor), rel=1e-9)


def test_every_buyer_keeps_a_score(covariate_run):
    result, warehouse = covariate_run
    scored = query(
        warehouse,
        "SELECT count(*) AS n, count(p_alive) AS alive FROM user_scores WHERE run_id = $run",
        {"run": result.run_id},
    )
    assert scored.alive[0] > 1000


def test_backtest_compares_the_covariate_and_the_plain_fit(tmp_path):
    pipeline = with_covariates(tmp_path)
    scores = dataclasses.replace(pipeline.scores, interval_draws=0)
    pipeline = dataclasses.replace(pipeline, scores=scores)
    evaluation = evaluate(pipeline, dt.date(2024, 3, 31), 90)
    stored = query(
        pipeline.run.warehouse,
        "SELECT product_id, metric, value FROM evaluations WHERE section = 'purchase_model' "
        "AND (metric LIKE '%covariates%' OR metric LIKE '%plain')",
    )
    shop = stored[stored.product_id == "shop"].set_index("metric").value
    for label in ("plain", "covariates"):
        assert -5 < shop[f"holdout_log_likelihood_per_user_{label}"] < 0
        assert 0 <= shop[f"calibration_error_{label}"] < 1
    better = (
        shop["holdout_log_likelihood_per_user_covariates"]
        > shop["holdout_log_likelihood_per_user_plain"]
    )
    assert shop["covariates_improve_log_likelihood"] == float(better)
    assert set(evaluation.model.metric) >= {"covariates_improve_calibration"}
