"""Our fits handed to lifetimes predict what lifetimes predicts at the same parameters.

Fitted on lifetimes' own CDNOW summary; every check compares lifetimes'
function on the converted fitter with ours, to 1e-9 relative.
"""

from __future__ import annotations

from pathlib import Path

import lifetimes
import matplotlib
import numpy as np
import pandas as pd
import pytest

from retention.models import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    NotFittedError,
    ParetoNBDModel,
)

matplotlib.use("Agg")
LIFETIMES_DATA = Path(lifetimes.__file__).parent / "datasets"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary.csv", index_col=[0])


def rfm(frame):
    return frame.frequency.to_numpy(), frame.recency.to_numpy(), frame["T"].to_numpy()


@pytest.mark.parametrize(
    ("model", "fitter"),
    [
        (BetaGeoModel(one_time_buyer_correction=False), lifetimes.BetaGeoFitter),
        (ModifiedBetaGeoModel(), lifetimes.ModifiedBetaGeoFitter),
        (ParetoNBDModel(), lifetimes.ParetoNBDFitter),
    ],
    ids=["bgnbd", "mbgnbd", "pareto_nbd"],
)
def test_converted_purchase_models_predict_like_lifetimes(cdnow, model, fitter):
    f, r, t = rfm(cdnow)
    model.fit(f, r, t)
    theirs = model.to_lifetimes()
    assert type(theirs) is fitter
    assert dict(theirs.params_) == model.params_
    alive = theirs.conditional_probability_alive(f, r, t)
    assert np.asarray(alive) == pytest.approx(model.p_alive(f, r, t), rel=1e-9)
    expected = theirs.predict(39, f, r, t)
    assert np.asarray(expected) == pytest.approx(model.expected_purchases(39, f, r, t), rel=1e-9)
    new_user = theirs.expected_number_of_purchases_up_to_time(np.array([10.0, 39.0]))
    assert np.asarray(new_user) == pytest.approx(
        model.expected_purchases_new_user(np.array([10.0, 39.0])), rel=1e-9
    )


def test_the_one_time_buyer_correction_stops_at_lifetimes(cdnow):
    """lifetimes has no correction: repeat buyers agree, one-time buyers get plain BG/NBD."""
    f, r, t = rfm(cdnow)
    ours = BetaGeoModel().fit(f, r, t)
    theirs = ours.to_lifetimes()
    repeat = f > 0
    assert np.asarray(theirs.conditional_probability_alive(f, r, t))[repeat] == pytest.approx(
        ours.p_alive(f, r, t)[repeat], rel=1e-9
    )
    plain = BetaGeoModel.from_params(ours.params_, one_time_buyer_correction=False)
    assert np.asarray(theirs.conditional_probability_alive(f, r, t)) == pytest.approx(
        plain.p_alive(f, r, t), rel=1e-9
    )


def test_converted_gamma_gamma_predicts_like_lifetimes():
    spend = pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary_with_transactions.csv")
    spend = spend[spend.x > 0].rename(columns={"x": "frequency", "zbar": "monetary_value"})
    ours = GammaGammaModel().fit(spend.frequency, spend.monetary_value)
    theirs = ours.to_lifetimes()
    assert type(theirs) is lifetimes.GammaGammaFitter
    predicted = theirs.conditional_expected_average_profit(spend.frequency, spend.monetary_value)
    assert np.asarray(predicted) == pytest.approx(
        ours.expected_average_value(spend.frequency, spend.monetary_value), rel=1e-9
    )


def test_lifetimes_plotting_works_on_a_converted_fit(cdnow):
    from lifetimes.plotting import plot_frequency_recency_matrix, plot_probability_alive_matrix

    f, r, t = rfm(cdnow)
    theirs = BetaGeoModel().fit(f, r, t).to_lifetimes(data=cdnow)
    axes = plot_probability_alive_matrix(theirs)
    image = axes.get_images()[0].get_array()
    assert image.shape == (int(cdnow["T"].max()) + 1, int(cdnow.frequency.max()) + 1)
    assert plot_frequency_recency_matrix(theirs, T=1).get_images()
    matplotlib.pyplot.close("all")


def test_from_params_rebuilds_a_fit_and_refuses_missing_ones(cdnow):
    f, r, t = rfm(cdnow)
    fitted = ParetoNBDModel().fit(f, r, t)
    rebuilt = ParetoNBDModel.from_params(fitted.params_)
    assert rebuilt.p_alive(f, r, t) == pytest.approx(fitted.p_alive(f, r, t), rel=1e-12)
    with pytest.raises(ValueError, match="needs the parameters r, alpha, s, beta; missing: s"):
        ParetoNBDModel.from_params({"r": 1, "alpha": 1, "beta": 1})
    with pytest.raises(NotFittedError):
        ParetoNBDModel().to_lifetimes()
