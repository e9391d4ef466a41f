"""User features -> survival_curves, hazard_ratios and user_survival.

How long do users stay, which users leave sooner, and how likely is each user
who is still around to be around in 30 and 90 days? Per product:

1. `sql/survival/user_lifetimes.sql` turns each user into a lifetime: churn is
   observed after `churn_after_days` without being seen, otherwise the user
   is censored at as_of.
2. Kaplan-Meier curves for all users and per acquisition month and channel,
   fitted on (duration, churned, count) triples so millions of users cost a
   few hundred rows.
3. A Cox model on a seeded sample of users (retention.models.cox); every
   censored user of the product is then scored from it, vectorised.

A product with too few users or churn events gets its curves but no Cox model;
the returned notes say why, and the caller records them in model_params.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow.compute as pc
from scipy.stats import norm

from retention.errors import ConfigError
from retention.models.cox import CoxModel, SurvivalFitError, fit_sample
from retention.stages.features import ensure_shared_model
from retention.warehouse.sql_files import run_sql

log = logging.getLogger(__name__)

SURVIVAL_TABLES = ("survival_curves", "hazard_ratios", "user_survival")
CURVE_GROUPS = ("all", "acquisition_month", "acquisition_channel")
# Durations are whole days, so a curve has one point per day with an event;
# longer histories are merged into intervals of a few days (see thin_curve).
MAX_CURVE_POINTS = 400
MIN_COX_EVENTS = 20
MIN_COX_USERS = 50
Z_95 = float(norm.ppf(0.975))  # the bands' z, as lifelines computes it (alpha 0.05)


@dataclass(frozen=True)
class SurvivalSettings:
    churn_after_days: int = 90
    max_fit_users: int = 50_000
    seed: int = 0
    horizons_days: tuple[int, ...] = (30, 90)

    def __post_init__(self) -> None:
        for name in ("churn_after_days", "max_fit_users"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"survival {name} must be a whole number >= 1; got {value!r}")
        bad = [h for h in self.horizons_days if not isinstance(h, int) or h < 1]
        if bad or not self.horizons_days:
            raise ConfigError(
                "survival horizons_days must be whole numbers of days >= 1, e.g. [30, 90]; "
                f"got {list(self.horizons_days)!r}"
            )


@dataclass(frozen=True)
class SurvivalNote:
    """One fact about a product's survival models, for a model_params row."""

    product_id: str
    model: str
    param: str
    value: float | None
    note: str = ""


def build_survival(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    as_of: dt.date,
    settings: SurvivalSettings,
) -> list[SurvivalNote]:
    """Writes this run's rows into survival_curves, hazard_ratios and user_survival.

    Needs this run's user_features and user_days (built with the features, or
    here from stg_events). Runs in the caller's
    transaction; rows an earlier call wrote for the same run_id are replaced.
    The tables exist already: opening the warehouse runs survival_schema.sql.
    """
    for horizon in settings.horizons_days:
        con.execute(
            f"ALTER TABLE user_survival ADD COLUMN IF NOT EXISTS p_active_{horizon}d DOUBLE"
        )
    for table in SURVIVAL_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": run_id})
    params = {"run_id": run_id, "as_of": as_of, "churn_after_days": settings.churn_after_days}
    ensure_shared_model(con, "user_days", params)
    run_sql(
        con,
        "survival/user_lifetimes.sql",
        params,
        prefix="CREATE OR REPLACE TEMP TABLE user_lifetimes AS",
    )
    notes: list[SurvivalNote] = []
    try:
        products = con.execute("SELECT DISTINCT product_id FROM user_lifetimes ORDER BY 1")
        for (product_id,) in products.fetchall():
            notes += _build_product(
                con, run_id, product_id, _product_lifetimes(con, product_id), settings
            )
    finally:
        con.execute("DROP TABLE IF EXISTS user_lifetimes")
        con.execute("DROP TABLE IF EXISTS survival_users")
    return notes


