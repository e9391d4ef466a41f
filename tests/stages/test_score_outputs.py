"""The scores stage's uncertainty and forecast columns on the bundled sample.

model_params carries stderr and 95% bounds for every fitted parameter;
user_scores carries the 90% bounds, purchase-count probabilities that add up
to 1, future P(alive) and the next-purchase date, and tier rules may name them.
"""

import dataclasses

import pytest

from retention.config.defaults import Rule
from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import SAMPLE_PIPELINE, query


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scores")
    pipeline = load_pipeline(SAMPLE_PIPELINE).with_overrides(warehouse=out / "w.duckdb")
    # a tier rule that names the new columns must be accepted and applied
    rule = Rule("at_risk", "p_alive_in_90d < 0.3 and expected_next_purchase_at is null")
    scores = dataclasses.replace(pipeline.scores, tiers=(rule, *pipeline.scores.tiers))
    pipeline = dataclasses.replace(pipeline, scores=scores)
    result = run_pipeline(pipeline)
    return result, pipeline.run.warehouse


def test_parameters_have_standard_errors_and_bounds(sample_run):
    _, warehouse = sample_run
    rows = query(
        warehouse,
        "SELECT * FROM model_params WHERE model IN ('bgnbd', 'gamma_gamma') "
        "AND param IN ('r', 'alpha', 'a', 'b', 'p', 'q', 'v') AND product_id = 'shop'",
    )
    assert len(rows) == 7
    assert (rows.stderr > 0).all()
    assert (rows.lower_95 < rows.value).all() and (rows.value < rows.upper_95).all()
    assert ((rows.upper_95 - rows.lower_95) / rows.stderr).round(6).eq(3.919928).all()
    others = query(warehouse, "SELECT * FROM model_params WHERE param = 'log_likelihood'")
    assert others.stderr.isna().all()


def test_scores_carry_intervals_probabilities_and_dates(sample_run):
    result, warehouse = sample_run
    scores = query(
        warehouse,
        "SELECT * FROM user_scores WHERE run_id = $run AND p_alive IS NOT NULL",
        {"run": result.run_id},
    )
    assert len(scores) > 1000
    for h in (30, 90, 365):
        total = (
            scores[f"p_no_purchase_{h}d"]
            + scores[f"p_one_purchase_{h}d"]
            + scores[f"p_2plus_purchases_{h}d"]
        )
        assert total.round(9).eq(1).all()
        point = scores[f"expected_purchases_{h}d"]
        assert (scores[f"expected_purchases_{h}d_lower_90"] <= point + 1e-12).all()
        assert (point <= scores[f"expected_purchases_{h}d_upper_90"] + 1e-12).all()
        assert (scores[f"p_alive_in_{h}d"] <= scores.p_alive + 1e-12).all()
    assert (scores.clv_lower_90 <= scores.clv + 1e-9).all()
    assert (scores.clv <= scores.clv_upper_90 + 1e-9).all()
    dated = scores.expected_next_purchase_at.notna()
    assert (scores.p_alive[dated] >= 0.5).all()  # NULL: more likely gone, or > 10 years away
    assert scores.expected_next_purchase_at[scores.p_alive < 0.5].isna().all()
    assert (scores.expected_next_purchase_at[dated].dt.date > result.as_of).all()


def test_a_tier_rule_may_name_the_new_columns(sample_run):
    result, warehouse = sample_run
    tiers = query(
        warehouse,
        "SELECT tier, reason FROM user_tiers WHERE run_id = $run "
        "AND reason LIKE '%p_alive_in_90d%'",
        {"run": result.run_id},
    )
    assert len(tiers) > 0 and set(tiers.tier) == {"at_risk"}


def test_intervals_are_timed_apart_from_the_fits(sample_run):
    # run --profile and the benchmarks tell the point predictions from the draws
    result, warehouse = sample_run
    steps = query(
        warehouse,
        "SELECT step, calls FROM run_steps WHERE run_id = $run_id AND stage = 'scores'",
        {"run_id": result.run_id},
    )
    calls = dict(zip(steps.step, steps.calls, strict=True))
    products = len(result.tiers)
    assert calls["prediction intervals"] == products
    assert calls["purchase and spend models"] == 2 * products  # purchase fit, spend fit
