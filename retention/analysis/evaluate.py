"""`retention evaluate`: a backtest of the tiers and the purchase model.

Everything is computed as the nightly run would have at `as_of` (a full run
into a scratch warehouse, with data up to as_of only), then compared with
what users did in the next `horizon` (the same source staged up to
as_of + horizon). So the figures are out-of-sample: nothing after as_of
reaches the scores. Results go to the pipeline's warehouse, table
`evaluations`, one row per (product, section, label, metric).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from retention.config.pipeline_file import Pipeline
from retention.errors import ConfigError
from retention.pipeline import run_pipeline
from retention.results import Evaluation
from retention.stages.scores.covariates import KEYS, fit_covariate_model
from retention.stages.staging.events import stage_events
from retention.warehouse.publish import open_warehouse
from retention.warehouse.sql_files import run_sql

log = logging.getLogger(__name__)

HORIZON = re.compile(r"^\s*([0-9]+)\s*([DdWw])\s*$")
TIER_METRICS = ["users", "share_active", "purchases_per_user", "revenue_per_user"]
NEXT_PURCHASE_METRICS = [
    "next_purchase_users",
    "next_purchase_median_abs_error_days",
    "next_purchase_baseline_median_abs_error_days",
    "next_purchase_by_date_share",
    "next_purchase_by_date_expected",
]
BUCKET_METRICS = ["users", "predicted_per_user", "actual_per_user", *NEXT_PURCHASE_METRICS]
OUTCOME_RUN_ID = -1  # staged outcome events live under this id in the scratch warehouse
BASELINES = (
    ("recency", "auc_recency"),  # fewer days since last seen ranks higher
    ("active_days", "auc_frequency"),
    ("expected_purchases_horizon", "auc_expected_purchases"),
    ("clv", "auc_clv"),
)
ORDER = ("core_active", "valid", "at_risk", "churned")  # share active must fall along this
CALIBRATION_BINS = 10
MIN_TIER_SHARE = 0.01  # tiers under this share of a product's users are left out of the check


def parse_horizon(text: str) -> int:
    """ "90D" -> 90, "13W" -> 91 (days)."""
    match = HORIZON.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f'--horizon "{text}": expected days or weeks such as "90D" or "13W"')
    return int(match.group(1)) * (7 if match.group(2).upper() == "W" else 1)


def evaluate(pipeline: Pipeline, as_of: dt.date, horizon_days: int) -> Evaluation:
    """Backtest at as_of over the next horizon_days; store and return the results."""
    scores = pipeline.scores
    if horizon_days not in scores.horizons_days:
        scores = dataclasses.replace(scores, horizons_days=(*scores.horizons_days, horizon_days))
    with tempfile.TemporaryDirectory(prefix="retention-evaluate-") as scratch:
        # The calibration run's lists go to the scratch folder, never to the live exports.
        calibration = dataclasses.replace(pipeline, scores=scores).with_overrides(
            as_of=as_of,
            warehouse=Path(scratch) / "calibration.duckdb",
            exports=Path(scratch) / "exports",
        )
        log.info("calibration run at %s", as_of)
        result = run_pipeline(calibration)
        with open_warehouse(calibration.run.warehouse) as con:
            # read before the outcome window is staged: it shadows the run's staged events
            users = covariate_users(con, calibration, result.run_id)
            outcomes = _outcomes(con, calibration, result.run_id, as_of, horizon_days)
            mapped = {"amount_mapped": "amount" in pipeline.events.columns}
            tiers = run_sql(con, "evaluate/tier_outcomes.sql", mapped).df()
            buckets = run_sql(con, "evaluate/frequency_buckets.sql", {}).df()
    covariates = covariate_metrics(calibration, users, outcomes, horizon_days)
    timing = (outcomes, as_of, horizon_days, pipeline.run.unit_days)
    parts = [_model_metrics(outcomes), next_purchase_metrics(*timing)]
    model = pd.concat(parts + ([covariates] if len(covariates) else []))
    buckets = buckets.merge(
        next_purchase_metrics(*timing, by_bucket=True)
        .pivot(index=["product_id", "bucket"], columns="metric", values="value")
        .reset_index(),
        on=["product_id", "bucket"],
        how="left",
    ).reindex(columns=["product_id", "bucket", *BUCKET_METRICS])
    checks = ordering_checks(tiers)
    evaluation_id = _store(pipeline, as_of, horizon_days, tiers, buckets, model, checks)
    user_tiers = outcomes[["product_id", "user_id", "tier"]]
    return Evaluation(evaluation_id, as_of, horizon_days, tiers, buckets, model, checks, user_tiers)


def _outcomes(con, pipeline: Pipeline, run_id: int, as_of: dt.date, horizon_days: int):
    """Temp table user_outcomes, also returned as a frame for the model metrics."""
    end = as_of + dt.timedelta(days=horizon_days)
    log.info("outcome window %s to %s", as_of + dt.timedelta(days=1), end)
    stage_events(con, pipeline.with_overrides(as_of=end), OUTCOME_RUN_ID)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE horizon_scores AS SELECT product_id, user_id, frequency, "
        "recency, t, expected_next_purchase_at, "
        f'p_alive, p_alive_activity, clv, "expected_purchases_{int(horizon_days)}d" '
        "AS expected_purchases_horizon FROM user_scores WHERE run_id = $run_id",
        {"run_id": run_id},
    )
    window = {"outcome_run_id": OUTCOME_RUN_ID, "as_of": as_of, "horizon_days": horizon_days}
    run_sql(
        con, "outcomes/window_outcomes.sql", window, prefix="CREATE TEMP TABLE window_outcomes AS"
    )
    next_purchases = "CREATE TEMP TABLE next_purchases AS"
    run_sql(con, "evaluate/next_purchases.sql", window, prefix=next_purchases)
    run_sql(
        con,
        "evaluate/user_outcomes.sql",
        {"calibration_run_id": run_id},
        prefix="CREATE TEMP TABLE user_outcomes AS",
    )
    return con.execute("SELECT * FROM user_outcomes").df()


def _model_metrics(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per product: predicted vs actual purchases, MAE, and the ROC AUC of p_alive."""
    rows = []
    for product, users in outcomes.groupby("product_id", sort=True):
        buyers = users[users.expected_purchases_horizon.notna()]
        if len(buyers):
            error = buyers.expected_purchases_horizon - buyers.purchases
            rows += [
                (product, "buyers_scored", float(len(buyers))),
                (product, "predicted_purchases", float(buyers.expected_purchases_horizon.sum())),
                (product, "actual_purchases", float(buyers.purchases.sum())),
                (product, "mean_absolute_error", float(np.abs(error).mean())),
            ]
        rows += _auc_rows(product, buyers, "p_alive", "auc_p_alive")
        rows += _auc_rows(product, users, "p_alive_activity", "auc_p_alive_activity")
        # next to the scores, the baselines any score has to beat (all users)
        users = users.assign(recency=-users.days_since_last_seen)
        for column, metric in BASELINES:
            rows += _auc_rows(product, users, column, metric)
    return pd.DataFrame(rows, columns=["product_id", "metric", "value"])


