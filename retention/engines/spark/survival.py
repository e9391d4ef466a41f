"""Survival on Spark: user_features in the lake -> user_survival; the fits on the driver.

The DuckDB engine (stages/scores/survival.py) reads every user's lifetime into
pandas; past one machine that is the one per-user frame the driver cannot
hold. Here the per-user work stays on Spark and only small tables reach the
driver, which fits with the DuckDB engine's own code:
1. `sql/survival/user_lifetimes.sql` on Spark, written to the lake;
2. the Kaplan-Meier inputs counted on Spark (`sql/survival/curve_counts.sql`,
   a row per product, group, duration and churn flag), the curves computed
   from them by `curves_from_counts` (integer counts: the same curves);
3. the Cox sample drawn at the positions `models.cox.sample_positions` gives
   (`sql/survival/cox_sample.sql`, user_id order), so the fit sees the same
   users in the same order and gives the same model;
4. every user scored on Spark in SQL: the log partial hazard as the sum of
   the model's linear terms, and the baseline's increase over each horizon
   precomputed per tenure day on the driver (`baseline_increase`, the
   DuckDB engine's own interpolation) and joined by tenure. Nothing of ours
   runs on the executors, so they need no Python beyond Spark's.
user_survival is written to the lake and listed for the warehouse's view;
survival_curves and hazard_ratios (small) go to the warehouse as on DuckDB.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from retention.engines.spark.features import run_model
from retention.engines.spark.lake_files import hand_over, read_lake_views, write_lake_view
from retention.models.cox import LOG_COVARIATES, CoxModel, baseline_increase, sample_positions
from retention.stages.scores.survival import (
    SurvivalNote,
    SurvivalSettings,
    curve_notes,
    curves_from_counts,
    fit_cox,
    insert_rows,
)
from retention.warehouse.lake_views import add_files
from retention.warehouse.sql_files import quote_literal

log = logging.getLogger(__name__)


def build_survival_on_spark(
    con: duckdb.DuckDBPyConnection,
    spark,
    folder: Path,
    run_id: int,
    as_of: dt.date,
    settings: SurvivalSettings,
) -> list[SurvivalNote]:
    """Write this run's survival_curves, hazard_ratios (warehouse) and user_survival (lake)."""
    params = {"run_id": run_id, "as_of": as_of, "churn_after_days": settings.churn_after_days}
    read_lake_views(spark, folder, {"user_days": "user_days"})
    lifetimes = run_model(spark, "survival/user_lifetimes.sql", params)
    write_lake_view(spark, lifetimes, folder, "user_lifetimes")
    counts = run_model(spark, "survival/curve_counts.sql", {}).toPandas()
    samples = _cox_samples(con, spark, folder, settings)
    notes: list[SurvivalNote] = []
    models: dict[str, CoxModel] = {}
    for product_id in sorted(counts.product_id.unique()):
        of_product = counts[counts.product_id == product_id]
        insert_rows(con, "survival_curves", run_id, product_id, curves_from_counts(of_product))
        everyone = of_product[of_product.group_kind == "all"]
        churned = int(everyone.users[everyone.is_churned].sum())
        notes += curve_notes(product_id, int(everyone.users.sum()), churned)
        model, cox_notes = fit_cox(product_id, samples[product_id])
        notes += cox_notes
        if model is not None:
            insert_rows(con, "hazard_ratios", run_id, product_id, model.hazard_ratios())
            models[product_id] = model
    longest = counts.groupby("product_id").duration_days.max().to_dict()
    baseline = _baseline_increases(models, longest, settings.horizons_days)
    hand_over(con, spark, _registered(con, baseline), folder / "cox_baseline", "cox_baseline")
    con.execute("DROP TABLE survival_handed")
    scores = spark.sql(_scoring_sql(run_id, models, settings.horizons_days))
    scores.write.parquet(str(folder / "user_survival"))
    add_files(con, run_id, "user_survival", folder / "user_survival")
    return notes


