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
from retention.models.clv import customer_lifetime_value

log = logging.getLogger(__name__)

MAX_SPEND_SHAPE = 1e4  # Gamma-Gamma p above this: spend per user is (almost) constant


@dataclass(frozen=True)
class ParamRow:
    """One row of model_params."""

    product_id: str
    model: str
    param: str
    value: float | None
    note: str | None = None


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


def predict_purchases(
    model, triples: pd.DataFrame, settings: ScoreSettings, unit_days: int
) -> pd.DataFrame:
    """p_alive, expected purchases per horizon, and the CLV factor per triple.

    clv_factor is the discounted expected number of purchases over
    clv_months, so CLV = expected spend per purchase x clv_factor (the same as
    lifetimes' customer_lifetime_value, which multiplies inside its loop).
    """
    f, r, t = triples.frequency.to_numpy(), triples.recency.to_numpy(), triples["T"].to_numpy()
    out = triples[["product_id", "frequency", "recency", "T"]].copy()
    out["p_alive"] = _alive_model(model).p_alive(f, r, t)
    for days in settings.horizons_days:
        out[f"expected_purchases_{days}d"] = model.expected_purchases(days / unit_days, f, r, t)
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
    rows = [ParamRow(product, name, param, float(value)) for param, value in model.params_.items()]
    rows += [
        ParamRow(product, name, "log_likelihood", float(model.log_likelihood_)),
        ParamRow(product, name, "converged", float(model.converged_)),
        ParamRow(product, name, "n_users", float(model.n_users_)),
        ParamRow(product, name, "fit_seconds", round(seconds, 4)),
    ]
    return rows