def covariate_users(con, pipeline: Pipeline, run_id: int) -> pd.DataFrame | None:
    """The calibration users' covariates (None without [scores] covariates)."""
    if not pipeline.scores.covariates:
        return None
    return run_sql(con, "scores/user_covariates.sql", {"run_id": run_id}).df()


def covariate_metrics(pipeline: Pipeline, users, outcomes: pd.DataFrame, horizon_days: int):
    """Did the covariates help? The plain and the covariate fit, both on the
    calibration run's users, scored on what those users bought in the horizon.

    holdout_log_likelihood_per_user: mean log P(N = the user's purchase days in
    the horizon | history, covariates), N from each model's count distribution.
    calibration_error: users sorted by predicted purchases into 10 equal bins;
    the user-weighted mean |mean predicted - mean actual| per bin. Then
    covariates_improve_* = 1 where the covariate fit is better (higher
    log-likelihood, lower error). Empty without [scores] covariates.
    """
    settings = pipeline.scores
    if users is None:
        return pd.DataFrame(columns=["product_id", "metric", "value"])
    users = users.merge(outcomes[["product_id", "user_id", "purchases"]], on=KEYS[:1] + ["user_id"])
    h = horizon_days / pipeline.run.unit_days
    rows = []
    for product, product_users in users.groupby("product_id", sort=True):
        groups = product_users.groupby(KEYS, dropna=False, sort=True).size()
        groups = groups.rename("users").reset_index()
        model, design, _ = fit_covariate_model(groups, product, settings)
        if model is None:
            continue
        index = product_users.merge(groups.reset_index(), on=KEYS, how="left")["index"]
        z = design[index.to_numpy()]
        values = {
            "plain": _holdout(lambda _, m=model: m.plain_, z[:, :0], product_users, h),
            "covariates": _holdout(model.group_model, z, product_users, h),
        }
        for label, (ll, error) in values.items():
            rows += [
                (product, f"holdout_log_likelihood_per_user_{label}", ll),
                (product, f"calibration_error_{label}", error),
            ]
        (ll0, e0), (ll1, e1) = values["plain"], values["covariates"]
        rows += [
            (product, "covariates_improve_log_likelihood", float(ll1 > ll0)),
            (product, "covariates_improve_calibration", float(e1 < e0)),
        ]
        log.info(
            "%s: holdout log-likelihood per user %.4f plain, %.4f with covariates; "
            "calibration error %.4f plain, %.4f with covariates",
            *(product, ll0, ll1, e0, e1),
        )
    return pd.DataFrame(rows, columns=["product_id", "metric", "value"])


