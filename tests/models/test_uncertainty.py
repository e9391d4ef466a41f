"""Standard errors and 95% intervals of the fitted parameters.

Against lifetimes' `summary` (BG/NBD, MBG/NBD, Gamma-Gamma on its CDNOW data),
against a value-only second-difference Hessian of lifetimes' own Pareto/NBD
likelihood (lifetimes has no Pareto/NBD summary), and against simulation:
intervals from data simulated at known parameters cover them about 95% of
the time over seeded repeats.
"""

from __future__ import annotations

from pathlib import Path

import lifetimes
import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from retention.models import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from retention.models.intervals import prediction_intervals
from retention.models.uncertainty import Z_95, draw_models, parameter_table

LIFETIMES_DATA = Path(lifetimes.__file__).parent / "datasets"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary.csv", index_col=[0])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (BetaGeoModel(one_time_buyer_correction=False), BetaGeoFitter()),
        (ModifiedBetaGeoModel(), ModifiedBetaGeoFitter()),
    ],
)
def test_standard_errors_equal_lifetimes_summary(cdnow, ours, theirs):
    rfm = cdnow.frequency, cdnow.recency, cdnow["T"]
    ours.fit(*rfm)
    summary = theirs.fit(*rfm).summary
    for name, (_, stderr, lower, upper) in parameter_table(ours).items():
        assert stderr == pytest.approx(summary.loc[name, "se(coef)"], rel=1e-3)
        assert lower == pytest.approx(summary.loc[name, "lower 95% bound"], rel=1e-3)
        assert upper == pytest.approx(summary.loc[name, "upper 95% bound"], rel=1e-3)


def test_bgnbd_standard_errors_on_cdnow_are_the_known_ones(cdnow):
    """lifetimes 0.11.3's summary on its CDNOW sample (se of r, alpha, a, b)."""
    model = BetaGeoModel(one_time_buyer_correction=False).fit(
        cdnow.frequency, cdnow.recency, cdnow["T"]
    )
    stderr = [parameter_table(model)[name][1] for name in ("r", "alpha", "a", "b")]
    assert stderr == pytest.approx([0.012557, 0.378221, 0.185719, 0.705345], rel=1e-4)


def test_gamma_gamma_standard_errors_equal_lifetimes_summary():
    data = pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary_with_transactions.csv")
    data.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    buyers = data[data.frequency > 0]
    ours = GammaGammaModel().fit(buyers.frequency, buyers.monetary_value)
    summary = GammaGammaFitter().fit(buyers.frequency, buyers.monetary_value).summary
    for name, (_, stderr, lower, upper) in parameter_table(ours).items():
        assert stderr == pytest.approx(summary.loc[name, "se(coef)"], rel=1e-3)
        assert (lower, upper) == pytest.approx(
            (summary.loc[name, "lower 95% bound"], summary.loc[name, "upper 95% bound"]), rel=1e-3
        )


