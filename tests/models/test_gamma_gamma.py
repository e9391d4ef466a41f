"""Gamma-Gamma and customer_lifetime_value against published values and lifetimes.

Published Gamma-Gamma values: Fader, Hardie & Lee (2005), "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", and Fader & Hardie's note 025, on
the 946 repeat buyers of the CDNOW sample that lifetimes bundles.
"""

from __future__ import annotations

from pathlib import Path

import lifetimes
import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from retention.models import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    NotFittedError,
    ParetoNBDModel,
    customer_lifetime_value,
)

# read directly: lifetimes.datasets needs pkg_resources, gone from setuptools >= 81
LIFETIMES_DATA = Path(lifetimes.__file__).parent / "datasets"


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    data = pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary_with_transactions.csv")
    data.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return data.set_index("customer_id")


@pytest.fixture(scope="module")
def repeat_buyers(cdnow_spend) -> pd.DataFrame:
    return cdnow_spend[cdnow_spend.frequency > 0]


@pytest.fixture(scope="module")
def gamma_gamma(repeat_buyers) -> GammaGammaModel:
    return GammaGammaModel().fit(repeat_buyers.frequency, repeat_buyers.monetary_value)


def lifetimes_twin(model, fitter_class):
    fitter = fitter_class()
    fitter.params_ = pd.Series(model.params_)
    fitter.predict = getattr(fitter, "conditional_expected_number_of_purchases_up_to_time", None)
    return fitter


def test_gamma_gamma_equals_published_and_lifetimes(repeat_buyers, gamma_gamma):
    ours = gamma_gamma.params_
    assert len(repeat_buyers) == 946
    # published p = 6.25, q = 3.74, v = 15.44; lifetimes' fit has v = 15.4477 too
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert ours[name] == pytest.approx(value, abs=0.01), name
    theirs = GammaGammaFitter().fit(repeat_buyers.frequency, repeat_buyers.monetary_value)
    np.testing.assert_allclose(list(ours.values()), theirs.params_.to_numpy(), rtol=1e-4)
    assert gamma_gamma.converged_ and gamma_gamma.n_users_ == 946


def test_gamma_gamma_compressed_fit_equals_uncompressed(repeat_buyers, gamma_gamma):
    pairs = repeat_buyers.groupby(["frequency", "monetary_value"]).size().reset_index(name="n")
    compressed = GammaGammaModel().fit(pairs.frequency, pairs.monetary_value, weights=pairs.n)
    ours = gamma_gamma
    np.testing.assert_allclose(list(compressed.params_.values()), list(ours.params_.values()), 1e-6)
    assert compressed.log_likelihood_ == pytest.approx(ours.log_likelihood_, rel=1e-8)


def test_expected_average_value_equals_lifetimes(cdnow_spend, gamma_gamma):
    theirs = lifetimes_twin(gamma_gamma, GammaGammaFitter)
    f, m = cdnow_spend.frequency, cdnow_spend.monetary_value
    expected = theirs.conditional_expected_average_profit(f, m)
    np.testing.assert_allclose(gamma_gamma.expected_average_value(f, m), expected, rtol=1e-12)
    p, q, v = gamma_gamma.params_.values()
    one_time = gamma_gamma.expected_average_value([0, 0], [np.nan, 0.0])
    np.testing.assert_allclose(one_time, p * v / (q - 1), rtol=1e-12)


@pytest.mark.parametrize(
    "frequency, monetary_value, message",
    [
        ([1, 0, 2], [10.0, 5.0, 3.0], "frequency is 0 for 1 user;"),
        ([1, 2, 2], [10.0, 0.0, 3.0], "monetary_value is 0 for 1 user;"),
        ([1, 2, 2], [10.0, -1.0, 3.0], "monetary_value has 1 negative value "),
        ([1, 2], [10.0, 5.0, 3.0], "same length"),
    ],
)
def test_gamma_gamma_bad_input(frequency, monetary_value, message):
    with pytest.raises(ValueError, match=message):
        GammaGammaModel().fit(frequency, monetary_value)


def test_gamma_gamma_not_fitted_and_non_convergence(repeat_buyers, capsys):
    with pytest.raises(NotFittedError, match="call fit\\(frequency, monetary_value\\) first"):
        GammaGammaModel().expected_average_value([1], [10.0])
    model = GammaGammaModel(max_iter=1).fit(repeat_buyers.frequency, repeat_buyers.monetary_value)
    assert model.converged_ is False
    assert capsys.readouterr() == ("", "")


# --- customer_lifetime_value ----------------------------------------------------------

PURCHASE_PAIRS = [
    (lambda: BetaGeoModel(one_time_buyer_correction=False), BetaGeoFitter),
    (ModifiedBetaGeoModel, ModifiedBetaGeoFitter),
    (ParetoNBDModel, ParetoNBDFitter),
]


@pytest.mark.parametrize("make_model, fitter_class", PURCHASE_PAIRS)
@pytest.mark.parametrize("unit_days, freq", [(1, "D"), (7, "W")])
def test_clv_equals_lifetimes(cdnow_spend, gamma_gamma, make_model, fitter_class, unit_days, freq):
    data = cdnow_spend.iloc[::5].copy()  # a small dataset
    data[["recency", "T"]] *= 7 / unit_days  # CDNOW is in weeks; days for unit_days=1
    f, r, t, m = data.frequency, data.recency, data["T"], data.monetary_value
    purchases = make_model().fit(f, r, t)
    ours = customer_lifetime_value(
        purchases,
        f,
        r,
        t,
        gamma_gamma.expected_average_value(f, m),
        months=12,
        monthly_discount_rate=0.01,
        unit_days=unit_days,
    )
    with np.errstate(divide="ignore"):  # lifetimes' Pareto/NBD takes log(0) where recency == T
        theirs = lifetimes_twin(gamma_gamma, GammaGammaFitter).customer_lifetime_value(
            lifetimes_twin(purchases, fitter_class),
            f,
            r,
            t,
            m,
            time=12,
            discount_rate=0.01,
            freq=freq,
        )
    assert ours.shape == (len(data),) and (ours > 0).all()
    np.testing.assert_allclose(ours, theirs.to_numpy(), rtol=1e-8)


def test_clv_checks_its_unit(cdnow_spend):
    model = BetaGeoModel().fit(cdnow_spend.frequency, cdnow_spend.recency, cdnow_spend["T"])
    with pytest.raises(ValueError, match="unit_days must be 1 \\(days\\) or 7 \\(weeks\\)"):
        customer_lifetime_value(model, [1], [2.0], [5.0], [10.0], unit_days=30)
