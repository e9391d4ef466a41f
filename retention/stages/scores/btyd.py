"""Fit the buy-till-you-die models per product and score (frequency, recency, T) triples.

Models are fitted on compressed triples (one row per distinct triple, with a
user count as weight) and predictions are made once per distinct triple; the
SQL in `sql/scores/user_scores.sql` joins them back to every user. So the cost
grows with the number of distinct triples, not with the number of users.

A product with too few repeat buyers, or whose fit does not converge, gets no
model scores (NULL, never made-up numbers); the reason goes to model_params
as param "fallback" and to the run log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention.config.scores import ScoreSettings
from retention.models import PURCHASE_MODELS, BetaGeoModel, GammaGammaModel
from retention.models.base import unique_inverse
from retention.models.clv import customer_lifetime_value
from retention.models.intervals import prediction_intervals
from retention.models.uncertainty import parameter_table

log = logging.getLogger(__name__)

MAX_SPEND_SHAPE = 1e4  # Gamma-Gamma p above this: spend per user is (almost) constant
# expected_next_purchase_at is NULL when the median wait is longer than this:
# a date ten years out says "not coming back" better as no date.
MAX_WAIT_DAYS = 3650


@dataclass(frozen=True)
class ParamRow:
    """One row of model_params."""

    product_id: str
    model: str
    param: str
    value: float | None
    note: str | None = None
    stderr: float | None = None
    lower_95: float | None = None
    upper_95: float | None = None


def fit_purchase_model(
    triples: pd.DataFrame, product: str, settings: ScoreSettings, model_name: str
) -> tuple[object | None, list[ParamRow]]:
    """Fit one product's model on its triples; (None, notes) when it cannot be trusted."""
    repeaters = int(triples.loc[triples.frequency > 0, "users"].sum())
    if repeaters < settings.min_repeat_buyers:
        note = (
            f"{repeaters} users with repeat activity, need {settings.min_repeat_buyers}: no scores"
        )
        log.warning(
            "  %s: %d returning users, fewer than the %d the purchase model needs: "
            "no p_alive or CLV",
            product,
            repeaters,
            settings.min_repeat_buyers,
        )
        return None, [ParamRow(product, model_name, "fallback", None, note)]
    options = {"penalizer": settings.penalizer}
    if settings.purchase_model == "bgnbd":
        options["one_time_buyer_correction"] = settings.one_time_buyers == "dropout"
    model = PURCHASE_MODELS[settings.purchase_model](**options)
    started = time.perf_counter()
    model.fit(triples.frequency, triples.recency, triples["T"], weights=triples.users)
    rows = _fit_rows(product, model_name, model, time.perf_counter() - started)
    rows.append(ParamRow(product, model_name, "distinct_triples", float(len(triples))))
    if isinstance(model, BetaGeoModel):
        flag = float(model.one_time_buyer_correction)
        rows.append(ParamRow(product, model_name, "one_time_buyer_correction", flag))
    if not model.converged_:
        note = "the fit did not converge: no scores"
        log.warning("  %s: the purchase model found no stable fit: no p_alive or CLV", product)
        log.debug("  %s %s: %s", product, model_name, note)
        return None, [*rows, ParamRow(product, model_name, "fallback", None, note)]
    return model, rows


def prediction_columns(horizons_days: tuple[int, ...]) -> list[str]:
    """The per-triple columns predict_purchases returns, after the triple itself."""
    columns = ["p_alive"]
    for days in horizons_days:
        columns += [f"expected_purchases_{days}d", *horizon_columns(days)]
    return columns + ["clv_factor", *interval_columns("clv_factor"), "days_to_next_purchase"]


def horizon_columns(days: int) -> list[str]:
    """Per-horizon columns besides expected_purchases_<days>d (also user_scores columns)."""
    return [
        *interval_columns(f"expected_purchases_{days}d"),
        f"p_no_purchase_{days}d",
        f"p_one_purchase_{days}d",
        f"p_2plus_purchases_{days}d",
        f"p_alive_in_{days}d",
    ]