def _cox_samples(
    con: duckdb.DuckDBPyConnection, spark, folder: Path, settings: SurvivalSettings
) -> dict[str, pd.DataFrame]:
    """Per product, the users its Cox model is fitted on (every product has an entry)."""
    eligible = spark.sql(
        "SELECT product_id, count_if(baseline_days = 7) AS users FROM user_lifetimes "
        "GROUP BY product_id"
    ).toPandas()
    drawn = [
        pd.DataFrame(
            {
                "product_id": product_id,
                "position": sample_positions(int(users), settings.max_fit_users, settings.seed),
            }
        )
        for product_id, users in zip(eligible.product_id, eligible.users, strict=True)
    ]
    empty = pd.DataFrame({"product_id": pd.Series(dtype=str), "position": []})
    positions = pd.concat([empty, *drawn], ignore_index=True).astype({"position": "int64"})
    hand_over(con, spark, _registered(con, positions), folder / "cox_positions", "cox_positions")
    rows = run_model(spark, "survival/cox_sample.sql", {}).toPandas()
    return {
        product_id: rows[rows.product_id == product_id].reset_index(drop=True)
        for product_id in eligible.product_id
    }


def _baseline_increases(
    models: dict[str, CoxModel], longest: dict[str, int], horizons: tuple[int, ...]
) -> pd.DataFrame:
    """Per product with a model and tenure day 1..its longest, H0(t + h) - H0(t) per horizon."""
    frames = [pd.DataFrame({"product_id": [], "duration_days": []})]
    for product_id, model in models.items():
        days = np.arange(1, int(longest[product_id]) + 1, dtype=float)
        baseline = model.fitter_.baseline_cumulative_hazard_.iloc[:, 0]
        frame = pd.DataFrame({"product_id": product_id, "duration_days": days})
        for horizon in horizons:
            frame[f"increase_{horizon}d"] = baseline_increase(baseline, days, horizon)
        frames.append(frame)
    baseline = pd.concat(frames, ignore_index=True)
    for horizon in horizons:
        column = f"increase_{horizon}d"
        baseline[column] = baseline.get(column, pd.Series(dtype=float)).astype(float)
    return baseline.astype({"product_id": str, "duration_days": "int64"})


def _scoring_sql(run_id: int, models: dict[str, CoxModel], horizons: tuple[int, ...]) -> str:
    """Spark SQL of user_survival: every user's p_active_<h>d from the model's linear terms
    and the baseline increase at their tenure (NULL for churned users and products
    without a model, as on DuckDB)."""
    cases = " ".join(
        f"WHEN {quote_literal(product_id)} THEN {_log_partial_hazard(model)}"
        for product_id, model in sorted(models.items())
    )
    hazard = f"CASE product_id {cases} END" if cases else "CAST(NULL AS DOUBLE)"
    active = ", ".join(
        f"CASE WHEN users.is_churned THEN NULL ELSE exp(-greatest(baseline.increase_{h}d, "
        f"0e0) * exp(users.log_partial_hazard)) END AS p_active_{h}d"
        for h in horizons
    )
    return (
        f"SELECT CAST({int(run_id)} AS BIGINT) AS run_id, users.product_id, users.user_id, "
        "CAST(users.duration_days AS DOUBLE) AS duration_days, users.is_churned, "
        f"{active} FROM (SELECT *, {hazard} AS log_partial_hazard FROM user_lifetimes) AS users "
        "LEFT JOIN cox_baseline AS baseline ON users.product_id = baseline.product_id "
        "AND users.duration_days = baseline.duration_days"
    )


def _log_partial_hazard(model: CoxModel) -> str:
    """The sum of ((raw - mean) / scale - center) * coefficient, term by term in the
    model's covariate order; every number a DOUBLE literal that reads back exactly."""
    channels = {f"channel_{name}": name for name in model.channels_}
    terms = []
    for name, mean, scale, center, coefficient in model.linear_terms():
        if name in channels:
            channel = quote_literal(channels[name])
            raw = f"CASE WHEN acquisition_channel = {channel} THEN 1e0 ELSE 0e0 END"
        elif name.removeprefix("log1p_") in LOG_COVARIATES:
            raw = f"log1p(CAST({name.removeprefix('log1p_')} AS DOUBLE))"
        else:  # a plain covariate: a column of user_lifetimes
            raw = f"CAST({name} AS DOUBLE)"
        terms.append(
            f"((({raw} - {_double(mean)}) / {_double(scale)} - {_double(center)}) "
            f"* {_double(coefficient)})"
        )
    return "(" + " + ".join(terms) + ")"


def _double(value: float) -> str:
    """A DOUBLE literal (an exponent makes it one on Spark: a plain decimal is DECIMAL)."""
    return f"({value:.17e})"


def _registered(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> str:
    """A query over `frame` as a DuckDB temp table, for hand_over."""
    con.register("survival_frame", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE survival_handed AS SELECT * FROM survival_frame")
    con.unregister("survival_frame")
    return "SELECT * FROM survival_handed"
