"""The purchase model with per-user covariates ([scores] covariates).

Why after the plain scores, not instead of them: user_scores is built once from
the plain model's per-triple predictions; for a product fitted with
covariates, each user's purchase-model columns are then replaced by the
predictions of their (frequency, recency, T) and covariate group
(`sql/scores/covariate_user_scores.sql`). So a product whose covariate fit
fails keeps the plain scores, and the plain fit stays in model_params
beside the covariate one (model `<model>_covariates`) for comparison.

Encoding, per product: a categorical covariate becomes one column per level
against the most common level (the reference, so alpha0 is that of the bulk
of users); levels with fewer users than min_repeat_buyers are pooled as
"(other)", whose coefficient no single rare level could pin down. A numeric
covariate is standardised by its user-weighted mean and standard deviation
(gamma is per standard deviation); a missing value takes the mean. The
reference level, the mean and the standard deviation go to model_params.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import chi2

from retention.config.scores import ScoreSettings
from retention.models import PURCHASE_MODELS
from retention.models.base import unique_inverse
from retention.models.covariates import CovariateModel
from retention.stages.scores.btyd import ParamRow, predict_purchases, prediction_columns
from retention.warehouse.sql_files import column_types, quote_identifier, run_sql

log = logging.getLogger(__name__)

KEYS = ["product_id", "frequency", "recency", "T", "acquisition_channel", "first_order_bucket"]
BUCKETS_PER_LOG_UNIT = 4  # first_order_bucket = round(4 ln amount), see user_covariates.sql
OTHER_LEVEL = "(other)"
# covariate_user_scores columns that are not user_scores columns
NOT_SCORES = {*KEYS, "user_id", "days_to_next_purchase"}
TEMP_TABLES = ("user_covariates", "covariate_predictions", "covariate_user_scores")


def score_covariates(
    con: duckdb.DuckDBPyConnection,
    settings: ScoreSettings,
    params: dict,
    read_groups: Callable[[], pd.DataFrame] | None = None,
):
    """Fit each product's covariate model; temp table covariate_predictions; model_params rows.

    read_groups() gives the fit's groups (btyd_covariate_triples.sql); the
    Spark engine passes its own, which computes the per-user covariates there.
    """
    if not settings.covariates:
        return []
    groups = read_groups() if read_groups is not None else covariate_groups(con, params)
    predictions, rows = [], []
    for product, product_groups in groups.groupby("product_id", sort=True):
        product_groups = product_groups.reset_index(drop=True)
        model, design, notes = fit_covariate_model(product_groups, product, settings)
        rows += notes
        if model is not None:
            predictions.append(
                predict_groups(model, design, product_groups, settings, params["unit_days"])
            )
    columns = KEYS + prediction_columns(settings.horizons_days)
    frame = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame()
    frame = frame.reindex(columns=columns)
    numeric = [c for c in columns if c not in ("product_id", "acquisition_channel")]
    frame = frame.astype({c: "float64" for c in numeric} | {"first_order_bucket": "Int64"})
    frame = frame.astype({"product_id": str, "acquisition_channel": str})
    con.register("covariate_frame", frame)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE covariate_predictions AS SELECT * FROM covariate_frame"
    )
    con.unregister("covariate_frame")
    return rows


def covariate_groups(con: duckdb.DuckDBPyConnection, params: dict) -> pd.DataFrame:
    """The fit's groups on DuckDB, after the temp table user_covariates they count."""
    create_user_covariates(con, params)
    return run_sql(con, "scores/btyd_covariate_triples.sql", params).df()