def interval_columns(column: str) -> list[str]:
    """The 90% bounds of a column: <column>_lower_90 and <column>_upper_90."""
    return [f"{column}_lower_90", f"{column}_upper_90"]


def predict_purchases(
    model, triples: pd.DataFrame, settings: ScoreSettings, unit_days: int
) -> pd.DataFrame:
    """Every purchase-model score per triple (see `prediction_columns`): the point
    predictions and their 90% bounds."""
    points = point_predictions(model, triples, settings, unit_days)
    return add_intervals(model, points, settings, unit_days)


def point_predictions(
    model, triples: pd.DataFrame, settings: ScoreSettings, unit_days: int
) -> pd.DataFrame:
    """Every purchase-model score per triple but the 90% bounds (`add_intervals`).

    clv_factor is the discounted expected number of purchases over
    clv_months, so CLV = expected spend per purchase x clv_factor (the same as
    lifetimes' customer_lifetime_value, which multiplies inside its loop).
    The parts that do not depend on recency are computed once per distinct
    (frequency, T) pair.
    """
    f, r, t = triples.frequency.to_numpy(), triples.recency.to_numpy(), triples["T"].to_numpy()
    out = triples[["product_id", "frequency", "recency", "T"]].copy()
    reported = _alive_model(model)
    out["p_alive"] = reported.p_alive(f, r, t)
    alive = model.p_alive(f, r, t)  # the model's own, so the probabilities add up
    (pair_f, pair_t), pair = unique_inverse([f.astype(float), t.astype(float)])
    for days in settings.horizons_days:
        h = days / unit_days
        given = model.expected_purchases_given_alive(h, pair_f, pair_t)[pair]
        out[f"expected_purchases_{days}d"] = alive * given
        none = alive * model.purchase_count_pmf_given_alive(h, 0, pair_f, pair_t)[pair] + 1 - alive
        one = alive * model.purchase_count_pmf_given_alive(h, 1, pair_f, pair_t)[pair]
        out[f"p_no_purchase_{days}d"] = none
        out[f"p_one_purchase_{days}d"] = one
        out[f"p_2plus_purchases_{days}d"] = np.clip(1 - none - one, 0.0, 1.0)
        out[f"p_alive_in_{days}d"] = reported.p_alive(f, r, t + h)
    out["clv_factor"] = customer_lifetime_value(
        model,
        f,
        r,
        t,
        np.ones(len(out)),
        months=settings.clv_months,
        monthly_discount_rate=settings.monthly_discount_rate,
        unit_days=unit_days,
    )
    wait = model.median_wait_given_alive(pair_f, pair_t, MAX_WAIT_DAYS / unit_days)[pair]
    likely_alive = out.p_alive.to_numpy() >= 0.5
    known = likely_alive & np.isfinite(wait)
    out["days_to_next_purchase"] = np.where(known, wait * unit_days, np.nan)
    return out


def add_intervals(
    model, out: pd.DataFrame, settings: ScoreSettings, unit_days: int
) -> pd.DataFrame:
    """90% bounds of expected purchases and clv_factor from parameter draws (in place);
    NULL without a covariance."""
    f, r, t = out.frequency.to_numpy(), out.recency.to_numpy(), out["T"].to_numpy()
    horizons = [days / unit_days for days in settings.horizons_days]
    bounds = prediction_intervals(
        model,
        f.astype(float),
        r,
        t.astype(float),
        horizons,
        months=settings.clv_months,
        monthly_discount_rate=settings.monthly_discount_rate,
        unit_days=unit_days,
        n_draws=settings.interval_draws,
        seed=settings.interval_seed,
    )
    keys = {f"expected_purchases_{d}d": str(float(d / unit_days)) for d in settings.horizons_days}
    keys["clv_factor"] = "clv_factor"
    for column, key in keys.items():
        lower, upper = bounds.get(key, (np.nan, np.nan))
        out[f"{column}_lower_90"], out[f"{column}_upper_90"] = lower, upper
    return out


