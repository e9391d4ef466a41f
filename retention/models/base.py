"""What every model here shares: input checks, weights, the optimiser, fit state.

A model subclass supplies its log-likelihood with an analytic gradient and its
predictions; `fit` lives here. Fits first collapse the input to distinct rows
with summed weights, so raw users and pre-counted triples are the same
computation. They minimise the weighted negative log-likelihood per user (plus
an L2 penalty on the parameters, as lifetimes does) over log-parameters with
BFGS, then polish with a few Newton steps on a finite-difference Hessian of the
gradient, so the optimum is pinned to ~1e-10 rather than to wherever BFGS's
line search happened to stop.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from scipy.optimize import minimize
from scipy.special import hyp2f1

from retention.models.inputs import (  # noqa: F401  (re-exported: models import them from here)
    as_float_array,
    check_fit_columns,
    check_frequency,
    check_rfm,
    plural,
)
from retention.models.optimize import OptimumResult, minimize_log_params
from retention.models.uncertainty import log_covariance

log = logging.getLogger(__name__)

# Fits on more distinct rows than this start from a fit on a seeded sample of
# about WARM_START_USERS users: its optimum and curvature put the full fit a few
# steps from its own optimum (the objective is per user, so the curvature of
# the sample's objective is that of the full one). The answer is the full
# data's optimum either way; only the number of passes over the rows changes.
WARM_START_ROWS = 20_000
WARM_START_USERS = 50_000


class NotFittedError(ValueError):
    """A prediction was asked of a model that has not been fitted."""


def unique_rows(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct rows of equal-length columns (sorted), the row order and where each
    sorted row starts; a faster np.unique(axis=0) for a few float columns."""
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new_row = np.ones(len(order), dtype=bool)
    new_row[1:] = np.any([np.diff(c) != 0 for c in ordered], axis=0)
    starts = np.flatnonzero(new_row)
    return [c[starts] for c in ordered], order, starts


