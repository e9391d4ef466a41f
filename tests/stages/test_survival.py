"""The survival stage: lifetimes, Kaplan-Meier curves, the Cox model and its scores.

The warehouse comes from the real pipeline over a synthetic event log written
here. as_of = 2024-06-30, churn after 90 days unseen. Product `shop` holds a
few hand-made users (ids `h_*`) and 300 generated ones whose lifetimes are
longer when they bought in their first week; product `tiny` has 60 users of
whom only 5 churned, too few for a Cox model.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError
from retention.models.cox import CoxModel, NotFittedError, conditional_survival
from retention.pipeline import run_pipeline
from retention.stages.features import ensure_shared_model
from retention.stages.scores.survival import (
    SurvivalNote,
    SurvivalSettings,
    build_survival,
    km_curve,
    thin_curve,
)
from retention.warehouse.sql_files import run_sql
from tests.conftest import pipeline_text, query

AS_OF = dt.date(2024, 6, 30)
COLUMNS = "event_id,user_id,event_time,event_type,amount,product_id,channel"

# (user_id, event_time, event_type, channel) in product shop
HAND_EVENTS = [
    ("h_churn", "2024-01-10 10:00:00", "visit", "organic"),
    ("h_churn", "2024-01-10 10:05:00", "page_view", "organic"),
    ("h_churn", "2024-01-10 10:10:00", "purchase", "organic"),
    ("h_churn", "2024-01-16 10:00:00", "page_view", "organic"),  # day 6: in the first week
    ("h_churn", "2024-01-17 10:00:00", "page_view", "organic"),  # day 7: after it
    ("h_churn", "2024-02-01 10:00:00", "visit", "organic"),
    ("h_active", "2024-03-01 10:00:00", "visit", "email"),
    ("h_active", "2024-06-20 10:00:00", "visit", "email"),
    ("h_edge90", "2024-03-25 10:00:00", "visit", "ads"),
    ("h_edge90", "2024-04-01 10:00:00", "visit", "ads"),  # exactly 90 days before as_of
    ("h_edge89", "2024-04-02 10:00:00", "visit", "ads"),
    ("h_once", "2024-01-05 10:00:00", "visit", "ads"),
    ("h_new", "2024-06-28 10:00:00", "visit", ""),  # no channel, first week cut by as_of
]

# user_id: (duration_days, is_churned, acquisition_month, acquisition_channel,
#           baseline_days, events_first_7d, active_days_first_7d,
#           page_views_first_7d, purchased_first_7d)
# Durations count the days lived, both ends included: a one-day user lived 1 day.
EXPECTED_LIFETIMES = {
    "h_churn": (23, True, "2024-01", "organic", 7, 4, 2, 2, 1),
    "h_active": (122, False, "2024-03", "email", 7, 1, 1, 0, 0),
    "h_edge90": (8, True, "2024-03", "ads", 7, 1, 1, 0, 0),  # 04-01 is day 7: not counted
    "h_edge89": (90, False, "2024-04", "ads", 7, 1, 1, 0, 0),
    "h_once": (1, True, "2024-01", "ads", 7, 1, 1, 0, 0),
    "h_new": (3, False, "2024-06", "unknown", 3, 1, 1, 0, 0),
}


def shop_events(users: int = 300, seed: int = 1) -> list[tuple]:
    """Users first seen 100..400 days before as_of; 70% churn, buyers about 3x later."""
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp(AS_OF)
    rows = []
    for number in range(users):
        first = as_of - pd.Timedelta(days=int(rng.integers(100, 400)))
        bought = number % 2 == 0
        if rng.random() < 0.7:
            life = pd.Timedelta(days=int(rng.exponential(60 if bought else 20)))
            last = max(first, min(first + life, as_of - pd.Timedelta(days=95)))
        else:
            last = as_of - pd.Timedelta(days=int(rng.integers(0, 60)))
        rows += user_events(f"shop_{number:03d}", first, last, bought, number)
    return rows


def tiny_events() -> list[tuple]:
    """60 users; the first 5 churned (last seen 200 days ago), the rest are active."""
    as_of = pd.Timestamp(AS_OF)
    rows = []
    for number in range(60):
        first = as_of - pd.Timedelta(days=300 if number < 5 else 100)
        last = as_of - pd.Timedelta(days=200 if number < 5 else 5)
        rows += user_events(f"tiny_{number:03d}", first, last, number % 2 == 0, number)
    return rows


def user_events(user: str, first, last, bought: bool, number: int) -> list[tuple]:
    channel = ("organic", "ads", "email")[number % 3]
    rows = [
        (user, first + pd.Timedelta(hours=9), "visit", channel),
        (user, first + pd.Timedelta(hours=9, minutes=1), "page_view", channel),
    ]
    if bought:
        rows.append((user, first + pd.Timedelta(hours=9, minutes=2), "purchase", channel))
    if last > first:
        rows.append((user, last + pd.Timedelta(hours=12), "visit", channel))
    return rows


def write_events(path) -> None:
    lines = [COLUMNS]
    numbered = [("shop", *row) for row in HAND_EVENTS]
    numbered += [("shop", *row) for row in shop_events()]
    numbered += [("tiny", *row) for row in tiny_events()]
    for number, (product, user, time, kind, channel) in enumerate(numbered):
        amount = "10.0" if kind == "purchase" else ""
        lines.append(f"e{number},{user},{time},{kind},{amount},{product},{channel}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """(warehouse path, run_id, notes) after the pipeline and build_survival."""
    folder = tmp_path_factory.mktemp("survival")
    write_events(folder / "events.csv")
    (folder / "pipeline.toml").write_text(pipeline_text(folder / "events.csv"), encoding="utf-8")
    result = run_pipeline(load_pipeline(folder / "pipeline.toml"))
    with duckdb.connect(str(result.warehouse)) as con:
        notes = build_survival(con, result.run_id, result.as_of, SurvivalSettings())
    return result.warehouse, result.run_id, notes


def lifetimes_of(path, run_id: int, product: str) -> pd.DataFrame:
    params = {"run_id": run_id, "as_of": AS_OF, "churn_after_days": 90}
    with duckdb.connect(str(path), read_only=True) as con:
        ensure_shared_model(con, "user_days", params)  # the day roll-up of the staged events
        frame = run_sql(con, "survival/user_lifetimes.sql", params).df()
    return frame[frame["product_id"] == product].sort_values("user_id").reset_index(drop=True)


def test_lifetimes_hand_computed(warehouse):
    path, run_id, _ = warehouse
    lifetimes = lifetimes_of(path, run_id, "shop").set_index("user_id")
    columns = [
        "duration_days",
        "is_churned",
        "acquisition_month",
        "acquisition_channel",
        "baseline_days",
        "events_first_7d",
        "active_days_first_7d",
        "page_views_first_7d",
        "purchased_first_7d",
    ]
    for user, expected in EXPECTED_LIFETIMES.items():
        assert tuple(lifetimes.loc[user, columns]) == expected, user
    stored = query(
        path,
        "SELECT user_id, duration_days, is_churned FROM user_survival "
        "WHERE run_id = $run_id AND user_id LIKE 'h\\_%' ESCAPE '\\'",
        {"run_id": run_id},
    ).set_index("user_id")
    for user, expected in EXPECTED_LIFETIMES.items():
        assert tuple(stored.loc[user]) == (float(expected[0]), expected[1]), user


def test_km_equals_textbook_product_limit():
    # durations 2, 3 (censored), 3, 5: S(2) = 3/4, S(3) = 3/4 * 2/3, S(5) = 0
    curve = km_curve(
        np.array([2.0, 3.0, 3.0, 5.0]),
        np.array([True, False, True, True]),
        np.array([1, 1, 1, 1]),
    ).set_index("timeline_days")
    assert curve["survival"].to_dict() == pytest.approx({0.0: 1.0, 2.0: 0.75, 3.0: 0.5, 5.0: 0.0})
    assert curve["at_risk"].to_dict() == {0.0: 4, 2.0: 4, 3.0: 3, 5.0: 1}
    assert curve["churned"].to_dict() == {0.0: 0, 2.0: 1, 3.0: 1, 5.0: 1}


def test_weighted_km_equals_unweighted():
    rng = np.random.default_rng(7)
    durations = rng.integers(0, 40, 500).astype(float)
    churned = rng.random(500) < 0.6
    counts = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([durations, churned]))
        .groupby(level=[0, 1])
        .sum()
    )
    weighted = km_curve(
        counts.index.get_level_values(0).to_numpy(float),
        counts.index.get_level_values(1).to_numpy(bool),
        counts.to_numpy(),
    ).set_index("timeline_days")
    plain = KaplanMeierFitter().fit(durations, churned)
    expected = plain.survival_function_.join(plain.confidence_interval_)
    np.testing.assert_allclose(weighted["survival"], expected.iloc[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(weighted["ci_lower"], expected.iloc[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(weighted["ci_upper"], expected.iloc[:, 2], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(weighted["at_risk"], plain.event_table["at_risk"])


def test_thin_curve_keeps_exact_values_and_totals():
    days = np.arange(0, 2000, dtype=float)
    full = km_curve(days, np.ones(2000, dtype=bool), np.full(2000, 3))
    assert len(full) <= 400
    plain = KaplanMeierFitter().fit(np.repeat(days, 3), np.ones(6000, dtype=bool))
    exact = plain.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(full["survival"], exact.loc[full["timeline_days"]], atol=1e-12)
    assert full["churned"].sum() == 6000
    assert full["timeline_days"].iloc[0] == 0.0 and full["at_risk"].iloc[0] == 6000
    unthinned = thin_curve(full, 1000)
    assert unthinned is full


def test_vectorised_conditional_survival_equals_lifelines(warehouse):
    path, run_id, _ = warehouse
    lifetimes = lifetimes_of(path, run_id, "shop")
    model = CoxModel().fit(lifetimes[lifetimes["baseline_days"] == 7])
    users = lifetimes[~lifetimes["is_churned"]].head(8)
    ours = model.predict_active(users, (30, 90))
    design = model.design(users)
    for horizon in (30, 90):
        expected = model.fitter_.predict_survival_function(
            design, times=[horizon], conditional_after=users["duration_days"].to_numpy(float)
        )
        np.testing.assert_allclose(ours[horizon], expected.to_numpy()[0], rtol=0, atol=1e-6)
    baseline = model.fitter_.baseline_cumulative_hazard_.iloc[:, 0]
    far = conditional_survival(baseline, np.zeros(1), np.array([1e6]), 30)
    assert far[0] == 1.0  # past the last fitted time the baseline hazard is flat


def test_cox_model_must_be_fitted_first():
    with pytest.raises(NotFittedError, match="call fit"):
        CoxModel().hazard_ratios()


def test_scores_every_user_and_churned_users_get_null(warehouse):
    path, run_id, _ = warehouse
    scores = query(path, "SELECT * FROM user_survival WHERE run_id = $r", {"r": run_id})
    users = query(
        path, "SELECT product_id, user_id FROM user_features WHERE run_id = $r", {"r": run_id}
    )
    assert len(scores) == len(users) == len(scores[["product_id", "user_id"]].drop_duplicates())
    shop = scores[scores["product_id"] == "shop"]
    churned, censored = shop[shop["is_churned"]], shop[~shop["is_churned"]]
    assert churned[["p_active_30d", "p_active_90d"]].isna().all().all()
    assert censored[["p_active_30d", "p_active_90d"]].notna().all().all()
    assert ((censored["p_active_90d"] > 0) & (censored["p_active_30d"] <= 1)).all()
    assert (censored["p_active_90d"] <= censored["p_active_30d"]).all()


def test_hazard_ratios_and_notes(warehouse):
    path, run_id, notes = warehouse
    ratios = query(path, "SELECT * FROM hazard_ratios WHERE run_id = $r", {"r": run_id}).set_index(
        "covariate"
    )
    assert set(ratios["product_id"]) == {"shop"}
    # buyers were generated to live longer: a lower churn hazard
    assert ratios.loc["purchased_first_7d", "hazard_ratio"] < 1
    assert np.allclose(ratios["hazard_ratio"], np.exp(ratios["coef"]))
    shop = {note.param: note for note in notes if note.product_id == "shop" and note.model == "cox"}
    assert 0.5 < shop["concordance"].value <= 1
    assert shop["n_fit_users"].value == 305  # all but h_new (first week cut by as_of)


def test_product_with_few_churn_events_is_skipped_with_a_note(warehouse):
    path, run_id, notes = warehouse
    assert (
        SurvivalNote(
            "tiny",
            "cox",
            "fallback",
            None,
            "skipped: 5 observed churn events among 60 users, need 20",
        )
        in notes
    )
    scores = query(
        path, "SELECT * FROM user_survival WHERE run_id = $r AND product_id = 'tiny'", {"r": run_id}
    )
    assert len(scores) == 60 and scores["p_active_30d"].isna().all()
    curves = query(
        path,
        "SELECT group_kind, count(*) AS n FROM survival_curves "
        "WHERE run_id = $r AND product_id = 'tiny' GROUP BY group_kind",
        {"r": run_id},
    )
    assert set(curves["group_kind"]) == {"all", "acquisition_month", "acquisition_channel"}


def test_sampled_fit_still_scores_every_user(warehouse, tmp_path):
    path, run_id, _ = warehouse
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    settings = SurvivalSettings(max_fit_users=80, seed=3, horizons_days=(7, 30, 90))
    with duckdb.connect(str(copy)) as con:
        notes = build_survival(con, run_id, AS_OF, settings)
    fitted = [n.value for n in notes if n.product_id == "shop" and n.param == "n_fit_users"]
    assert fitted == [80]
    scores = query(copy, "SELECT * FROM user_survival WHERE product_id = 'shop'")
    assert len(scores) == 306  # rerunning the same run replaced its rows
    censored = scores[~scores["is_churned"]]
    assert censored[["p_active_7d", "p_active_30d", "p_active_90d"]].notna().all().all()
    assert (censored["p_active_7d"] >= censored["p_active_30d"]).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"churn_after_days": 0},
        {"max_fit_users": -5},
        {"horizons_days": ()},
        {"horizons_days": (30, 0)},
    ],
)
def test_bad_settings_say_what_is_wrong(kwargs):
    with pytest.raises(ConfigError, match="survival"):
        SurvivalSettings(**kwargs)


def test_the_curve_starts_at_one_without_a_day_zero_cliff(warehouse):
    """Single-day users lived 1 day: nobody is "dead at day 0"."""
    path, run_id, _ = warehouse
    curve = query(
        path,
        "SELECT timeline_days, survival FROM survival_curves WHERE run_id = $r "
        "AND product_id = 'shop' AND group_kind = 'all' ORDER BY timeline_days",
        {"r": run_id},
    )
    assert curve.timeline_days.min() >= 0
    assert curve.survival[curve.timeline_days < 1].min() == 1.0
