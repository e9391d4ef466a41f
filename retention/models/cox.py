"""The Cox proportional hazards model of the survival stage, and fast scoring.

lifelines fits the model on a sample of users; scoring every user is done
here, vectorised, from lifelines' baseline cumulative hazard, because calling
lifelines' predict functions for millions of users one by one is far too slow.
The model sees only baseline covariates (the user's first 7 days and how they
were acquired), so a hazard ratio describes users as they looked on arrival.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError

log = logging.getLogger(__name__)

PENALIZER = 0.01
# Count covariates are heavy-tailed (bots, binge days); log(1 + n) keeps a
# few extreme users from dominating the fit.
LOG_COVARIATES = ("events_first_7d", "page_views_first_7d")
PLAIN_COVARIATES = ("active_days_first_7d", "purchased_first_7d")
# Channels with fewer fitted users than this share are pooled with the
# reference (the most common channel) instead of getting an unstable dummy.
MIN_CHANNEL_SHARE = 0.01
FIT_BASELINE_DAYS = 7  # fitted users' first week lies wholly before as_of


class SurvivalFitError(Exception):
    """The Cox model cannot be fitted on this data; the product is skipped."""


class NotFittedError(RuntimeError):
    """A CoxModel was used before fit()."""


class CoxModel:
    """Cox proportional hazards on standardised baseline covariates.

    Covariates are standardised with the fitted sample's means and standard
    deviations, so every hazard ratio is per one standard deviation and the
    ratios of different covariates can be compared.
    """

    def __init__(self, penalizer: float = PENALIZER) -> None:
        self.penalizer = penalizer

    def fit(self, lifetimes: pd.DataFrame) -> CoxModel:
        """Fit on user_lifetimes rows (duration_days, is_churned, covariates)."""
        counts = (  # most users first, ties by name, so the reference is reproducible
            lifetimes["acquisition_channel"]
            .astype(str)  # a category's index would sort in category order, not by name
            .value_counts()
            .sort_index()
            .sort_values(ascending=False, kind="stable")
        )
        common = counts[counts >= MIN_CHANNEL_SHARE * len(lifetimes)]
        self.reference_channel_ = str(counts.index[0]) if len(counts) else "unknown"
        self.channels_ = [str(c) for c in common.index if c != self.reference_channel_]
        raw = self._raw_covariates(lifetimes)
        scales = raw.std(ddof=0)
        self.dropped_ = [name for name in raw.columns if not scales[name] > 0]
        raw = raw.drop(columns=self.dropped_)
        if raw.empty:
            raise SurvivalFitError("no covariate varies among the fitted users")
        self.means_ = raw.mean()
        self.scales_ = scales[raw.columns]
        data = (raw - self.means_) / self.scales_
        data["duration_days"] = lifetimes["duration_days"].to_numpy(float)
        data["is_churned"] = lifetimes["is_churned"].to_numpy(int)
        self.fitter_ = _fit_lifelines(data, self.penalizer)
        self.n_users_ = len(data)
        self.n_events_ = int(data["is_churned"].sum())
        return self

    def design(self, lifetimes: pd.DataFrame) -> pd.DataFrame:
        """The standardised covariates the model was fitted on, for any users."""
        self._check_fitted()
        raw = self._raw_covariates(lifetimes)[self.means_.index]
        return (raw - self.means_) / self.scales_

    def hazard_ratios(self) -> pd.DataFrame:
        """One row per covariate: coef, hazard_ratio, its 95% interval and p_value."""
        self._check_fitted()
        summary = self.fitter_.summary
        return pd.DataFrame(
            {
                "covariate": summary.index.astype(str),
                "coef": summary["coef"].to_numpy(),
                "hazard_ratio": summary["exp(coef)"].to_numpy(),
                "ci_lower": summary["exp(coef) lower 95%"].to_numpy(),
                "ci_upper": summary["exp(coef) upper 95%"].to_numpy(),
                "p_value": summary["p"].to_numpy(),
            }
        )

    def predict_active(
        self, lifetimes: pd.DataFrame, horizons_days: tuple[int, ...]
    ) -> dict[int, np.ndarray]:
        """P(still active h days after as_of | tenure so far), per horizon h.

        Only censored users get a probability. For users whose churn is
        observed the value is NaN: they are gone by definition, and a model of
        time-to-churn has nothing honest to say about whether they return.
        """
        self._check_fitted()
        log_partial_hazard = np.asarray(
            self.fitter_.predict_log_partial_hazard(self.design(lifetimes).to_numpy(float))
        )
        tenure = lifetimes["duration_days"].to_numpy(float)
        censored = ~lifetimes["is_churned"].to_numpy(bool)
        baseline = self.fitter_.baseline_cumulative_hazard_.iloc[:, 0]
        active = {}
        for horizon in horizons_days:
            values = np.full(len(lifetimes), np.nan)
            values[censored] = conditional_survival(
                baseline, log_partial_hazard[censored], tenure[censored], horizon
            )
            active[horizon] = values
        return active

    def linear_terms(self) -> list[tuple[str, float, float, float, float]]:
        """(covariate, mean, scale, center, coefficient) per fitted covariate: the log
        partial hazard is the sum of ((raw - mean) / scale - center) * coefficient, as
        predict_active computes it (lifelines centres the standardised design on its
        fitted mean before the dot product). For engines that score in SQL."""
        self._check_fitted()
        center = self.fitter_._norm_mean
        params = self.fitter_.params_
        return [
            (name, float(self.means_[name]), float(self.scales_[name]))
            + (float(center[name]), float(params[name]))
            for name in self.means_.index
        ]

    def _raw_covariates(self, lifetimes: pd.DataFrame) -> pd.DataFrame:
        raw = pd.DataFrame(index=lifetimes.index)
        for name in LOG_COVARIATES:
            raw[f"log1p_{name}"] = np.log1p(lifetimes[name].to_numpy(float))
        for name in PLAIN_COVARIATES:
            raw[name] = lifetimes[name].to_numpy(float)
        channel = lifetimes["acquisition_channel"].to_numpy()
        for name in self.channels_:
            raw[f"channel_{name}"] = (channel == name).astype(float)
        return raw

    def _check_fitted(self) -> None:
        if not hasattr(self, "fitter_"):
            raise NotFittedError("this CoxModel is not fitted yet; call fit(lifetimes) first")


def conditional_survival(
    baseline_cumulative_hazard: pd.Series,
    log_partial_hazard: np.ndarray,
    tenure: np.ndarray,
    horizon: float,
) -> np.ndarray:
    """S(t + h | x) / S(t | x) for every user at once.

    Same arithmetic as lifelines' predict_survival_function(X, times=[h],
    conditional_after=t): the baseline cumulative hazard is interpolated
    linearly at t and t + h (flat past the last fitted time), and its increase
    is scaled by each user's partial hazard.
    """
    increase = baseline_increase(baseline_cumulative_hazard, tenure, horizon)
    return np.exp(-np.clip(increase, 0.0, None) * np.exp(log_partial_hazard))


def baseline_increase(
    baseline_cumulative_hazard: pd.Series, tenure: np.ndarray, horizon: float
) -> np.ndarray:
    """H0(t + h) - H0(t), the baseline cumulative hazard interpolated linearly (flat past
    the last fitted time): the part of conditional_survival that is the same for every
    user of a tenure, which the Spark engine joins to its users by tenure."""
    times = baseline_cumulative_hazard.index.to_numpy(float)
    cumulative = baseline_cumulative_hazard.to_numpy(float)
    return np.interp(tenure + horizon, times, cumulative) - np.interp(tenure, times, cumulative)


def fit_sample(lifetimes: pd.DataFrame, max_fit_users: int, seed: int) -> pd.DataFrame:
    """The users the Cox model is fitted on: a seeded random sample of at most
    max_fit_users among those whose first week lies wholly before as_of (a
    truncated first week would make a new user look less engaged than they are).
    """
    eligible = lifetimes[lifetimes["baseline_days"] == FIT_BASELINE_DAYS]
    return eligible.iloc[sample_positions(len(eligible), max_fit_users, seed)]


def sample_positions(eligible: int, max_fit_users: int, seed: int) -> np.ndarray:
    """The positions, in user_id order, of the eligible users fit_sample keeps (all of
    them when they are few enough); the Spark engine draws its sample with them."""
    if eligible <= max_fit_users:
        return np.arange(eligible)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(eligible, size=max_fit_users, replace=False))


def _fit_lifelines(data: pd.DataFrame, penalizer: float) -> CoxPHFitter:
    """lifelines' fit, with its warnings sent to the log and failures made ours."""
    fitter = CoxPHFitter(penalizer=penalizer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter.fit(data, duration_col="duration_days", event_col="is_churned")
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            raise SurvivalFitError(f"the Cox fit did not converge: {_first_line(exc)}") from exc
    for warning in caught:
        log.warning("lifelines: %s", _first_line(warning.message))
    return fitter


def _first_line(message: object) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(message).__name__