def create_user_covariates(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """The temp table user_covariates (scores/user_covariates.sql) of params' run."""
    prefix = "CREATE OR REPLACE TEMP TABLE user_covariates AS"
    run_sql(con, "scores/user_covariates.sql", params, prefix=prefix)


def drop_covariate_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp tables the covariate models leave for the scores join."""
    for table in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def replaced_columns(covariate_columns: list[str]) -> list[str]:
    """The user_scores columns covariate_user_scores replaces (of its columns)."""
    names = [c for c in covariate_columns if c not in NOT_SCORES]
    return [c for c in names if not c.startswith("clv_factor")]


def apply_covariate_scores(con: duckdb.DuckDBPyConnection, settings: ScoreSettings, params: dict):
    """Replace the purchase-model columns of users of covariate-fitted products."""
    if not settings.covariates:
        return
    prefix = "CREATE OR REPLACE TEMP TABLE covariate_user_scores AS"
    run_sql(con, "scores/covariate_user_scores.sql", params, prefix=prefix)
    names = replaced_columns(list(column_types(con, "covariate_user_scores")))
    assignments = ", ".join(f"{quote_identifier(c)} = c.{quote_identifier(c)}" for c in names)
    con.execute(
        f"UPDATE user_scores SET {assignments} FROM covariate_user_scores AS c "
        "WHERE user_scores.run_id = $run_id AND user_scores.product_id = c.product_id "
        "AND user_scores.user_id = c.user_id",
        {"run_id": params["run_id"]},
    )
    drop_covariate_tables(con)


def encode(
    groups: pd.DataFrame, names: tuple[str, ...], min_users: int, product: str, model: str
) -> tuple[np.ndarray, list[str], list[ParamRow]]:
    """The design matrix of one product's groups, its column names and model_params notes."""
    users = groups.users.to_numpy(dtype=float)
    blocks, columns, notes = [], [], []
    if "acquisition_channel" in names:
        counts = groups.groupby("acquisition_channel").users.sum()
        counts = counts.sort_index().sort_values(ascending=False, kind="stable")
        reference = str(counts.index[0])
        kept = [str(level) for level, n in counts.items() if n >= min_users][1:]
        level = groups.acquisition_channel.where(
            groups.acquisition_channel.isin([reference, *kept]), OTHER_LEVEL
        )
        if (level == OTHER_LEVEL).any():
            kept.append(OTHER_LEVEL)
        for value in kept:
            blocks.append((level == value).to_numpy(dtype=float))
            columns.append(f"acquisition_channel={value}")
        note = f"reference level of acquisition_channel: {reference}"
        notes.append(ParamRow(product, model, "reference_acquisition_channel", None, note))
    if "log_first_order_value" in names:
        value = groups.first_order_bucket.to_numpy(dtype=float) / BUCKETS_PER_LOG_UNIT
        known = np.isfinite(value)
        mean, sd = 0.0, 0.0
        if known.any():
            mean = float(np.average(value[known], weights=users[known]))
            sd = float(np.sqrt(np.average((value[known] - mean) ** 2, weights=users[known])))
        if sd > 0:
            blocks.append(np.where(known, (value - mean) / sd, 0.0))
            columns.append("log_first_order_value")
            notes.append(ParamRow(product, model, "mean_log_first_order_value", mean))
            notes.append(ParamRow(product, model, "sd_log_first_order_value", sd))
        else:
            note = "log_first_order_value does not vary (or no amounts): left out"
            notes.append(ParamRow(product, model, "dropped_log_first_order_value", None, note))
    design = np.column_stack(blocks) if blocks else np.zeros((len(groups), 0))
    return design, columns, notes


def fit_covariate_model(
    groups: pd.DataFrame, product: str, settings: ScoreSettings
) -> tuple[CovariateModel | None, np.ndarray, list[ParamRow]]:
    """One product's covariate fit; (None, design, notes) when it cannot be used."""
    name = f"{settings.purchase_model}_covariates"
    design, columns, notes = encode(
        groups, settings.covariates, settings.min_repeat_buyers, product, name
    )
    repeaters = int(groups.loc[groups.frequency > 0, "users"].sum())
    problem = None
    if repeaters < settings.min_repeat_buyers:
        problem = f"{repeaters} users with repeat purchases, need {settings.min_repeat_buyers}"
    elif not columns:
        problem = "no covariate varies in this product"
    if problem:
        note = f"{problem}: users keep the plain model's scores"
        return None, design, [*notes, ParamRow(product, name, "fallback", None, note)]
    options = {"penalizer": settings.penalizer}
    if settings.purchase_model == "bgnbd":
        options["one_time_buyer_correction"] = settings.one_time_buyers == "dropout"
    model = CovariateModel(PURCHASE_MODELS[settings.purchase_model], **options)
    started = time.perf_counter()
    model.fit(groups.frequency, groups.recency, groups["T"], design, columns, groups.users)
    notes += fit_rows(model, product, time.perf_counter() - started, len(groups))
    if not model.converged_:
        log.warning("  %s: the purchase model with covariates found no stable fit", product)
        note = "the fit did not converge: users keep the plain model's scores"
        return None, design, [*notes, ParamRow(product, name, "fallback", None, note)]
    return model, design, notes


def fit_rows(model: CovariateModel, product: str, seconds: float, n_rows: int) -> list[ParamRow]:
    """Parameters and coefficients with stderr and 95% bounds, then the fit's facts,
    with a likelihood-ratio test against the plain fit on the same rows."""
    rows = [
        ParamRow(product, model.name, param, value, None, *_finite(stderr, lower, upper))
        for param, (value, stderr, lower, upper) in model.parameter_table().items()
    ]
    ratio = 2 * (model.log_likelihood_ - model.plain_log_likelihood_)
    dof = len(model.param_names) - len(model.base.param_names)
    facts = {
        "log_likelihood": model.log_likelihood_,
        "log_likelihood_without_covariates": model.plain_log_likelihood_,
        "likelihood_ratio_p_value": float(chi2.sf(max(ratio, 0.0), dof)),
        "converged": float(model.converged_),
        "n_users": model.n_users_,
        "distinct_rows": float(n_rows),
        "fit_seconds": round(seconds, 4),
    }
    return rows + [ParamRow(product, model.name, k, float(v)) for k, v in facts.items()]


def predict_groups(
    model: CovariateModel, design: np.ndarray, groups: pd.DataFrame, settings, unit_days: int
) -> pd.DataFrame:
    """Every purchase-model score per group: the plain model's predictions at each
    covariate pattern's parameters (`CovariateModel.group_model`)."""
    patterns, index = unique_inverse(list(design.T))
    frames = []
    for g, z in enumerate(np.column_stack(patterns)):
        rows = groups[index == g]
        out = predict_purchases(model.group_model(z), rows, settings, unit_days)
        frames.append(out.assign(**{k: rows[k] for k in KEYS[4:]}))
    return pd.concat(frames)


def _finite(*values: float) -> tuple[float | None, ...]:
    return tuple(float(v) if np.isfinite(v) else None for v in values)