def unique_inverse(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of `columns` and, for each input row, the index of its distinct row."""
    unique, order, starts = unique_rows(columns)
    first = np.zeros(len(order), dtype=np.intp)
    first[starts] = 1
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return unique, inverse


def compress(columns: list[np.ndarray], weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of `columns` with their weights summed; zero-weight rows dropped.

    Fitting on unique rows makes a fit on raw users and one on pre-counted
    triples the same computation, and fast however many users share a row.
    """
    keep = weights > 0
    unique, order, starts = unique_rows([c[keep] for c in columns])
    return unique, np.add.reduceat(weights[keep][order], starts)


class BaseModel:
    """Hyperparameters, fit state and the not-fitted check shared by all models."""

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    fit_call: ClassVar[str]

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-10, max_iter: int = 10_000):
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__} fitted on {self.n_users_:g} users: {params}>"

    @classmethod
    def from_params(
        cls,
        params: dict[str, float],
        *,
        log_likelihood: float | None = None,
        n_users: float | None = None,
        converged: bool = True,
        **hyperparameters: Any,
    ) -> Self:
        """A model fitted elsewhere (a stored run, lifetimes, a paper), from its parameters."""
        missing = [name for name in cls.param_names if name not in params]
        if missing:
            raise ValueError(
                f"{cls.__name__} needs the parameters {', '.join(cls.param_names)}; "
                f"missing: {', '.join(missing)}"
            )
        model = cls(**hyperparameters)
        model.params_ = {name: float(params[name]) for name in cls.param_names}
        model.log_likelihood_ = np.nan if log_likelihood is None else float(log_likelihood)
        model.converged_ = bool(converged)
        model.n_iter_ = 0
        model.n_users_ = np.nan if n_users is None else float(n_users)
        model.log_covariance_ = np.full((len(cls.param_names),) * 2, np.nan)
        return model

    def to_lifetimes(self, data: Any = None) -> Any:
        """This fit as a fitted lifetimes fitter with the same parameters.

        `data` (lifetimes' columns: frequency, recency, T or frequency,
        monetary_value) becomes the fitter's `.data`, which lifetimes' plotting
        reads. lifetimes has no one-time-buyer correction: for frequency-0
        users its BG/NBD predictions are plain BG/NBD's, not ours.
        """
        from retention.models.lifetimes_interop import to_lifetimes_fitter

        self._check_fitted()
        return to_lifetimes_fitter(self.name, dict(self.params_), self.penalizer, data)

    def _check_hyperparameters(self) -> None:
        if not self.penalizer >= 0:
            raise ValueError(f"penalizer must be >= 0; got {self.penalizer!r}")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0; got {self.tol!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a whole number >= 1; got {self.max_iter!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call {self.fit_call} first"
            )

    def _param_values(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(self.params_[name] for name in self.param_names)

    def _row_log_likelihood(self, params: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-row log-likelihood (n,) and its gradient in the parameters (n, k)."""
        raise NotImplementedError

    def _log_likelihood(
        self, params: np.ndarray, data: Any, weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Weighted total log-likelihood and its gradient in the parameters (k,).

        Models whose per-row gradient is costly to materialise override this."""
        ll, grad = self._row_log_likelihood(params, data)
        return float(weights @ ll), weights @ grad

    def _objective(self, data: Any, weights: np.ndarray) -> Callable:
        """Negative weighted log-likelihood per user + penalty, over log-parameters."""
        total = weights.sum()

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                params = np.exp(log_params)
                ll, grad = self._log_likelihood(params, data, weights)
                value = -ll / total + self.penalizer * np.sum(params**2)
                gradient = (-grad / total + 2 * self.penalizer * params) * params
            if not (np.isfinite(value) and np.isfinite(gradient).all()):
                return np.inf, np.zeros_like(log_params)
            return float(value), gradient

        return objective

    def _set_fit(
        self, result: OptimumResult, params: np.ndarray, ll: float, n: float, objective=None
    ) -> None:
        """Fit state; with `objective`, also log_covariance_ from its Hessian at the
        optimum (`uncertainty`), in log-parameters, which time rescaling leaves alone."""
        k = len(self.param_names)
        self.log_covariance_ = (
            np.full((k, k), np.nan)
            if objective is None
            else log_covariance(objective, result.log_params, n)
        )
        self.params_ = {k: float(v) for k, v in zip(self.param_names, params, strict=True)}
        self.log_likelihood_ = float(ll)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.n_users_ = float(n)
        if not result.converged:  # the caller decides how loud to be about it
            log.debug(
                "%s did not converge in %d iterations (largest gradient %.3g > tol %.3g)",
                type(self).__name__,
                result.n_iter,
                result.max_gradient,
                self.tol,
            )


@dataclass(frozen=True)
class RFMData:
    """Rows of (frequency, recency, T) plus the distinct frequencies, so that
    terms depending on frequency alone (gammaln, digamma) are computed once each."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    x_unique: np.ndarray
    x_index: np.ndarray


class PurchaseModel(BaseModel):
    """Shared fit for the (frequency, recency, T) models: BG/NBD, MBG/NBD, Pareto/NBD.

    Time is rescaled so the largest T is 1 while fitting (as lifetimes does), which
    keeps the rate parameters near 1; `penalizer` therefore acts on the rescaled
    parameters, exactly as lifetimes' `penalizer_coef`. `time_params` name the
    parameters measured in units of time, which are scaled back after the fit.
    """

    fit_call: ClassVar[str] = "fit(frequency, recency, T)"
    time_params: ClassVar[tuple[str, ...]]

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> Self:
        """Fit by maximum likelihood; `weights` count the users sharing each row.

        Sets params_, log_likelihood_ (sum of weight x row log-likelihood, in the
        caller's time unit), converged_, n_iter_ and n_users_ (sum of weights).
        Does not raise when the optimiser fails to converge: converged_ is False
        and params_ hold the best point found.
        """
        self._check_hyperparameters()
        w = check_fit_columns({"frequency": frequency, "recency": recency, "T": T}, weights)
        x, t_x, age = check_rfm(frequency, recency, T)
        if age[w > 0].max() <= 0:
            raise ValueError("T is 0 for every user; the fit needs users observed for some time")
        (x, t_x, age), w = compress([x, t_x, age], w)
        scale = 1.0 / age.max()
        objective = self._objective(self._prepare(x, t_x * scale, age * scale), w)
        rate = max(float(w @ x) / float(w @ age) / scale, 1e-3)
        start, hess_inv = np.log(self._initial_params(rate)), None
        if len(w) > WARM_START_ROWS:
            start, hess_inv = self._warm_start(x, t_x * scale, age * scale, w, start)
        result = minimize_log_params(objective, start, self.tol, self.max_iter, hess_inv)
        params = np.exp(result.log_params)
        for name in self.time_params:
            params[self.param_names.index(name)] /= scale
        with np.errstate(all="ignore"):
            ll, _ = self._log_likelihood(params, self._prepare(x, t_x, age), w)
        self._set_fit(result, params, ll, float(w.sum()), objective)
        return self

    def _warm_start(
        self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray, w: np.ndarray, start: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Optimum and inverse Hessian of a seeded Poisson-thinned sample (see WARM_START_ROWS).

        Falls back to `start` when the sample's fit goes wrong.
        """
        rng = np.random.default_rng(0)
        sample_w = rng.poisson(w * min(1.0, WARM_START_USERS / float(w.sum())))
        keep = sample_w > 0
        sample = self._prepare(x[keep], t_x[keep], age[keep])
        objective = self._objective(sample, sample_w[keep].astype(float))
        result = minimize(objective, start, jac=True, method="BFGS", options={"gtol": 1e-6})
        if not np.isfinite(result.fun) or not np.isfinite(result.x).all():
            return start, None
        hess_inv = np.asarray(result.hess_inv)
        hess_inv = (hess_inv + hess_inv.T) / 2
        try:
            np.linalg.cholesky(hess_inv)
        except np.linalg.LinAlgError:
            return result.x, None
        return result.x, hess_inv

    def _initial_params(self, rate: float) -> np.ndarray:
        """Starting point in rescaled time, where `rate` is purchases per unit."""
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _prepare(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> Any:
        x_unique, x_index = np.unique(x, return_inverse=True)
        return RFMData(x, t_x, T, x_unique, x_index.reshape(x.shape))

    def _predict_inputs(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
        self._check_fitted()
        return check_rfm(frequency, recency, T)

    def _pair_inputs(self, frequency: Any, T: Any) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        x, _, age = check_rfm(frequency, 0.0, T)
        return x, age

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Probability that a user with this history has not dropped out."""
        raise NotImplementedError

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Expected number of purchases in (T, T + t] given the history:
        p_alive x E[purchases | alive], since a dead user buys nothing."""
        x, t_x, age = self._predict_inputs(frequency, recency, T)
        return self.expected_purchases_given_alive(t, x, age) * self.p_alive(x, t_x, age)

    def expected_purchases_given_alive(self, t: Any, frequency: Any, T: Any) -> np.ndarray:
        """E[purchases in (T, T + t] | alive at T]; it does not depend on recency, so
        callers with many users evaluate it once per distinct (frequency, T)."""
        raise NotImplementedError

    def purchase_count_pmf_given_alive(self, t: Any, n: int, frequency: Any, T: Any) -> np.ndarray:
        """P(exactly n purchases in (T, T + t] | alive at T) (see `forecasts`)."""
        raise NotImplementedError

    def median_wait_given_alive(self, frequency: Any, T: Any, upper: float) -> np.ndarray:
        """Median time from T to the next purchase of a user alive at T; inf where the
        user more likely drops out first or the median lies beyond `upper`."""
        raise NotImplementedError

    def purchase_count_probability(
        self, t: Any, n: int, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """P(exactly n purchases in (T, T + t] | history): alive users follow
        `purchase_count_pmf_given_alive`, dead ones make none."""
        x, t_x, age = self._predict_inputs(frequency, recency, T)
        alive = self.p_alive(x, t_x, age)
        given_alive = self.purchase_count_pmf_given_alive(t, n, x, age)
        return alive * given_alive + (1 - alive) * float(n == 0)

    def p_alive_in(self, t: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive at T + t | history, and no purchase in (T, T + t]): the P(alive)
        of the same history observed t longer, since silence is all it adds."""
        x, t_x, age = self._predict_inputs(frequency, recency, T)
        return self.p_alive(x, t_x, age + as_horizon(t))

    def with_params(self, params: dict[str, float]) -> Self:
        """A copy with other parameter values (a draw), same hyperparameters."""
        self._check_fitted()
        model = copy.copy(self)
        model.params_ = {name: float(params[name]) for name in self.param_names}
        return model

    def expected_purchases_new_user(self, t: Any) -> float | np.ndarray:
        """Expected number of repeat purchases in (0, t] of a user who just bought."""
        raise NotImplementedError


def as_horizon(t: Any) -> np.ndarray:
    return as_float_array(t, "t")


def scalar_or_array(values: np.ndarray) -> float | np.ndarray:
    return float(values) if np.ndim(values) == 0 else values


def hyp2f1_times_power(a: Any, b: Any, c: Any, z: Any, k: Any) -> np.ndarray:
    """2F1(a, b; c; z) * (1 - z) ** k, the shape of the BG/NBD and MBG/NBD expectations.

    Computed in logs with the sign kept, because 2F1 is negative when c < 0
    (BG/NBD with a + b < 1 and frequency 0, which taking its log turned into NaN
    in lifetimes); where 2F1 overflows, Euler's transformation
    2F1(a, b; c; z) = (1 - z) ** (c - a - b) * 2F1(c - a, c - b; c; z) is used instead.
    """
    with np.errstate(all="ignore"):
        a, b, c, z, k = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z, k)))
        log_rest = np.log1p(-z)
        direct = hyp2f1(a, b, c, z)
        out = np.sign(direct) * np.exp(np.log(np.abs(direct)) + k * log_rest)
        failed = ~np.isfinite(direct)
        if failed.any():  # only there: parameter draws call this hundreds of times
            a, b, c, k, rest = a[failed], b[failed], c[failed], k[failed], log_rest[failed]
            euler = hyp2f1(c - a, c - b, c, z[failed])
            out[failed] = np.sign(euler) * np.exp(np.log(np.abs(euler)) + (c - a - b + k) * rest)
    return out
