"""Backtest on the bundled sample: tiers scored at 2024-03-31 are checked
against what users did in the next 90 days."""

import datetime as dt

import pytest

from retention.analysis.evaluate import evaluate, parse_horizon
from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError
from tests.conftest import SAMPLE_PIPELINE, query

ORDER = ["core", "active", "valid", "at_risk", "churned"]


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    pipeline = load_pipeline(SAMPLE_PIPELINE).with_overrides(warehouse=out / "w.duckdb")
    return pipeline, evaluate(pipeline, dt.date(2024, 3, 31), 90)


@pytest.mark.parametrize("product", ["shop", "app"])
@pytest.mark.parametrize("metric", ["share_active", "revenue_per_user"])
def test_default_tiers_are_ordered_by_what_users_did_next(backtest, product, metric):
    _, result = backtest
    tiers = result.tiers[result.tiers.product_id == product].set_index("tier")[metric]
    values = [tiers[tier] for tier in ORDER]
    assert values == sorted(values, reverse=True), dict(zip(ORDER, values, strict=True))


@pytest.mark.parametrize("product", ["shop", "app"])
def test_purchase_model_predicts_the_holdout(backtest, product):
    _, result = backtest
    model = result.model[result.model.product_id == product].set_index("metric").value
    assert model.predicted_purchases == pytest.approx(model.actual_purchases, rel=0.2)
    assert model.auc_p_alive > 0.6
    assert model.auc_p_alive_activity > 0.7
    buckets = result.buckets[result.buckets.product_id == product]
    assert list(buckets.bucket) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert buckets.predicted_per_user.is_monotonic_increasing


def test_results_are_stored_in_evaluations(backtest):
    pipeline, result = backtest
    rows = query(
        pipeline.run.warehouse,
        "SELECT * FROM evaluations WHERE evaluation_id = $id",
        {"id": result.evaluation_id},
    )
    assert set(rows.section) == {"tier", "frequency_bucket", "purchase_model", "policy"}
    assert (rows.horizon_days == 90).all()
    core = rows[(rows.section == "tier") & (rows.label == "core") & (rows.metric == "users")]
    assert len(core) == 2  # one per product


@pytest.mark.parametrize(("text", "days"), [("90D", 90), ("13W", 91), ("7d", 7), (" 2w ", 14)])
def test_parse_horizon(text, days):
    assert parse_horizon(text) == days


@pytest.mark.parametrize("text", ["90", "3M", "0D", "-5D", "D"])
def test_parse_horizon_rejects(text):
    with pytest.raises(ConfigError, match=r'expected days or weeks such as "90D" or "13W"'):
        parse_horizon(text)


@pytest.mark.parametrize("product", ["shop", "app"])
def test_next_purchase_dates_are_checked_against_the_holdout(backtest, product):
    """Frequent buyers' dates land within weeks of their next purchase, and about
    p_alive / 2 of the users dated inside the horizon bought by their date."""
    _, result = backtest
    buckets = result.buckets[result.buckets.product_id == product].set_index("bucket")
    assert (buckets.next_purchase_users > 0).all()
    assert buckets.loc["7+", "next_purchase_median_abs_error_days"] < 20
    assert buckets.loc["0", "next_purchase_median_abs_error_days"] > 90  # honest: far off
    model = result.model[result.model.product_id == product].set_index("metric").value
    assert model.next_purchase_by_date_share == pytest.approx(
        model.next_purchase_by_date_expected, abs=0.1
    )