def _product_lifetimes(con: duckdb.DuckDBPyConnection, product_id: str) -> pd.DataFrame:
    """One product's lifetimes in user_id order, without a Python string per user.

    At millions of users a string object each (user ids, channels) costs more
    memory than the numbers: the rows are sorted once into the temp table
    survival_users, whose user_id column `_insert` pairs back with the frame
    by position, and the channel comes as a pandas category.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE survival_users AS SELECT * EXCLUDE (product_id) "
        "FROM user_lifetimes WHERE product_id = $product_id ORDER BY user_id",
        {"product_id": product_id},
    )
    table = con.sql("SELECT * EXCLUDE (user_id) FROM survival_users").to_arrow_table()
    channel = table.schema.get_field_index("acquisition_channel")
    table = table.set_column(
        channel, "acquisition_channel", pc.dictionary_encode(table["acquisition_channel"])
    )
    return table.to_pandas()


def _build_product(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    product_id: str,
    lifetimes: pd.DataFrame,
    settings: SurvivalSettings,
) -> list[SurvivalNote]:
    clock = time.perf_counter()
    counts = curve_counts(lifetimes)
    insert_rows(con, "survival_curves", run_id, product_id, curves_from_counts(counts))
    km_seconds = time.perf_counter() - clock
    churned = int(lifetimes["is_churned"].sum())
    notes = curve_notes(product_id, len(lifetimes), churned)
    clock = time.perf_counter()
    sample = fit_sample(lifetimes, settings.max_fit_users, settings.seed)
    model, cox_notes = fit_cox(product_id, sample)
    cox_seconds = time.perf_counter() - clock
    notes += cox_notes
    clock = time.perf_counter()
    scores = lifetimes[["duration_days", "is_churned"]].copy()
    scores["duration_days"] = scores["duration_days"].astype(float)
    if model is not None:
        insert_rows(con, "hazard_ratios", run_id, product_id, model.hazard_ratios())
        for horizon, values in model.predict_active(lifetimes, settings.horizons_days).items():
            scores[f"p_active_{horizon}d"] = values
    ids = "(SELECT user_id FROM survival_users)"  # a plain scan: the frame's row order
    insert_rows(con, "user_survival", run_id, product_id, scores, ids=ids)
    log.debug(
        "  survival %s: %d users, %d churned; Kaplan-Meier %.2f s, Cox %.2f s, scoring %.2f s",
        product_id,
        len(lifetimes),
        churned,
        km_seconds,
        cox_seconds,
        time.perf_counter() - clock,
    )
    return notes


def curve_notes(product_id: str, users: int, churned: int) -> list[SurvivalNote]:
    return [
        SurvivalNote(product_id, "kaplan_meier", "n_users", float(users)),
        SurvivalNote(product_id, "kaplan_meier", "n_churned", float(churned)),
    ]


def fit_cox(product_id: str, sample: pd.DataFrame) -> tuple[CoxModel | None, list[SurvivalNote]]:
    """The product's Cox model on its fit sample (models.cox.fit_sample) and its notes,
    or None and a note saying why not."""
    events = int(sample["is_churned"].sum())
    reason = None
    if len(sample) < MIN_COX_USERS:
        reason = f"{len(sample)} users with a full first week, need {MIN_COX_USERS}"
    elif events < MIN_COX_EVENTS:
        reason = f"{events} observed churn events among {len(sample)} users, need {MIN_COX_EVENTS}"
    if reason is None:
        try:
            model = CoxModel().fit(sample)
        except SurvivalFitError as exc:
            reason = str(exc)
    if reason is not None:
        log.warning("  survival %s: Cox model skipped: %s", product_id, reason)
        return None, [SurvivalNote(product_id, "cox", "fallback", None, f"skipped: {reason}")]
    fitter = model.fitter_
    notes = [
        SurvivalNote(product_id, "cox", "n_fit_users", float(model.n_users_)),
        SurvivalNote(product_id, "cox", "n_fit_events", float(model.n_events_)),
        SurvivalNote(product_id, "cox", "concordance", float(fitter.concordance_index_)),
        SurvivalNote(product_id, "cox", "log_likelihood", float(fitter.log_likelihood_)),
        SurvivalNote(product_id, "cox", "penalizer", float(model.penalizer)),
        SurvivalNote(
            product_id,
            "cox",
            "reference_channel",
            None,
            f"{model.reference_channel_}: channel_* hazard ratios compare with it",
        ),
    ]
    notes += [
        SurvivalNote(product_id, "cox", "dropped_covariate", None, f"{name}: constant")
        for name in model.dropped_
    ]
    return model, notes


def curve_counts(lifetimes: pd.DataFrame) -> pd.DataFrame:
    """Users per (group_kind, group_value, duration_days, is_churned) of one product: all
    users, per acquisition month and per channel (the Kaplan-Meier curves' inputs)."""
    triples = lifetimes.assign(all="all")
    counts = []
    for kind in CURVE_GROUPS:
        group = triples.groupby([kind, "duration_days", "is_churned"], observed=True).size()
        frame = group.rename("users").reset_index().rename(columns={kind: "group_value"})
        counts.append(frame.assign(group_kind=kind, group_value=frame.group_value.astype(str)))
    return pd.concat(counts, ignore_index=True)


def curves_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier curves of one product from its curve_counts (whichever engine counted)."""
    curves = []
    for kind in CURVE_GROUPS:
        of_kind = counts[counts.group_kind == kind]
        for value, group in of_kind.groupby("group_value", sort=True):
            curve = km_curve(
                group.duration_days.to_numpy(float),
                group.is_churned.to_numpy(bool),
                group.users.to_numpy(),
            )
            curves.append(curve.assign(group_kind=kind, group_value=str(value)))
    return pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()


def km_curve(durations: np.ndarray, churned: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier estimate from (duration, churned, count) triples.

    Weights equal to whole counts give exactly the unweighted fit on the
    expanded users, at the cost of one row per distinct triple. The arithmetic
    is lifelines' KaplanMeierFitter's, step for step (its event table, product
    limit in logs, exponential Greenwood bands), so the values are its own to
    the last bit; a fitter object per curve cost more than the curves (a
    product has one per acquisition month and channel).
    """
    durations = np.asarray(durations, dtype=float)
    counts = np.asarray(counts, dtype=np.int64)
    # the event table: every distinct duration, and day 0, when everyone enters
    times, position = np.unique(np.concatenate([durations, [0.0]]), return_inverse=True)
    removed = np.bincount(position[:-1], weights=counts, minlength=len(times)).astype(np.int64)
    observed = np.bincount(
        position[:-1], weights=counts * np.asarray(churned, dtype=bool), minlength=len(times)
    ).astype(np.int64)
    at_risk = counts.sum() - np.concatenate([[0], np.cumsum(removed)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_survival = np.cumsum(np.log(at_risk - observed) - np.log(at_risk))
        steps = observed / (at_risk.astype(np.uint64) * (at_risk - observed))
        variance = np.cumsum(np.where(np.isposinf(steps), 0.0, steps))
        survival = np.exp(pd.Series(log_survival).ffill().to_numpy())
        variance = pd.Series(variance).ffill().to_numpy()
        v = np.log(survival)
        spread = Z_95 * np.sqrt(variance) / v
        lower = np.exp(-np.exp(np.log(-v) - spread))
        upper = np.exp(-np.exp(np.log(-v) + spread))
    curve = pd.DataFrame(
        {
            "timeline_days": times,
            "survival": survival,
            "ci_lower": np.where(np.isnan(lower), 1.0, lower),
            "ci_upper": np.where(np.isnan(upper), 1.0, upper),
            "at_risk": at_risk,
            "churned": observed,
        }
    )
    return thin_curve(curve, MAX_CURVE_POINTS)


def thin_curve(curve: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most max_points rows: merge times into intervals of equal length.

    Each kept row is the interval's last time with the exact estimate there,
    the users at risk when the interval began, and the churn events inside it.
    Day 0 keeps a row of its own, so the first-day drop stays visible.
    """
    if len(curve) <= max_points:
        return curve
    step = math.ceil(curve["timeline_days"].max() / (max_points - 1))
    interval = np.ceil(curve["timeline_days"].to_numpy() / step)
    return (
        curve.groupby(interval, sort=True)
        .agg(
            timeline_days=("timeline_days", "last"),
            survival=("survival", "last"),
            ci_lower=("ci_lower", "last"),
            ci_upper=("ci_upper", "last"),
            at_risk=("at_risk", "first"),
            churned=("churned", "sum"),
        )
        .reset_index(drop=True)
    )


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    run_id: int,
    product_id: str,
    rows: pd.DataFrame,
    ids: str | None = None,
) -> None:
    """Append a frame in one INSERT ... SELECT (NaN becomes NULL); `ids` is a relation
    whose rows (user ids) pair with the frame's by position."""
    if rows.empty:
        return
    con.register("survival_rows", rows)
    source = "survival_rows" if ids is None else f"{ids} POSITIONAL JOIN survival_rows"
    try:
        con.execute(
            f"INSERT INTO {table} BY NAME "
            f"SELECT $run_id AS run_id, $product_id AS product_id, * FROM {source}",
            {"run_id": run_id, "product_id": product_id},
        )
    finally:
        con.unregister("survival_rows")