def test_pareto_nbd_standard_errors_equal_a_hessian_of_lifetimes_likelihood(cdnow):
    model = ParetoNBDModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    theta = np.log(list(model.params_.values()))
    x, t_x, age = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    weights = np.ones(len(x))

    def nll(log_params):  # lifetimes' total negative log-likelihood, per user, in logs
        params = np.exp(log_params)
        return ParetoNBDFitter._negative_log_likelihood(params, x, t_x, age, weights, 0.0) / len(x)

    step, k = 1e-3, len(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * step, np.eye(k)[j] * step
            hessian[i, j] = (
                nll(theta + e_i + e_j)
                - nll(theta + e_i - e_j)
                - nll(theta - e_i + e_j)
                + nll(theta - e_i - e_j)
            ) / (4 * step**2)
    expected = np.exp(theta) * np.sqrt(np.diag(np.linalg.inv(hessian)) / len(x))
    ours = [parameter_table(model)[name][1] for name in model.param_names]
    assert ours == pytest.approx(expected, rel=1e-3)


def test_a_stored_fit_has_no_standard_errors():
    model = BetaGeoModel.from_params({"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.4})
    assert all(np.isnan(row[1]) for row in parameter_table(model).values())
    assert draw_models(model, 10, seed=0) == []


TRUTH = {"r": 0.5, "alpha": 8.0, "a": 0.7, "b": 2.5}


def simulate_bgnbd(n: int, r, alpha, a, b, max_days: int, seed: int) -> pd.DataFrame:
    """BG/NBD users in continuous time (no rounding to days, which biases a fit with
    alpha of a few days enough to show in a coverage test)."""
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    age = rng.integers(1, max_days + 1, n).astype(float)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(arrivals, rng.geometric(dropout))
    last = np.where(x > 0, rng.beta(np.maximum(x, 1), arrivals - x + 1) * age, 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": last, "T": age})


def test_intervals_cover_the_true_parameters_about_95_percent_of_the_time():
    covered = []
    for seed in range(40):
        data = simulate_bgnbd(1500, **TRUTH, max_days=200, seed=seed)
        model = BetaGeoModel(one_time_buyer_correction=False).fit(
            data.frequency, data.recency, data["T"]
        )
        table = parameter_table(model)
        covered += [table[k][2] <= v <= table[k][3] for k, v in TRUTH.items()]
    assert 0.88 <= np.mean(covered) <= 1.0, np.mean(covered)


def test_draws_are_seeded_and_centred_on_the_fit(cdnow):
    model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    first, again = draw_models(model, 400, seed=3), draw_models(model, 400, seed=3)
    r = np.array([m.params_["r"] for m in first])
    assert np.array_equal(r, [m.params_["r"] for m in again])
    assert np.median(r) == pytest.approx(model.params_["r"], rel=0.01)
    se = parameter_table(model)["r"][1]
    assert np.std(np.log(r)) * model.params_["r"] == pytest.approx(se, rel=0.1)
    assert Z_95 == pytest.approx(1.959964, abs=1e-6)


def test_prediction_intervals_cover_the_truth_about_90_percent_of_the_time():
    """The true model's expected purchases for a few histories fall inside the
    90% intervals of fits on simulated data about 90% of the time."""
    histories = (np.array([0.0, 1, 3, 8]), np.array([0.0, 30, 120, 180]), np.full(4, 200.0))
    truth = BetaGeoModel.from_params(TRUTH, one_time_buyer_correction=False)
    true_values = truth.expected_purchases(60, *histories)
    covered = []
    for seed in range(30):
        data = simulate_bgnbd(1500, **TRUTH, max_days=200, seed=100 + seed)
        model = BetaGeoModel(one_time_buyer_correction=False).fit(
            data.frequency, data.recency, data["T"]
        )
        bounds = prediction_intervals(
            model, *histories, [60.0], months=2, monthly_discount_rate=0.0, unit_days=1,
            n_draws=200, seed=seed,
        )  # fmt: skip
        lower, upper = bounds["60.0"]
        point = model.expected_purchases(60, *histories)
        assert (lower <= point).all() and (point <= upper).all()
        covered += list((lower <= true_values) & (true_values <= upper))
    assert 0.78 <= np.mean(covered) <= 1.0, np.mean(covered)


def test_clv_factor_interval_brackets_the_point_estimate(cdnow):
    from retention.models.clv import customer_lifetime_value

    model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    rows = cdnow.iloc[:50]
    rfm = [rows[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    bounds = prediction_intervals(
        model, *rfm, [4.0], months=12, monthly_discount_rate=0.01, unit_days=7,
        n_draws=200, seed=0,
    )  # fmt: skip
    point = customer_lifetime_value(model, *rfm, np.ones(50), unit_days=7)
    lower, upper = bounds["clv_factor"]
    assert (lower < point).all() and (point < upper).all()
    assert np.median(upper / lower) < 1.5  # 2,357 users pin the parameters down


def test_prediction_intervals_do_not_depend_on_the_number_of_cores(cdnow, monkeypatch):
    # the draws and blocks are shared out over threads; every bound is the one
    # a single thread computes, bit for bit
    import retention.models.intervals as intervals

    model = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    rfm = [cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    monkeypatch.setattr(intervals, "BLOCK", 500)  # several blocks per key
    results = []
    for cores in (1, 4):
        monkeypatch.setattr(intervals.os, "cpu_count", lambda cores=cores: cores)
        settings = {"months": 12, "monthly_discount_rate": 0.01, "unit_days": 7}
        bounds = prediction_intervals(model, *rfm, [4.0, 52.0], **settings, n_draws=50, seed=3)
        results.append(bounds)
    assert results[0].keys() == results[1].keys() == {"4.0", "52.0", "clv_factor"}
    for key, (lower, upper) in results[0].items():
        np.testing.assert_array_equal(lower, results[1][key][0])
        np.testing.assert_array_equal(upper, results[1][key][1])
        assert (lower <= upper).all()