def _alive_model(model):
    """The model whose P(alive) is reported: plain BG/NBD calls every one-time buyer
    certainly alive, so with one_time_buyers = "plain" (its expected purchases are
    the better calibrated ones) P(alive) of frequency 0 still takes the dropout
    formula, which ranks them (README, "One-time buyers")."""
    if isinstance(model, BetaGeoModel) and not model.one_time_buyer_correction:
        return BetaGeoModel.from_params(model.params_, one_time_buyer_correction=True)
    return model


def predict_activity(model, triples: pd.DataFrame, unit_days: int) -> pd.DataFrame:
    f, r, t = triples.frequency.to_numpy(), triples.recency.to_numpy(), triples["T"].to_numpy()
    out = triples[["product_id", "frequency", "recency", "T"]].copy()
    out["p_alive_activity"] = _alive_model(model).p_alive(f, r, t)
    out["expected_active_days_30d"] = model.expected_purchases(30 / unit_days, f, r, t)
    return out


def fit_spend(
    values: pd.DataFrame, product: str, settings: ScoreSettings
) -> tuple[dict[str, float | None], list[ParamRow]]:
    """Gamma-Gamma parameters, or the plain mean repeat spend when it cannot be fitted."""
    users = int(values.users.sum())
    mean_value = float(np.average(values.monetary_value, weights=values.users)) if users else None
    spend = {"product_id": product, "p": None, "q": None, "v": None, "mean_value": mean_value}
    if users < settings.min_repeat_buyers:
        note = (
            f"{users} repeat buyers with positive spend, need {settings.min_repeat_buyers}: "
            "expected spend is their plain mean"
        )
        log.warning(
            "  %s: %d repeat buyers with spend, fewer than %d: CLV uses the average order value",
            product,
            users,
            settings.min_repeat_buyers,
        )
        return spend, [ParamRow(product, "gamma_gamma", "fallback", mean_value, note)]
    model = GammaGammaModel(penalizer=settings.penalizer)
    started = time.perf_counter()
    model.fit(values.frequency, values.monetary_value, weights=values.users)
    rows = _fit_rows(product, "gamma_gamma", model, time.perf_counter() - started)
    if not model.converged_ or model.params_["q"] <= 1 or model.params_["p"] > MAX_SPEND_SHAPE:
        # p in the millions means spend hardly varies within a user (a few fixed
        # price points): the likelihood is flat along p * v, the parameters are
        # not identified and change from run to run, so do not use them.
        note = (
            "the fit did not converge, or q <= 1, or p > 1e4 (spend barely varies within "
            "users: parameters not identified): expected spend is the plain mean"
        )
        log.info("  %s: spend barely varies per user, so CLV uses the average order value", product)
        log.debug("  %s gamma_gamma: %s", product, note)
        return spend, [*rows, ParamRow(product, "gamma_gamma", "fallback", mean_value, note)]
    return {**spend, **model.params_}, rows


def _fit_rows(product: str, name: str, model, seconds: float) -> list[ParamRow]:
    """Parameters with their standard errors and Wald 95% intervals, then fit facts."""
    rows = [
        ParamRow(product, name, param, value, None, *_finite(stderr, lower, upper))
        for param, (value, stderr, lower, upper) in parameter_table(model).items()
    ]
    rows += [
        ParamRow(product, name, "log_likelihood", float(model.log_likelihood_)),
        ParamRow(product, name, "converged", float(model.converged_)),
        ParamRow(product, name, "n_users", float(model.n_users_)),
        ParamRow(product, name, "fit_seconds", round(seconds, 4)),
    ]
    return rows


def _finite(*values: float) -> tuple[float | None, ...]:
    return tuple(float(v) if np.isfinite(v) else None for v in values)
