"""The BTYD columns of user_features equal lifetimes' own summary on the
bundled sample: frequency, recency and T exactly, monetary_value to 1e-9."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import summary_data_from_transaction_data

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import SAMPLE_PIPELINE, query


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    pipeline = load_pipeline(SAMPLE_PIPELINE).with_overrides(warehouse=out / "w.duckdb")
    pipeline = dataclasses.replace(
        pipeline, run=dataclasses.replace(pipeline.run, keep_staged_events=True)
    )
    result = run_pipeline(pipeline)
    return result, pipeline.run.warehouse


def lifetimes_summary(warehouse, product: str, as_of) -> pd.DataFrame:
    purchases = query(
        warehouse,
        "SELECT user_id, event_time, amount FROM stg_events "
        "WHERE event_type = 'purchase' AND product_id = $product",
        {"product": product},
    )
    return summary_data_from_transaction_data(
        purchases,
        "user_id",
        "event_time",
        "amount",
        observation_period_end=pd.Timestamp(as_of),
        freq="D",
    )


@pytest.mark.parametrize("product", ["shop", "app"])
def test_btyd_columns_equal_lifetimes_summary(sample_run, product):
    result, warehouse = sample_run
    expected = lifetimes_summary(warehouse, product, result.as_of)
    ours = (
        query(
            warehouse,
            'SELECT user_id, frequency, recency, "T", monetary_value FROM latest_features '
            "WHERE product_id = $product AND frequency IS NOT NULL",
            {"product": product},
        )
        .set_index("user_id")
        .loc[expected.index]
    )
    assert len(expected) > 1000
    assert (expected.frequency > 0).sum() > 100
    np.testing.assert_array_equal(ours.frequency.to_numpy(float), expected.frequency.to_numpy())
    np.testing.assert_array_equal(ours.recency.to_numpy(), expected.recency.to_numpy())
    np.testing.assert_array_equal(ours["T"].to_numpy(), expected["T"].to_numpy())
    np.testing.assert_allclose(
        ours.monetary_value.to_numpy(), expected.monetary_value.to_numpy(), rtol=1e-9, atol=0
    )


def test_users_without_purchases_have_no_btyd_inputs(sample_run):
    _, warehouse = sample_run
    rows = query(
        warehouse,
        "SELECT count(*) FILTER (WHERE purchases = 0) AS non_buyers, "
        'count(*) FILTER (WHERE purchases = 0 AND frequency IS NULL AND "T" IS NULL) '
        "AS without_inputs "
        "FROM latest_features",
    )
    assert rows.non_buyers[0] > 0
    assert rows.non_buyers[0] == rows.without_inputs[0]
