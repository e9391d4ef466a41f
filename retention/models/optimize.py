"""The optimiser every model here uses: BFGS, then a Newton polish to ~1e-10.

Fits minimise a weighted negative log-likelihood over log-parameters. BFGS
gets near the optimum; a few Newton steps on a finite-difference Hessian of
the gradient then pin it, so the answer does not depend on where BFGS's line
search happened to stop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

# A fit is at its optimum, whatever its absolute gradient, when the Hessian is
# positive definite and the most a Newton step could still gain (half the
# Newton decrement g' H^-1 g) is below this share of the objective: the
# likelihood cannot tell the remaining distance from rounding, and no
# prediction changes. Scale-aware: it follows the objective and its curvature,
# not a fixed gradient size (a fit at 2.5e-6 was once discarded by one).
OPTIMUM_RELATIVE_GAIN = 1e-10


# Near an optimum Newton needs a handful of steps; more means the parameters are
# running off towards 0 or infinity, where the likelihood has no maximum.
MAX_NEWTON_STEPS = 20


@dataclass(frozen=True)
class OptimumResult:
    log_params: np.ndarray
    converged: bool
    n_iter: int
    max_gradient: float


def minimize_log_params(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    tol: float,
    max_iter: int,
    hess_inv0: np.ndarray | None = None,
) -> OptimumResult:
    """BFGS to near the optimum, then Newton steps until max |gradient| <= tol.

    `hess_inv0` is BFGS's first guess of the inverse Hessian (identity if None).
    Never raises on non-convergence: the caller gets the best point and a flag.
    """
    options = {"gtol": tol, "maxiter": max_iter}
    if hess_inv0 is not None:
        options["hess_inv0"] = hess_inv0
    result = minimize(objective, x0, jac=True, method="BFGS", options=options)
    x, n_iter = result.x, int(result.nit)
    f, g = objective(x)
    if not np.isfinite(f):  # BFGS got lost where the likelihood under/overflows
        fallback = minimize(
            lambda z: objective(z)[0], x0, method="Nelder-Mead", options={"maxiter": max_iter}
        )
        x, n_iter = fallback.x, n_iter + int(fallback.nit)
        f, g = objective(x)
    stalled = False
    newton_budget = min(max_iter - n_iter, MAX_NEWTON_STEPS)
    while np.max(np.abs(g)) > tol and newton_budget > 0 and not stalled:
        x, f, g, stalled = _newton_step(objective, x, f, g)
        n_iter += 1
        newton_budget -= 1
    max_gradient = float(np.max(np.abs(g))) if np.isfinite(f) else np.inf
    converged = max_gradient <= tol or (np.isfinite(f) and at_optimum(objective, x, f, g))
    return OptimumResult(x, bool(converged), n_iter, max_gradient)


def at_optimum(objective, x: np.ndarray, f: float, g: np.ndarray) -> bool:
    """Whether a Newton step could gain less than OPTIMUM_RELATIVE_GAIN of |f| (or of 1)."""
    curvature = hessian(objective, x)
    try:
        np.linalg.cholesky(curvature)
        decrement = float(g @ np.linalg.solve(curvature, g))
    except np.linalg.LinAlgError:
        return False  # not a minimum (or not one the curvature can show)
    return decrement / 2 <= OPTIMUM_RELATIVE_GAIN * max(1.0, abs(f))


def hessian(objective, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central-difference Hessian of the analytic gradient, symmetrised."""
    k = len(x)
    matrix = np.empty((k, k))
    for j in range(k):
        shift = np.zeros(k)
        shift[j] = step
        matrix[:, j] = (objective(x + shift)[1] - objective(x - shift)[1]) / (2 * step)
    return (matrix + matrix.T) / 2


def _newton_step(objective, x, f, g):
    """One damped Newton step on a central-difference Hessian of the gradient."""
    curvature = hessian(objective, x)
    try:
        np.linalg.cholesky(curvature)
        direction = -np.linalg.solve(curvature, g)
    except np.linalg.LinAlgError:
        direction = -g
    for damping in 0.5 ** np.arange(12):
        candidate = x + damping * direction
        f_new, g_new = objective(candidate)
        if f_new < f or (f_new <= f + 1e-13 * abs(f) and np.abs(g_new).max() < np.abs(g).max()):
            return candidate, f_new, g_new, False
    return x, f, g, True
