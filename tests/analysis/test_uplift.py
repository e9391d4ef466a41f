"""Uplift on generated data: a known injected campaign effect is found, and
with no effect the 95% interval covers zero."""

import numpy as np
import pandas as pd
import pytest

from retention.analysis.uplift import compare_arms, measure_uplift
from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import query
from tests.stages.test_playbooks import MAPPING, write_sources

USERS = 3000
CAMPAIGN = (
    '[source.contacts]\npath = "contacts.csv"\n[[playbooks]]\nname = "mails"\n'
    'tiers = ["active"]\nchannels = ["email"]\nholdout_share = 0.5\n'
    "[exports]\nmax_contacts = 0\n"
)


def campaign_with_response(write_pipeline, tmp_path, sent_rate: float, holdout_rate: float):
    """Run a campaign at 2024-06-30, then add what users did in July."""
    users = {f"u{i:05d}": (f"u{i}@example.com", "", "yes", "no") for i in range(USERS)}
    events = write_sources(tmp_path, users=users)
    path = write_pipeline(events, mapping=MAPPING, extra=CAMPAIGN)
    result = run_pipeline(load_pipeline(path))
    arms = query(
        load_pipeline(path).run.warehouse,
        "SELECT user_id, holdout FROM playbook_assignments WHERE playbook = 'mails' "
        "ORDER BY user_id",  # the seeded draws must meet the same users every time
    )
    rng = np.random.default_rng(7)
    rate = np.where(arms.holdout, holdout_rate, sent_rate)
    responders = arms.user_id[rng.random(len(arms)) < rate]
    with open(events, "a") as out:
        out.writelines(f"{user},2024-07-10 12:00:00,visit\n" for user in responders)
    return measure_uplift(load_pipeline(path), result.run_id, 30)


def active_row(results):
    return results[(results.playbook == "mails") & (results.metric == "active")].iloc[0]


def test_injected_effect_is_found(write_pipeline, tmp_path):
    row = active_row(campaign_with_response(write_pipeline, tmp_path, 0.5, 0.2))
    assert row.sent_users + row.holdout_users == USERS
    assert 0.4 < row.holdout_users / USERS < 0.6
    assert row.difference == pytest.approx(0.3, abs=0.05)
    assert row.ci_lower > 0.2
    assert row.relative_lift == pytest.approx(1.5, abs=0.4)


def test_no_effect_interval_covers_zero(write_pipeline, tmp_path):
    row = active_row(campaign_with_response(write_pipeline, tmp_path, 0.3, 0.3))
    assert row.ci_lower < 0 < row.ci_upper
    assert abs(row.difference) < 0.05


def test_results_are_stored(write_pipeline, tmp_path):
    campaign_with_response(write_pipeline, tmp_path, 0.3, 0.3)
    stored = query(tmp_path / "out" / "retention.duckdb", "SELECT * FROM uplift_results")
    assert set(stored.metric) == {"active", "purchases", "revenue"}
    assert (stored.horizon_days == 30).all()
    # the pooled rows and the one product's ('default'), which count the same users
    assert stored.product_id.isna().sum() == 3
    assert set(stored.product_id.dropna()) == {"default"}


def test_each_product_gets_its_own_comparison_beside_the_pooled_one():
    """By hand: in "app" the sent users are active 3 of 4 against 1 of 4 held out; in
    "shop" 1 of 2 on both sides; pooled, 4 of 6 against 2 of 6."""
    arms = [("app", "sent", a) for a in (1, 1, 1, 0)] + [
        ("app", "holdout", a) for a in (1, 0, 0, 0)
    ]
    arms += [("shop", "sent", a) for a in (1, 0)] + [("shop", "holdout", a) for a in (1, 0)]
    outcomes = pd.DataFrame(
        [
            {"product_id": product, "user_id": f"u{i}", "playbook": "mails", "arm": arm,
             "active": float(active), "purchases": 0.0, "revenue": 0.0}
            for i, (product, arm, active) in enumerate(arms)
        ]
    )  # fmt: skip
    results = compare_arms(outcomes)
    active = results[results.metric == "active"].set_index("product_id", drop=False)
    assert list(active.product_id) == [None, "app", "shop"]  # pooled first
    by_product = {
        row.product_id: (row.sent_users, row.holdout_users, row.difference)
        for row in active.itertuples()
    }
    assert by_product["app"] == (4, 4, pytest.approx(0.5))
    assert by_product["shop"] == (2, 2, pytest.approx(0.0))
    assert by_product[None] == (6, 6, pytest.approx(4 / 6 - 2 / 6))
