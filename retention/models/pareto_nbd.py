"""Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987).

Formulas follow Fader & Hardie's derivation note
(http://brucehardie.com/notes/009/) as implemented in lifetimes 0.11.3
(`lifetimes/fitters/pareto_nbd_fitter.py`, MIT licence, Cam Davidson-Pilon and
contributors), including its choice of hypergeometric branch. The fit is ours:
lifetimes runs a loose Nelder-Mead from a random start and normalises weighted
data differently; we use BFGS with gradients and a Newton polish.

The likelihood is written with J(y) = integral from y to infinity of
(alpha + u) ** -(r + x) * (beta + u) ** -(s + 1) du, so that
L = Gamma(r + x) alpha^r beta^s / Gamma(r) *
    [(alpha + T) ** -(r + x) * (beta + T) ** -s + s * (J(t_x) - J(T))],
and lifetimes' A_0 equals (r + s + x) * (J(t_x) - J(T)). J depends on (x, y)
only, so it is computed once per distinct pair: as lifetimes' 2F1 after Euler's
transformation (which cannot overflow), or by numerical quadrature where scipy's
2F1 returns NaN. Its parameter derivatives come from central differences of the
2F1 factor; the power factors are differentiated exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.integrate import quad
from scipy.special import digamma, expit, gammaln, hyp2f1

from retention.models.base import (
    PurchaseModel,
    RFMData,
    as_horizon,
    scalar_or_array,
    unique_inverse,
)
from retention.models.forecasts import median_by_bisection, pareto_count_pmf

_STEP = 1e-5  # relative step for the central differences of log 2F1
# Most 2F1 failures per likelihood evaluation to repair by quadrature while fitting;
# beyond this the optimiser is far off in parameter space and gets +inf instead.
_FIT_QUADRATURE = 20


@dataclass(frozen=True)
class _ParetoData(RFMData):
    pair_x: np.ndarray  # distinct (x, y) pairs, y being a recency or a T
    pair_y: np.ndarray
    rec_index: np.ndarray  # row -> pair of (x, t_x)
    age_index: np.ndarray  # row -> pair of (x, T)


def _log_j(
    params: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    with_grad: bool = True,
    max_quadrature: float = _FIT_QUADRATURE,
):
    """log J(y) for arrays x, y and, if asked, its gradient in (r, alpha, s, beta).

    J is lifetimes' 2F1 (branch chosen by whether alpha < beta) after Euler's
    transformation: power factors times a 2F1(1, .; .; z) that stays between 1
    and 1 / (1 - z), where lifetimes' form overflows for frequencies in the
    hundreds. The branch is kept fixed while differencing, which is valid because
    the 2F1 integral holds on either side of alpha == beta.
    """
    r, alpha, s, beta = params
    rsx = r + s + x
    alpha_below_beta = alpha < beta
    # J's power factors: (alpha + y)^-(r + x - 1) (beta + y)^-(s + 1) on the first
    # branch, (alpha + y)^-(r + x) (beta + y)^-s on the second
    shift = 1.0 if alpha_below_beta else 0.0

    def log_f(p: np.ndarray) -> np.ndarray:
        return _log_f(p, x, y, alpha_below_beta, max_quadrature)

    log_alpha_y, log_beta_y = np.log(alpha + y), np.log(beta + y)
    value = log_f(params) - np.log(rsx) - (r + x - shift) * log_alpha_y
    value -= (s + shift) * log_beta_y
    if not with_grad:
        return value, None
    grad = np.empty((4, len(x)))
    for k in range(4):
        up, down = params.copy(), params.copy()
        up[k] *= np.exp(_STEP)
        down[k] *= np.exp(-_STEP)
        grad[k] = (log_f(up) - log_f(down)) / (2 * _STEP * params[k])
    grad[0] -= 1 / rsx + log_alpha_y
    grad[1] -= (r + x - shift) / (alpha + y)
    grad[2] -= 1 / rsx + log_beta_y
    grad[3] -= (s + shift) / (beta + y)
    return value, grad


def _log_f(
    params: np.ndarray, x: np.ndarray, y: np.ndarray, alpha_below_beta: bool, max_quadrature: float
) -> np.ndarray:
    """log of J's 2F1 factor; where scipy's 2F1 fails, J by quadrature over its factors."""
    r, alpha, s, beta = params
    if alpha_below_beta:
        out = np.log(hyp2f1(1.0, s + 1, r + s + x + 1, (beta - alpha) / (beta + y)))
    else:
        out = np.log(hyp2f1(1.0, r + x, r + s + x + 1, (alpha - beta) / (alpha + y)))
    failed = np.flatnonzero(~np.isfinite(out))
    if 0 < len(failed) <= max_quadrature:
        shift = 1.0 if alpha_below_beta else 0.0
        xf, yf = x[failed], y[failed]
        log_j = [
            _log_j_by_quadrature(r + xi, s + 1, alpha, beta, yi)
            for xi, yi in zip(xf, yf, strict=True)
        ]
        out[failed] = log_j + np.log(r + s + xf) + (r + xf - shift) * np.log(alpha + yf)
        out[failed] += (s + shift) * np.log(beta + yf)
    return out


def _log_j_by_quadrature(p: float, q: float, alpha: float, beta: float, y: float) -> float:
    """log of J = integral from y to inf of (alpha + u)^-p (beta + u)^-q du, by
    adaptive quadrature: the fallback where scipy's 2F1 returns NaN (frequencies in
    the hundreds with alpha >> beta). With alpha + u = (alpha + y) e^v the
    integrand is exp(-(p - 1) v) (1 + kappa (e^v - 1))^-q on v in (0, inf)."""
    kappa = (alpha + y) / (beta + y)

    def integrand(v: float) -> float:
        return np.exp(-(p - 1) * v - q * np.log1p(kappa * np.expm1(v)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        integral = quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    return float(np.log(integral) + (1 - p) * np.log(alpha + y) - q * np.log(beta + y))


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD: Poisson purchases at a gamma-distributed rate, and an exponential
    lifetime at a gamma-distributed dropout rate, independent of purchases.

    Parameters r, alpha (purchase-rate prior) and s, beta (dropout-rate prior);
    alpha and beta are in the unit of T. A user can drop out at any moment,
    including before a second purchase, so one-time buyers are not assumed
    alive and no correction is needed. Predictions equal lifetimes'
    ParetoNBDFitter at the same parameters.
    """

    name: ClassVar[str] = "pareto_nbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    time_params: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def _prepare(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> _ParetoData:
        base = super()._prepare(x, t_x, T)
        (pair_x, pair_y), index = unique_inverse([np.concatenate([x, x]), np.concatenate([t_x, T])])
        return _ParetoData(
            *(base.x, base.t_x, base.T, base.x_unique, base.x_index),
            pair_x=pair_x,
            pair_y=pair_y,
            rec_index=index[: len(x)],
            age_index=index[len(x) :],
        )

    def _branches(self, params: np.ndarray, d: _ParetoData, log_j: np.ndarray):
        """Log of the two terms of the likelihood without their common factor:
        alive at T, and dropped out in (t_x, T]; plus J(T) / J(t_x)."""
        r, alpha, s, beta = params
        j_rec, j_age = log_j[d.rec_index], log_j[d.age_index]
        ratio = np.exp(j_age - j_rec)  # <= 1; exactly 1 when t_x == T
        dropped = np.log(s) + j_rec + np.log1p(-ratio)
        alive = -(r + d.x) * np.log(alpha + d.T) - s * np.log(beta + d.T)
        return alive, dropped, ratio

    def _log_likelihood(self, params: np.ndarray, d: _ParetoData, weights: np.ndarray):
        """Equation (18) of Fader & Hardie's note 009 summed over rows, with its
        gradient; per-row terms are folded onto the distinct (x, y) pairs first."""
        r, alpha, s, beta = params
        log_j, grad_j = _log_j(params, d.pair_x, d.pair_y)
        alive, dropped, ratio = self._branches(params, d, log_j)
        share = expit(dropped - alive)  # weight of the dropped-out branch; 0 if t_x == T
        w_dropped = weights * share
        w_alive = weights - w_dropped
        per_ratio = np.where(share > 0, w_dropped / (1 - ratio), 0.0)
        n_pairs = len(d.pair_x)
        on_pairs = np.bincount(d.rec_index, per_ratio, n_pairs)
        on_pairs -= np.bincount(d.age_index, per_ratio * ratio, n_pairs)
        w_x = np.bincount(d.x_index, weights, len(d.x_unique))
        u = d.x_unique
        ll = w_x @ (gammaln(r + u) - gammaln(r)) + weights.sum() * (
            r * np.log(alpha) + s * np.log(beta)
        )
        ll += weights @ np.logaddexp(alive, dropped)
        grad = grad_j @ on_pairs
        grad[0] += w_x @ (digamma(r + u) - digamma(r)) + weights.sum() * np.log(alpha)
        grad[0] -= w_alive @ np.log(alpha + d.T)
        grad[1] += weights.sum() * r / alpha - w_alive @ ((r + d.x) / (alpha + d.T))
        grad[2] += weights.sum() * np.log(beta) - w_alive @ np.log(beta + d.T)
        grad[2] += w_dropped.sum() / s
        grad[3] += weights.sum() * s / beta - s * (w_alive @ (1 / (beta + d.T)))
        return float(ll), grad

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Equations (36)-(37) of Fader & Hardie's note 009."""
        x, t_x, age = self._predict_inputs(frequency, recency, T)
        params = np.array(self._param_values())
        d = self._prepare(x.ravel(), t_x.ravel(), age.ravel())
        with np.errstate(divide="ignore", invalid="ignore"):
            log_j, _ = _log_j(params, d.pair_x, d.pair_y, with_grad=False, max_quadrature=np.inf)
            alive, dropped, _ = self._branches(params, d, log_j)
        return expit(alive - dropped).reshape(x.shape)

    def expected_purchases_given_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """Equation (41) of note 009 without its P(alive) factor."""
        x, age = self._pair_inputs(frequency, T)
        t = as_horizon(t)
        r, alpha, s, beta = self._param_values()
        given_alive = (r + x) * (beta + age) / (alpha + age)
        return given_alive * _one_minus_power_over(s - 1, (beta + age) / (beta + age + t))

    def purchase_count_pmf_given_alive(self, t: Any, n: int, frequency: Any, T: Any) -> np.ndarray:
        """A new user's pmf at the posterior r + x, alpha + T, s, beta + T (see `forecasts`)."""
        x, age = self._pair_inputs(frequency, T)
        r, alpha, s, beta = self._param_values()
        t = np.broadcast_to(as_horizon(t), x.shape)
        return pareto_count_pmf(n, t, r + x, alpha + age, s + 0 * x, beta + age)

    def median_wait_given_alive(self, frequency: Any, T: Any, upper: float) -> np.ndarray:
        """Bisection on P(no purchase in w | alive) = 1/2; the user may drop out before
        buying again, so where that chance exceeds 1/2 there is no median (inf)."""
        x, age = self._pair_inputs(frequency, T)
        r, alpha, s, beta = self._param_values()

        def no_purchase(wait: np.ndarray) -> np.ndarray:
            wait = np.broadcast_to(wait, x.shape)
            return pareto_count_pmf(0, wait, r + x, alpha + age, s + 0 * x, beta + age)

        return median_by_bisection(no_purchase, upper)

    def expected_purchases_new_user(self, t: Any) -> float | np.ndarray:
        """Equation (27) of note 009: E[X(t)] for a user who just bought."""
        t = as_horizon(t)
        r, alpha, s, beta = self._param_values()
        return scalar_or_array(r * beta / alpha * _one_minus_power_over(s - 1, beta / (beta + t)))


def _one_minus_power_over(k: float, base: np.ndarray) -> np.ndarray:
    """(1 - base ** k) / k, and its limit -log(base) at k == 0."""
    if k == 0:
        return -np.log(base)
    return -np.expm1(k * np.log(base)) / k
