"""BG/NBD and Pareto/NBD with time-invariant covariates.

After Fader & Hardie's note "Incorporating time-invariant covariates into the
Pareto/NBD and BG/NBD models" (2007): covariates scale the gamma *scale*
parameters, so each user keeps the model's closed forms at their own alpha
(and beta):

    alpha_i = alpha0 * exp(-gamma' z_i)          (purchase rate; both models)
    beta_i  = beta0  * exp(-gamma_dropout' z_i)  (dropout rate; Pareto/NBD)

E[purchase rate] = r / alpha_i, so a positive gamma means faster buying and a
positive gamma_dropout faster dropping out; alpha0 and beta0 are those of a
user with z = 0 (the reference level of every categorical, the mean of every
standardised number). The note also lets BG/NBD's a and b depend on
covariates; here only alpha does: the dropout coefficients of BG/NBD are
weakly identified (dropout is only seen through silence after a purchase),
and nothing we can check them against has them.

Why a loop over covariate patterns: given z, a user's likelihood is the plain
model's at alpha_i (beta_i). The fit groups the compressed rows by distinct
pattern, asks the plain model for each pattern's weighted likelihood and
gradient (its own folding onto distinct frequencies and 2F1 pairs is reused
unchanged), and the chain rule d alpha_i / d gamma = -alpha_i z_i gives the
coefficients' gradient. So a pattern costs one plain likelihood pass over its
distinct triples; numeric covariates are bucketed upstream to keep patterns few.

The parameter vector is (log r, log alpha0, ..., gamma, gamma_dropout): the
base parameters in logs as in the plain fit, the coefficients as they are.
Standard errors come from the Hessian at the optimum as in `uncertainty`.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from retention.models.base import (
    BaseModel,
    PurchaseModel,
    check_fit_columns,
    check_rfm,
    compress,
    unique_inverse,
)
from retention.models.optimize import minimize_log_params
from retention.models.pareto_nbd import ParetoNBDModel
from retention.models.uncertainty import Z_95, log_covariance

PURCHASE_PREFIX = "gamma_"
DROPOUT_PREFIX = "gamma_dropout_"


class CovariateModel:
    """A purchase model whose alpha (and, for Pareto/NBD, beta) depend on covariates.

    `base` is BetaGeoModel or ParetoNBDModel; other keyword arguments are its
    hyperparameters. `fit` sets params_ (base parameters at z = 0, then the
    coefficients), log_covariance_ (over the fit's parameter vector),
    log_likelihood_, plain_ and plain_log_likelihood_ (the fit without covariates on
    the same rows),
    converged_, n_iter_, n_users_ and covariate_names_.
    """

    def __init__(self, base: type[PurchaseModel], **hyperparameters: Any):
        self.base = base
        self.hyperparameters = hyperparameters

    @property
    def name(self) -> str:
        return f"{self.base.name}_covariates"

    @property
    def has_dropout(self) -> bool:
        return issubclass(self.base, ParetoNBDModel)

    def fit(
        self, frequency: Any, recency: Any, T: Any, covariates: Any, names: list[str], weights=None
    ) -> Self:
        """Maximum likelihood, started from the plain fit with every coefficient 0."""
        if not names:
            raise ValueError("no covariates given: fit the plain model instead")
        w = check_fit_columns({"frequency": frequency, "recency": recency, "T": T}, weights)
        x, t_x, age = check_rfm(frequency, recency, T)
        z = np.asarray(covariates, dtype=float).reshape(len(x), len(names))
        if not np.isfinite(z).all():
            raise ValueError("covariates must be finite numbers (impute missing values first)")
        columns, w = compress([x, t_x, age, *z.T], w)
        x, t_x, age, z = columns[0], columns[1], columns[2], np.column_stack(columns[3:])
        self.covariate_names_ = list(names)
        plain = self.base(**self.hyperparameters).fit(x, t_x, age, weights=w)
        scale = 1.0 / age.max()
        patterns = _Patterns(plain, x, t_x * scale, age * scale, z, w)
        start = np.log(plain._param_values())
        for name in self.base.time_params:
            start[self.base.param_names.index(name)] += np.log(scale)
        start = np.concatenate([start, np.zeros(len(names) * (2 if self.has_dropout else 1))])
        objective = self._objective(patterns, plain.penalizer)
        result = minimize_log_params(objective, start, plain.tol, plain.max_iter)
        theta = result.log_params.copy()
        for name in self.base.time_params:
            theta[self.base.param_names.index(name)] -= np.log(scale)
        self.theta_ = theta
        self.log_covariance_ = log_covariance(objective, result.log_params, float(w.sum()))
        unscaled = _Patterns(plain, x, t_x, age, z, w)
        with np.errstate(all="ignore"):
            ll, _ = unscaled.log_likelihood(self._pattern_params(unscaled.z))
        self.log_likelihood_ = float(ll)
        self.plain_, self.plain_log_likelihood_ = plain, float(plain.log_likelihood_)
        self.converged_, self.n_iter_ = bool(result.converged), result.n_iter
        self.n_users_ = float(w.sum())
        self.params_ = dict(zip(self.param_names, self._values(), strict=True))
        return self

    @property
    def param_names(self) -> list[str]:
        names = list(self.base.param_names)
        names += [PURCHASE_PREFIX + n for n in self.covariate_names_]
        if self.has_dropout:
            names += [DROPOUT_PREFIX + n for n in self.covariate_names_]
        return names

    def _values(self) -> np.ndarray:
        k = len(self.base.param_names)
        return np.concatenate([np.exp(self.theta_[:k]), self.theta_[k:]])

    def _transform(self, z: np.ndarray) -> np.ndarray:
        """Matrices (G, k, k + m) taking the parameter vector to each pattern's log-parameters."""
        k, p = len(self.base.param_names), len(self.covariate_names_)
        blocks = np.zeros((len(z), k, k + p * (2 if self.has_dropout else 1)))
        blocks[:, np.arange(k), np.arange(k)] = 1.0
        blocks[:, self.base.param_names.index("alpha"), k : k + p] = -z
        if self.has_dropout:
            blocks[:, self.base.param_names.index("beta"), k + p :] = -z
        return blocks

    def _pattern_params(self, z: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """Each pattern's base parameters (G, k) at `theta` (the fitted vector by default)."""
        theta = self.theta_ if theta is None else theta
        return np.exp(self._transform(z) @ theta)

    def _objective(self, patterns: _Patterns, penalizer: float):
        """Negative log-likelihood per user + the plain fit's penalty on the base parameters."""
        total = patterns.w.sum()
        k = len(self.base.param_names)
        transform = self._transform(patterns.z)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                params = np.exp(transform @ theta)
                ll, grads = patterns.log_likelihood(params)
                # d params_g / d theta = params_g * transform_g (params are exp of linear)
                gradient = np.einsum("gk,gkm->m", grads * params, transform)
                base = np.exp(theta[:k])
                value = -ll / total + penalizer * np.sum(base**2)
                gradient = -gradient / total
                gradient[:k] += 2 * penalizer * base**2
            if not (np.isfinite(value) and np.isfinite(gradient).all()):
                return np.inf, np.zeros_like(theta)
            return float(value), gradient

        return objective

    def group_model(self, z: Any) -> PurchaseModel:
        """The plain model at one covariate pattern's parameters, with the covariance
        of its log-parameters (so its draws, intervals and forecasts are that user's)."""
        self._check_fitted()
        z = np.asarray(z, dtype=float).reshape(1, -1)
        transform = self._transform(z)[0]
        params = np.exp(transform @ self.theta_)
        model = self.base.from_params(
            dict(zip(self.base.param_names, params, strict=True)),
            n_users=self.n_users_,
            converged=self.converged_,
            **self.hyperparameters,
        )
        model.log_covariance_ = transform @ self.log_covariance_ @ transform.T
        return model

    def parameter_table(self) -> dict[str, tuple[float, float, float, float]]:
        """name -> (value, stderr, lower_95, upper_95): base parameters by the delta
        method from their logs (as `uncertainty.parameter_table`), coefficients directly."""
        self._check_fitted()
        values = self._values()
        k = len(self.base.param_names)
        se = np.sqrt(np.diag(self.log_covariance_))
        se[:k] *= values[:k]
        return {
            name: (float(v), float(s), float(v - Z_95 * s), float(v + Z_95 * s))
            for name, v, s in zip(self.param_names, values, se, strict=True)
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise ValueError(f"{self.name} is not fitted yet; call fit(...) first")


class _Patterns:
    """Compressed rows grouped by distinct covariate pattern, prepared once for the
    plain model's likelihood.

    Models whose likelihood is a sum of per-row terms (BG/NBD) take every row at
    once, with alpha as a per-row array (only alpha varies by pattern there);
    Pareto/NBD folds rows onto 2F1 pairs with one alpha and beta, so it is asked
    once per pattern."""

    def __init__(self, plain, x, t_x, age, z, w):
        self.plain, self.w = plain, w
        unique, self.index = unique_inverse(list(z.T))
        self.z = np.column_stack(unique)
        self.per_row = type(plain)._log_likelihood is BaseModel._log_likelihood
        if self.per_row:
            self.data = plain._prepare(x, t_x, age)
            return
        self.rows = [np.flatnonzero(self.index == g) for g in range(len(self.z))]
        self.data = [plain._prepare(x[m], t_x[m], age[m]) for m in self.rows]

    def log_likelihood(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Total log-likelihood and each pattern's gradient in its base parameters (G, k)."""
        if self.per_row:
            return self._per_row(params)
        total, grads = 0.0, np.empty_like(params)
        for g, (rows, data) in enumerate(zip(self.rows, self.data, strict=True)):
            ll, grads[g] = self.plain._log_likelihood(params[g], data, self.w[rows])
            total += ll
        return total, grads

    def _per_row(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        alpha = self.plain.param_names.index("alpha")
        row_params = list(params[0])
        row_params[alpha] = params[self.index, alpha]
        ll, grad = self.plain._row_log_likelihood(row_params, self.data)
        weighted = grad * self.w[:, None]
        grads = np.column_stack(
            [np.bincount(self.index, weighted[:, j], len(self.z)) for j in range(params.shape[1])]
        )
        return float(self.w @ ll), grads
