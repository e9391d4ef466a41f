"""What evaluate and uplift print: no made-up revenue, no scientific notation, no nan%."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from retention.analysis.evaluate import evaluate
from retention.config.pipeline_file import load_pipeline
from retention.report.terminal import evaluation_tables, uplift_table
from retention.results import Evaluation
from tests.conftest import FIXTURES

NO_AMOUNT = (
    '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
    'event_type = "event_type"\nproduct_id = "product_id"\n'
)


def test_revenue_is_null_without_a_mapped_amount(write_pipeline):
    pipeline = load_pipeline(write_pipeline(FIXTURES / "events_tiny.csv", mapping=NO_AMOUNT))
    result = evaluate(pipeline, dt.date(2024, 6, 15), 30)
    assert result.tiers.revenue_per_user.isna().all()
    tier_lines = [
        line
        for line in evaluation_tables(result).splitlines()
        if "%" in line and "PASS" not in line
    ]
    assert tier_lines and all(line.endswith(" n/a") for line in tier_lines)


def test_counts_print_as_whole_numbers():
    result = Evaluation(
        1,
        dt.date(2024, 1, 1),
        90,
        pd.DataFrame(
            {
                "product_id": ["p"],
                "tier": ["core"],
                "users": [10],
                "share_active": [0.5],
                "purchases_per_user": [1.0],
                "revenue_per_user": [2.0],
            }
        ),
        pd.DataFrame(columns=["product_id"]),
        pd.DataFrame(
            {
                "product_id": ["p", "p"],
                "metric": ["buyers_scored", "auc_p_alive"],
                "value": [23570.0, 0.588229],
            }
        ),
    )
    text = evaluation_tables(result)
    assert "buyers_scored: 23,570" in text and "auc_p_alive: 0.5882" in text
    assert "e+" not in text


def test_an_empty_holdout_prints_n_a_not_nan():
    row = {
        "playbook": "win_back",
        "product_id": None,  # pooled: every product
        "metric": "active",
        "sent_users": 3,
        "holdout_users": 0,
        "sent_value": 0.5,
        "holdout_value": math.nan,
        "difference": math.nan,
        "ci_lower": math.nan,
        "ci_upper": math.nan,
        "relative_lift": math.nan,
    }
    text = uplift_table(pd.DataFrame([row, {**row, "product_id": "shop"}]))
    assert "nan" not in text and "n/a" in text
    assert [line.split()[1] for line in text.splitlines()[1:]] == ["all", "shop"]


def test_the_report_card_says_pass_or_fail_and_shows_the_baselines(tmp_path):
    import retention
    from tests.conftest import SAMPLE_PIPELINE

    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, warehouse=tmp_path / "w.duckdb", exports=tmp_path / "exports"
    )
    result = retention.evaluate(pipeline, as_of="2024-03-31", horizon="90D")
    assert result.passed and list(result.checks.passed) == [True, True]
    metrics = set(result.model.metric)
    assert {"auc_recency", "auc_frequency", "auc_expected_purchases", "auc_clv"} <= metrics
    text = evaluation_tables(result)
    assert text.count("PASS share active falls: core_active ") == 2
    assert result.to_dict()["passed"] is True


def test_a_policy_that_breaks_the_ordering_fails():
    tiers = pd.DataFrame(
        {
            "product_id": ["p"] * 3,
            "tier": ["core", "valid", "churned"],
            "users": [100, 100, 100],
            "share_active": [0.5, 0.2, 0.3],
        }
    )
    from retention.analysis.evaluate import ordering_checks

    checks = ordering_checks(tiers)
    assert list(checks.passed) == [False]
    assert checks.detail[0] == "core_active 50.0% > valid 20.0% > churned 30.0%"
