"""BG/NBD purchase model (Fader, Hardie & Lee 2005), with a fix for one-time buyers.

Likelihood and prediction formulas are ported from lifetimes 0.11.3
(`lifetimes/fitters/beta_geo_fitter.py`, MIT licence, Cam Davidson-Pilon and
contributors); the fitting, weights and the one-time-buyer correction are ours.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import digamma, expit, gammaln

from retention.models.base import (
    PurchaseModel,
    RFMData,
    as_horizon,
    hyp2f1_times_power,
    scalar_or_array,
)
from retention.models.forecasts import bg_count_pmf, lomax_median


class BetaGeoModel(PurchaseModel):
    """BG/NBD: Poisson purchases at a gamma-distributed rate, and after each
    *repeat* purchase a beta-distributed chance of dropping out for good.

    Parameters r, alpha (gamma rate prior; alpha in the unit of T) and a, b
    (beta dropout prior). `fit`, `p_alive` and `expected_purchases` agree with
    lifetimes' BetaGeoFitter when `one_time_buyer_correction=False`.

    One-time buyers: because BG/NBD only lets users drop out right after a repeat
    purchase, it says every user with frequency 0 is alive with probability 1,
    however long ago they bought. We do not pass that on: with
    `one_time_buyer_correction=True` (the default) a frequency-0 user gets the
    modified BG/NBD's answer, which also allows a dropout right after the first
    purchase, evaluated at the fitted BG/NBD parameters:

        p_alive = 1 / (1 + (a / b) * ((alpha + T) / alpha) ** r)

    and their expected purchases are that p_alive times BG/NBD's expected
    purchases given alive (BG/NBD's conditional expectation is P(alive) x
    E[purchases | alive], and for frequency 0 lifetimes' formula is the second
    factor alone). Users with frequency > 0 and the fit itself are unchanged.
    """

    name: ClassVar[str] = "bgnbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    time_params: ClassVar[tuple[str, ...]] = ("alpha",)

    def __init__(
        self,
        penalizer: float = 0.0,
        tol: float = 1e-10,
        max_iter: int = 10_000,
        one_time_buyer_correction: bool = True,
    ):
        super().__init__(penalizer=penalizer, tol=tol, max_iter=max_iter)
        self.one_time_buyer_correction = one_time_buyer_correction

    def _row_log_likelihood(self, params: np.ndarray, d: RFMData):
        """Section 7 of Fader, Hardie & Lee (2005), with its analytic gradient."""
        r, alpha, a, b = params
        u, i, x = d.x_unique, d.x_index, d.x
        a3 = -(r + x) * np.log(alpha + d.T)
        b_x = b + np.maximum(x, 1) - 1
        a4 = np.where(x > 0, np.log(a) - np.log(b_x) - (r + x) * np.log(alpha + d.t_x), -np.inf)
        mix = np.logaddexp(a3, a4)
        w3, w4 = np.exp(a3 - mix), np.exp(a4 - mix)
        per_x = gammaln(r + u) - gammaln(r) + gammaln(a + b) + gammaln(b + u)
        per_x -= gammaln(b) + gammaln(a + b + u)
        ll = per_x[i] + r * np.log(alpha) + mix
        grad = np.empty((len(x), 4))
        grad[:, 0] = (digamma(r + u) - digamma(r))[i] + np.log(alpha)
        grad[:, 0] -= w3 * np.log(alpha + d.T) + w4 * np.log(alpha + d.t_x)
        grad[:, 1] = r / alpha - (r + x) * (w3 / (alpha + d.T) + w4 / (alpha + d.t_x))
        d_ab = digamma(a + b) - digamma(a + b + u)
        grad[:, 2] = d_ab[i] + w4 / a
        grad[:, 3] = (d_ab + digamma(b + u) - digamma(b))[i] - w4 / b_x
        return ll, grad

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive | history); for frequency 0 see the class docstring."""
        x, t_x, age = self._predict_inputs(frequency, recency, T)
        r, alpha, a, b = self._param_values()
        log_odds_dead = (r + x) * np.log((alpha + age) / (alpha + t_x))
        log_odds_dead += np.log(a / (b + np.maximum(x, 1) - 1))
        alive = expit(-log_odds_dead)
        if self.one_time_buyer_correction:
            return alive
        return np.where(x == 0, 1.0, alive)

    def expected_purchases_given_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """Equation (10) of Fader, Hardie & Lee (2005) without its P(alive) factor."""
        x, age = self._pair_inputs(frequency, T)
        t = as_horizon(t)
        r, alpha, a, b = self._param_values()
        hyp_term = hyp2f1_times_power(r + x, b + x, a + b + x - 1, t / (alpha + age + t), r + x)
        return (a + b + x - 1) / (a - 1) * (1 - hyp_term)

    def purchase_count_pmf_given_alive(self, t: Any, n: int, frequency: Any, T: Any) -> np.ndarray:
        """A new user's eq. (8) at the posterior r + x, alpha + T, a, b + x (see `forecasts`)."""
        x, age = self._pair_inputs(frequency, T)
        r, alpha, a, b = self._param_values()
        return bg_count_pmf(n, as_horizon(t), r + x, alpha + age, a, b + x)

    def median_wait_given_alive(self, frequency: Any, T: Any, upper: float) -> np.ndarray:
        """Dropout only follows a purchase, so the next one surely comes: a Lomax median."""
        x, age = self._pair_inputs(frequency, T)
        r, alpha, _, _ = self._param_values()
        wait = lomax_median(r + x, alpha + age)
        return np.where(wait <= upper, wait, np.inf)

    def expected_purchases_new_user(self, t: Any) -> float | np.ndarray:
        """Equation (9) of Fader, Hardie & Lee (2005): E[X(t)] for a new user."""
        t = as_horizon(t)
        r, alpha, a, b = self._param_values()
        hyp_term = hyp2f1_times_power(r, b, a + b - 1, t / (alpha + t), r)
        return scalar_or_array((a + b - 1) / (a - 1) * (1 - hyp_term))
