"""user_features -> user_scores and model_params: RFM, BTYD, activity, survival.

The per-user work is SQL (`sql/scores/`); Python fits the models on
compressed inputs and hands back small prediction tables that the SQL joins
to every user.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import pandas as pd

from retention.config.defaults import NO_PURCHASE_SEGMENT
from retention.config.pipeline_file import Pipeline
from retention.stages.rules import case_sql
from retention.stages.scores.btyd import (
    ParamRow,
    add_intervals,
    fit_purchase_model,
    fit_spend,
    horizon_columns,
    point_predictions,
    predict_activity,
    prediction_columns,
)
from retention.stages.scores.covariates import apply_covariate_scores, score_covariates
from retention.stages.scores.survival import SurvivalSettings, build_survival
from retention.warehouse.sql_files import column_types, quote_identifier, quote_literal, run_sql
from retention.warehouse.steps import step

log = logging.getLogger(__name__)

TEMP_TABLES = (
    "rfm_scores",
    "rfm_inputs",
    "user_rfm",
    "purchase_predictions",
    "spend_params",
    "activity_predictions",
)


def build_scores(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's user_scores and model_params; returns the number of users scored."""
    params = {"run_id": run_id, "unit_days": pipeline.run.unit_days, "as_of": as_of}
    log.debug("  rfm")
    build_rfm(con, pipeline, params)
    log.debug("  purchase model (%s) and spend model", pipeline.scores.purchase_model)
    rows = _score_purchases(con, pipeline, params)
    with step("covariate models"):
        rows += score_covariates(con, pipeline.scores, params)
    log.debug("  activity model")
    with step("activity model"):
        rows += _score_activity(con, pipeline, params)
    log.debug("  survival")
    with step("survival models"):
        rows += _score_survival(con, pipeline, run_id, as_of)
    add_horizon_columns(con, pipeline.scores.horizons_days)
    run_sql(con, "scores/user_scores.sql", params, prefix="INSERT INTO user_scores BY NAME")
    apply_covariate_scores(con, pipeline.scores, params)
    _write_params(con, run_id, rows)
    for table in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return con.execute(
        "SELECT count(*) FROM user_scores WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def build_rfm(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, params: dict) -> None:
    """Temp table user_rfm: RFM scores and the segment from the ordered segment map."""
    run_sql(con, "scores/rfm.sql", params, prefix="CREATE OR REPLACE TEMP TABLE rfm_scores AS")
    run_sql(
        con, "scores/rfm_inputs.sql", params, prefix="CREATE OR REPLACE TEMP TABLE rfm_inputs AS"
    )
    types = column_types(con, "rfm_inputs")
    segment, _ = case_sql(pipeline.scores.rfm_segments, types)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE user_rfm AS SELECT product_id, user_id, r_score, f_score, "
        f"m_score, fm_score, CASE WHEN r_score IS NULL THEN {quote_literal(NO_PURCHASE_SEGMENT)} "
        f"ELSE {segment} END AS rfm_segment FROM rfm_inputs"
    )


def _score_purchases(con, pipeline: Pipeline, params: dict, read=None) -> list[ParamRow]:
    # read(name, params): a model's rows as a frame (the Spark engine reads them on Spark)
    read = read or (lambda name, params: run_sql(con, name, params).df())
    settings, unit = pipeline.scores, pipeline.run.unit_days
    triples = read("scores/btyd_triples.sql", params)
    values = read("scores/repeat_buyer_values.sql", params)
    predictions, spends, rows = [], [], []
    for product, product_triples in triples.groupby("product_id", sort=True):
        with step("purchase and spend models"):
            model, notes = fit_purchase_model(
                product_triples, product, settings, settings.purchase_model
            )
            rows += notes
            if model is not None:
                points = point_predictions(model, product_triples, settings, unit)
        if model is not None:
            # timed apart: the BTYD outputs a plain lifetimes script computes end above
            with step("prediction intervals"):
                predictions.append(add_intervals(model, points, settings, unit))
        with step("purchase and spend models"):
            spend, notes = fit_spend(values[values.product_id == product], product, settings)
        spends.append(spend)
        rows += notes
    columns = ["product_id", "frequency", "recency", "T"]
    columns += prediction_columns(settings.horizons_days)
    _register(con, "purchase_predictions", predictions, columns)
    spend_frame = pd.DataFrame(spends, columns=["product_id", "p", "q", "v", "mean_value"])
    _register(con, "spend_params", [spend_frame], list(spend_frame.columns))
    return rows


def _score_activity(con, pipeline: Pipeline, params: dict, read=None) -> list[ParamRow]:
    read = read or (lambda name, params: run_sql(con, name, params).df())
    settings, unit = pipeline.scores, pipeline.run.unit_days
    triples = read("scores/activity_triples.sql", params)
    name = f"activity_{settings.purchase_model}"
    predictions, rows = [], []
    for product, product_triples in triples.groupby("product_id", sort=True):
        model, notes = fit_purchase_model(product_triples, product, settings, name)
        rows += notes
        if model is not None:
            predictions.append(predict_activity(model, product_triples, unit))
    columns = ["product_id", "frequency", "recency", "T"]
    _register(
        con,
        "activity_predictions",
        predictions,
        columns + ["p_alive_activity", "expected_active_days_30d"],
    )
    return rows


def _score_survival(
    con, pipeline: Pipeline, run_id: int, as_of: dt.date, build=build_survival
) -> list[ParamRow]:
    """The survival models' rows (`build`: this engine's build_survival)."""
    settings = SurvivalSettings(
        churn_after_days=pipeline.scores.churn_after_days,
        max_fit_users=pipeline.scores.max_fit_users,
        seed=pipeline.scores.survival_seed,
    )
    notes = build(con, run_id, as_of, settings)
    return [ParamRow(n.product_id, n.model, n.param, n.value, n.note) for n in notes]


def _register(con, name: str, frames: list[pd.DataFrame], columns: list[str]) -> None:
    """A temp table from prediction frames, with the right columns even when there are none."""
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    frame = frame[columns].astype({c: "float64" for c in columns if c != "product_id"})
    frame["product_id"] = frame["product_id"].astype(str)
    con.register("predictions_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM predictions_frame")
    con.unregister("predictions_frame")


def add_horizon_columns(con, horizons_days: tuple[int, ...]) -> None:
    """user_scores has columns for 30/90/365 days; other horizons are added on first use."""
    for days in horizons_days:
        for name in [f"expected_purchases_{days}d", *horizon_columns(days)]:
            column = quote_identifier(name)
            con.execute(f"ALTER TABLE user_scores ADD COLUMN IF NOT EXISTS {column} DOUBLE")


def _write_params(con, run_id: int, rows: list[ParamRow]) -> None:
    frame = pd.DataFrame(
        [
            (run_id, r.product_id, r.model, r.param, r.value, r.note)
            + (r.stderr, r.lower_95, r.upper_95)
            for r in rows
        ],
        columns=["run_id", "product_id", "model", "param", "value", "note"]
        + ["stderr", "lower_95", "upper_95"],
    ).astype({c: "float64" for c in ("value", "stderr", "lower_95", "upper_95")})
    frame = frame.astype({"note": "object"})
    con.register("params_frame", frame)
    con.execute("INSERT INTO model_params BY NAME SELECT * FROM params_frame")
    con.unregister("params_frame")
