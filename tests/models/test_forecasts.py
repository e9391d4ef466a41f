"""Purchase-count probabilities, future P(alive) and the median wait to the next purchase.

BG/NBD's new-user pmf against lifetimes' probability_of_n_purchases_up_to_time;
MBG/NBD's against lifetimes' (Batislam et al.'s closed form); the conditional
Pareto/NBD pmf against lifetimes' conditional_probability_of_n_purchases_up_to_time
(Fader & Hardie note 028, eq. 16), all to 1e-9. The conditional BG/NBD and
MBG/NBD pmfs are checked by their moments and, for MBG/NBD, by simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from retention.models.forecasts import bg_count_pmf


def twin(model, fitter_class):
    fitter = fitter_class()
    fitter.params_ = pd.Series(model.params_)
    return fitter


@pytest.mark.parametrize("n", [0, 1, 2, 5])
@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 100.0])
def test_bgnbd_new_user_pmf_equals_lifetimes(fitted, n, t):
    model = fitted["bgnbd"]
    theirs = twin(model, BetaGeoFitter).probability_of_n_purchases_up_to_time(t, n)
    assert bg_count_pmf(n, t, *model._param_values()) == pytest.approx(theirs, rel=1e-9)
    # a user who has just made their first purchase is alive at T = 0 with x = 0
    ours = model.purchase_count_probability(t, n, 0, 0, 0)
    assert ours == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("t", [10.0, 39.0])
def test_mbgnbd_new_user_pmf_equals_lifetimes(fitted, n, t):
    """A new MBG/NBD user faces a dropout chance at once (probability a / (a + b)),
    then is a BG/NBD user with b + 1: the closed form of Batislam et al. (2007)."""
    model = fitted["mbgnbd"]
    r, alpha, a, b = model._param_values()
    ours = b / (a + b) * bg_count_pmf(n, t, r, alpha, a, b + 1) + a / (a + b) * (n == 0)
    theirs = twin(model, ModifiedBetaGeoFitter).probability_of_n_purchases_up_to_time(t, n)
    assert ours == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("n", [0, 1, 2])
@pytest.mark.parametrize("t", [5.0, 39.0])
def test_pareto_nbd_conditional_pmf_equals_lifetimes(cdnow, fitted, n, t):
    model, rows = fitted["pareto_nbd"], cdnow.iloc[:300]
    fitter = twin(model, ParetoNBDFitter)
    theirs = [
        fitter.conditional_probability_of_n_purchases_up_to_time(n, t, x, t_x, age)
        for x, t_x, age in zip(rows.frequency, rows.recency, rows["T"], strict=True)
    ]
    ours = model.purchase_count_probability(t, n, rows.frequency, rows.recency, rows["T"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["bgnbd", "bgnbd_corrected", "mbgnbd", "pareto_nbd"])
def test_conditional_pmf_sums_to_1_and_its_mean_is_the_expectation(cdnow, fitted, name):
    model, rows = fitted[name], cdnow.iloc[::40]
    rfm = rows.frequency, rows.recency, rows["T"]
    probabilities = np.array([model.purchase_count_probability(30.0, n, *rfm) for n in range(80)])
    np.testing.assert_allclose(probabilities.sum(axis=0), 1, atol=1e-9)
    mean = np.arange(80) @ probabilities
    np.testing.assert_allclose(mean, model.expected_purchases(30.0, *rfm), rtol=1e-7, atol=1e-12)


def test_mbgnbd_conditional_pmf_matches_simulation(fitted):
    """Users simulated from the MBG/NBD posterior of one history, forward 30 weeks."""
    model = fitted["mbgnbd"]
    r, alpha, a, b = model._param_values()
    x, t_x, age, horizon, n = 2, 20.0, 35.0, 30.0, 400_000
    rng = np.random.default_rng(7)
    alive = rng.random(n) < model.p_alive(x, t_x, age)
    rate = rng.gamma(r + x, 1 / (alpha + age), n)
    dropout = rng.beta(a, b + x + 1, n)
    count = np.minimum(rng.poisson(rate * horizon), rng.geometric(dropout)) * alive
    for k in (0, 1, 2):
        expected = model.purchase_count_probability(horizon, k, x, t_x, age)
        assert np.mean(count == k) == pytest.approx(expected, abs=0.003)


@pytest.mark.parametrize("name", ["bgnbd_corrected", "mbgnbd", "pareto_nbd"])
def test_future_p_alive_is_p_alive_seen_later_and_falls(cdnow, fitted, name):
    model, rows = fitted[name], cdnow.iloc[:100]
    rfm = rows.frequency, rows.recency, rows["T"]
    np.testing.assert_allclose(model.p_alive_in(0.0, *rfm), model.p_alive(*rfm))
    later = [model.p_alive_in(t, *rfm) for t in (4.0, 13.0, 52.0)]
    assert (np.diff(later, axis=0) <= 1e-12).all()
    expected = model.p_alive(rows.frequency, rows.recency, rows["T"] + 13.0)
    np.testing.assert_allclose(later[1], expected)


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd", "pareto_nbd"])
def test_median_wait_is_where_a_purchase_becomes_even_odds(fitted, name):
    model = fitted[name]
    x, age = np.array([0.0, 1, 4, 12]), np.array([30.0, 20, 38, 39])
    wait = model.median_wait_given_alive(x, age, upper=520.0)
    finite = np.isfinite(wait)
    assert finite[1:].all()
    no_purchase = model.purchase_count_pmf_given_alive(wait[finite], 0, x[finite], age[finite])
    np.testing.assert_allclose(no_purchase, 0.5, rtol=1e-4)
    assert (np.diff(wait[1:]) < 0).all()  # frequent buyers come back sooner


def test_median_wait_beyond_the_limit_is_infinite(fitted):
    wait = fitted["pareto_nbd"].median_wait_given_alive([0.0], [39.0], upper=1.0)
    assert np.isinf(wait).all()
