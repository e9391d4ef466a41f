"""MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007; Wagner & Hoppe 2008).

Likelihood and prediction formulas are ported from lifetimes 0.11.3
(`lifetimes/fitters/modified_beta_geo_fitter.py`, MIT licence, Cam
Davidson-Pilon and contributors); the fitting and weights are ours.
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


class ModifiedBetaGeoModel(PurchaseModel):
    """MBG/NBD: BG/NBD with a dropout chance also right after the first purchase.

    Parameters r, alpha (gamma rate prior; alpha in the unit of T) and a, b (beta
    dropout prior). Because users may drop out at their first purchase, one-time
    buyers are not assumed alive: their p_alive falls as T grows, so unlike
    BetaGeoModel no correction is needed. Every output equals lifetimes'
    ModifiedBetaGeoFitter at the same parameters.
    """

    name: ClassVar[str] = "mbgnbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    time_params: ClassVar[tuple[str, ...]] = ("alpha",)

    def _row_log_likelihood(self, params: np.ndarray, d: RFMData):
        """lifetimes' MBG/NBD log-likelihood, with its analytic gradient."""
        r, alpha, a, b = params
        u, i, x = d.x_unique, d.x_index, d.x
        log_age, log_rec = np.log(alpha + d.T), np.log(alpha + d.t_x)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (log_age - log_rec)
        dead = expit(a4)  # weight of the "dropped out at the last purchase" branch
        per_x = gammaln(r + u) - gammaln(r) + gammaln(a + b) + gammaln(b + u + 1)
        per_x -= gammaln(b) + gammaln(a + b + u + 1)
        ll = per_x[i] + r * np.log(alpha) - (r + x) * log_age + np.logaddexp(a4, 0)
        grad = np.empty((len(x), 4))
        grad[:, 0] = (digamma(r + u) - digamma(r))[i] + np.log(alpha) - log_age
        grad[:, 0] += dead * (log_age - log_rec)
        grad[:, 1] = r / alpha - (r + x) / (alpha + d.T)
        grad[:, 1] += dead * (r + x) * (1 / (alpha + d.T) - 1 / (alpha + d.t_x))
        d_ab = digamma(a + b) - digamma(a + b + u + 1)
        grad[:, 2] = d_ab[i] + dead / a
        grad[:, 3] = (d_ab + digamma(b + u + 1) - digamma(b))[i] - dead / (b + x)
        return ll, grad

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Batislam et al. (2007), appendix A, eq. (5)."""
        x, t_x, age = self._predict_inputs(frequency, recency, T)
        r, alpha, a, b = self._param_values()
        return 1.0 / (1 + (a / (b + x)) * ((alpha + age) / (alpha + t_x)) ** (r + x))

    def expected_purchases_given_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """Wagner & Hoppe (2008)'s conditional expectation without its P(alive) factor."""
        x, age = self._pair_inputs(frequency, T)
        t = as_horizon(t)
        r, alpha, a, b = self._param_values()
        hyp_term = hyp2f1_times_power(r + x, b + x + 1, a + b + x, t / (alpha + age + t), r + x)
        return (a + b + x) / (a - 1) * (1 - hyp_term)

    def purchase_count_pmf_given_alive(self, t: Any, n: int, frequency: Any, T: Any) -> np.ndarray:
        """BG/NBD's eq. (8) at r + x, alpha + T, a, b + x + 1: alive at T after x + 1
        survived dropout chances, the future is a BG/NBD new user's (see `forecasts`)."""
        x, age = self._pair_inputs(frequency, T)
        r, alpha, a, b = self._param_values()
        return bg_count_pmf(n, as_horizon(t), r + x, alpha + age, a, b + x + 1)

    def median_wait_given_alive(self, frequency: Any, T: Any, upper: float) -> np.ndarray:
        """As in BG/NBD: no dropout before the next purchase, so a Lomax median."""
        x, age = self._pair_inputs(frequency, T)
        r, alpha, _, _ = self._param_values()
        wait = lomax_median(r + x, alpha + age)
        return np.where(wait <= upper, wait, np.inf)

    def expected_purchases_new_user(self, t: Any) -> float | np.ndarray:
        """E[X(t)] for a user who just made their first purchase."""
        t = as_horizon(t)
        r, alpha, a, b = self._param_values()
        hyp_term = hyp2f1_times_power(r, b + 1, a + b, t / (alpha + t), r)
        return scalar_or_array(b / (a - 1) * (1 - hyp_term))