def _holdout(model_of, z: np.ndarray, users: pd.DataFrame, h: float) -> tuple[float, float]:
    """(mean holdout log-likelihood, calibration error) of the users under the model
    that `model_of` gives for each distinct covariate pattern."""
    n = users.purchases.to_numpy(dtype=float)
    log_p, predicted = np.empty(len(users)), np.empty(len(users))
    patterns, index = np.unique(z, axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        mask = index.ravel() == g
        model, part = model_of(pattern), users[mask]
        f, r, t = part.frequency.to_numpy(), part.recency.to_numpy(), part["T"].to_numpy()
        predicted[mask] = model.expected_purchases(h, f, r, t)
        probability = np.empty(mask.sum())
        for count in np.unique(n[mask]):
            same = n[mask] == count
            p = model.purchase_count_probability(h, int(count), f[same], r[same], t[same])
            probability[same] = p
        log_p[mask] = np.log(np.maximum(probability, 1e-300))
    order = np.argsort(predicted, kind="stable")
    bins = np.array_split(order, CALIBRATION_BINS)
    error = sum(len(b) * abs(predicted[b].mean() - n[b].mean()) for b in bins if len(b))
    return float(log_p.mean()), float(error / len(n))


def next_purchase_metrics(
    outcomes: pd.DataFrame, as_of: dt.date, horizon_days: int, unit_days: int, by_bucket=False
) -> pd.DataFrame:
    """expected_next_purchase_at against the first purchase day in the horizon.

    The error is scored on users with a predicted date who did buy in the
    horizon (the others' next purchase is not seen yet), so it is at most a
    horizon long. Next to it, the median error of a naive date on the same
    users: last purchase + their mean gap between purchase days
    (recency / frequency), no earlier than the day after as_of; NULL for
    one-time buyers, who have no gap. The date is a median given alive, so of
    the users whose date falls inside the horizon, a share of about
    p_alive / 2 should have bought by it (by_date_share vs by_date_expected):
    a check that does not depend on who happened to buy.
    """
    outcomes = outcomes[outcomes.expected_next_purchase_at.notna()]
    frequency = outcomes.frequency.astype(int)
    day = pd.Timestamp(as_of)
    predicted = pd.to_datetime(outcomes.expected_next_purchase_at)
    actual = pd.to_datetime(outcomes.next_purchase_at)
    last = day - pd.to_timedelta((outcomes.t - outcomes.recency) * unit_days, unit="D")
    per_gap = outcomes.recency / frequency.where(frequency > 0) * unit_days
    naive = (last + pd.to_timedelta(per_gap, "D")).clip(lower=day + pd.Timedelta(days=1))
    frame = outcomes.assign(
        error=(predicted - actual).dt.days.abs(),
        baseline=(naive.dt.round("D") - actual).dt.days.abs(),
        inside=predicted <= day + pd.Timedelta(days=horizon_days),
        by_date=(actual <= predicted).astype(float),
        bucket=np.where(frequency >= 7, "7+", frequency.astype(str)),
    )
    keys = ["product_id", "bucket"] if by_bucket else ["product_id"]
    rows = []
    for key, group in frame.groupby(keys, sort=True):  # a list of keys: key is a tuple
        seen, inside = group[group.error.notna()], group[group.inside]
        values = (
            len(seen),
            seen.error.median() if len(seen) else np.nan,
            seen.baseline.median() if seen.baseline.notna().any() else np.nan,
            inside.by_date.mean() if len(inside) else np.nan,
            inside.p_alive.mean() / 2 if len(inside) else np.nan,
        )
        rows += [(*key, m, float(v)) for m, v in zip(NEXT_PURCHASE_METRICS, values, strict=True)]
    return pd.DataFrame(rows, columns=[*keys, "metric", "value"])


def ordering_checks(tiers: pd.DataFrame) -> pd.DataFrame:
    """Per product: does the share active in the horizon strictly fall from core and
    active (together) to valid, at_risk and churned? Tiers under 1% are left out."""
    rows = []
    for product, by_tier in tiers.groupby("product_id", sort=True):
        total = by_tier.users.sum()
        grouped = (
            by_tier.assign(
                group=by_tier.tier.replace({"core": "core_active", "active": "core_active"}),
                active=by_tier.users * by_tier.share_active,
            )
            .groupby("group")[["users", "active"]]
            .sum()
        )
        grouped = grouped[grouped.users >= MIN_TIER_SHARE * total]
        shares = [(g, grouped.active[g] / grouped.users[g]) for g in ORDER if g in grouped.index]
        passed = all(a[1] > b[1] for a, b in zip(shares, shares[1:], strict=False))
        detail = " > ".join(f"{g} {share:.1%}" for g, share in shares)
        rows.append((product, "share_active_falls", passed, detail))
    return pd.DataFrame(rows, columns=["product_id", "check", "passed", "detail"])


def _auc_rows(product: str, users: pd.DataFrame, column: str, metric: str) -> list[tuple]:
    scored = users[users[column].notna()]
    if scored.is_active.nunique() < 2:
        return []  # AUC needs both outcomes
    return [(product, metric, float(roc_auc_score(scored.is_active, scored[column])))]


def _store(pipeline, as_of, horizon_days, tiers, buckets, model, checks) -> int:
    parts = [
        _melt(tiers, "tier", "tier", TIER_METRICS),
        _melt(buckets, "frequency_bucket", "bucket", BUCKET_METRICS),
        model.assign(section="purchase_model", label="all"),
        checks.assign(
            section="policy", label=checks.check, metric="passed", value=checks.passed.astype(float)
        ),
    ]
    columns = ["product_id", "section", "label", "metric", "value"]
    long = pd.concat([p[columns] for p in parts if len(p)], ignore_index=True)
    with open_warehouse(pipeline.run.warehouse) as con:
        evaluation_id = con.execute(
            "SELECT coalesce(max(evaluation_id), 0) + 1 FROM evaluations"
        ).fetchall()[0][0]
        con.register("evaluation_frame", long.astype({"value": "float64"}))
        con.execute(
            "INSERT INTO evaluations SELECT $id, now()::timestamp, $pipeline, $as_of, $horizon, "
            "product_id, section, label, metric, value FROM evaluation_frame",
            {
                "id": evaluation_id,
                "pipeline": str(pipeline.path),
                "as_of": as_of,
                "horizon": horizon_days,
            },
        )
    return evaluation_id


def _melt(frame: pd.DataFrame, section: str, label: str, metrics: list[str]) -> pd.DataFrame:
    melted = frame.melt(id_vars=["product_id", label], value_vars=metrics, var_name="metric")
    return melted.rename(columns={label: "label"}).assign(section=section)
