"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie
note 025, http://brucehardie.com/notes/025/).

Likelihood and conditional expectation are ported from lifetimes 0.11.3
(`lifetimes/fitters/gamma_gamma_fitter.py`, MIT licence, Cam Davidson-Pilon and
contributors); the fitting and weights are ours.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import digamma, gammaln

from retention.models.base import (
    BaseModel,
    as_float_array,
    check_fit_columns,
    check_frequency,
    compress,
    plural,
)
from retention.models.optimize import minimize_log_params


class GammaGammaModel(BaseModel):
    """Spend per purchase: each user's mean spend is gamma(p, nu) with nu ~ gamma(q, v).

    Fitted on repeat buyers only (frequency > 0 and monetary_value > 0), because
    monetary_value is the mean of the *repeat* purchases, as in lifetimes'
    summary. `expected_average_value` shrinks each user's observed mean towards
    the population mean p * v / (q - 1), which is the answer for frequency 0.
    Parameters and predictions equal lifetimes' GammaGammaFitter.
    """

    name: ClassVar[str] = "gamma_gamma"
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    fit_call: ClassVar[str] = "fit(frequency, monetary_value)"

    def fit(self, frequency: Any, monetary_value: Any, weights: Any = None) -> Self:
        """Fit by maximum likelihood; `weights` count the users sharing each row.

        Sets params_, log_likelihood_ (sum of weight x row log-likelihood),
        converged_, n_iter_ and n_users_; never raises on non-convergence.
        """
        self._check_hyperparameters()
        columns = {"frequency": frequency, "monetary_value": monetary_value}
        w = check_fit_columns(columns, weights)
        x = as_float_array(frequency, "frequency")
        check_frequency(x)
        m = as_float_array(monetary_value, "monetary_value")
        for name, values in (("frequency", x), ("monetary_value", m)):
            zero = int((values[w > 0] == 0).sum())
            if zero:
                raise ValueError(
                    f"{name} is 0 for {plural(zero, 'user')}; the Gamma-Gamma model is fitted "
                    "on repeat buyers with positive spend only (frequency > 0 and "
                    "monetary_value > 0): filter them out first"
                )
        (x, m), w = compress([x, m], w)
        start = np.log([1.0, 2.0, float(w @ m) / float(w.sum())])
        objective = self._objective((x, m), w)
        result = minimize_log_params(objective, start, self.tol, self.max_iter)
        params = np.exp(result.log_params)
        ll, _ = self._row_log_likelihood(params, (x, m))
        self._set_fit(result, params, float(w @ ll), float(w.sum()), objective)
        return self

    def _row_log_likelihood(self, params: np.ndarray, data: tuple[np.ndarray, np.ndarray]):
        """Equation (1a) of note 025, with its analytic gradient."""
        p, q, v = params
        x, m = data
        px = p * x
        log_xm_v = np.log(x * m + v)
        ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
        ll += (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_xm_v
        grad = np.empty((len(x), 3))
        grad[:, 0] = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_xm_v)
        grad[:, 1] = digamma(px + q) - digamma(q) + np.log(v) - log_xm_v
        grad[:, 2] = q / v - (px + q) / (x * m + v)
        return ll, grad

    def expected_average_value(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[spend per purchase | x, m]: lifetimes' conditional_expected_average_profit.

        Users with frequency 0 get the population mean p * v / (q - 1); their
        monetary_value is ignored (it may be 0 or missing).
        """
        p, q, v = self._param_values()
        x = as_float_array(frequency, "frequency")
        m = np.asarray(monetary_value, dtype=float)
        repeat = np.broadcast_to(x > 0, np.broadcast_shapes(x.shape, m.shape))
        bad = repeat & ~(np.isfinite(m) & (m >= 0))
        if bad.any():
            raise ValueError(
                f"monetary_value is missing or negative for {plural(int(bad.sum()), 'user')} with "
                "frequency > 0"
            )
        individual_weight = p * x / (p * x + q - 1)
        population_mean = v * p / (q - 1)
        with np.errstate(invalid="ignore"):
            shrunk = (1 - individual_weight) * population_mean + individual_weight * m
        return np.where(repeat, shrunk, population_mean)
