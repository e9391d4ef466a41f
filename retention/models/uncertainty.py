"""How sure a fit is: standard errors, 95% intervals and seeded parameter draws.

Why the observed information: the fit minimises the weighted negative
log-likelihood per user (plus the penalty, as lifetimes does) over
log-parameters, so at the optimum the inverse of that objective's Hessian H,
divided by the total weight N, is the asymptotic covariance of the
log-parameters: Cov(log theta) = H^-1 / N. The delta method gives
Cov(theta) = diag(theta) Cov(log theta) diag(theta), whose diagonal is
lifetimes' `variance_matrix_` (its `summary` standard errors). The Hessian is
a central difference of the analytic gradient, on the compressed rows the
fit used, so it costs 2k gradient passes over the distinct rows, not the users.

The 95% intervals are Wald intervals on the parameters, theta +- 1.96 se,
as lifetimes reports them (they can dip below 0 for a poorly pinned parameter).
Draws for prediction intervals are multivariate normal on the
log-parameters instead, which keeps every draw positive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

from retention.models.optimize import hessian

Z_95 = float(norm.ppf(0.975))


def log_covariance(objective, log_params: np.ndarray, total_weight: float) -> np.ndarray:
    """Cov(log theta) = H^-1 / N at the optimum; all NaN when H is not positive definite
    (no curvature to speak of: the data do not pin the parameters down)."""
    k = len(log_params)
    matrix = hessian(objective, np.asarray(log_params, dtype=float))
    try:
        np.linalg.cholesky(matrix)
        inverse = np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
    if not np.isfinite(inverse).all():
        return np.full((k, k), np.nan)
    return (inverse + inverse.T) / 2 / total_weight


def covariance(model: Any) -> np.ndarray:
    """Cov(theta) in the order of model.param_names (delta method from the logs)."""
    values = np.array(model._param_values())
    return np.outer(values, values) * model.log_covariance_


def parameter_table(model: Any) -> dict[str, tuple[float, float, float, float]]:
    """name -> (value, stderr, lower_95, upper_95); NaN where the fit has no curvature."""
    values = model._param_values()
    stderr = np.sqrt(np.diag(covariance(model)))
    return {
        name: (value, float(se), value - Z_95 * float(se), value + Z_95 * float(se))
        for name, value, se in zip(model.param_names, values, stderr, strict=True)
    }


def draw_models(model: Any, n_draws: int, seed: int) -> list[Any]:
    """`n_draws` copies of the model at parameters drawn from N(log theta, Cov(log theta)),
    seeded; [] when the covariance is unknown."""
    cov = model.log_covariance_
    if n_draws < 1 or not np.isfinite(cov).all():
        return []
    rng = np.random.default_rng(seed)
    logs = rng.multivariate_normal(np.log(model._param_values()), cov, size=n_draws)
    names = model.param_names
    return [model.with_params(dict(zip(names, np.exp(row), strict=True))) for row in logs]
