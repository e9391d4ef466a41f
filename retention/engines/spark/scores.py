"""The scores stage on Spark: user_features in the lake -> user_scores; the fits on the driver.

Every per-user step runs on Spark from the same `sql/scores/` models: RFM (its
ranks span all of a product's users), the compressed model inputs (the
triples) and the final join of the per-triple predictions back to every user.
The driver fits the models on the triples with the DuckDB engine's own code
(retention/stages/scores), so both engines fit the same rows in the same
order and give the same parameters. The predictions (one row per distinct
triple, not per user) are registered in DuckDB as on the DuckDB engine and
handed to Spark as Parquet, which also turns NaN into NULL the same way.

Survival runs on Spark too (engines/spark/survival.py): the lifetimes, the
curve counts and the scoring of every user, with the fits on the driver. The
covariate models ([scores] covariates) still run on DuckDB over the
user_features view (the lake's files), at the same point as on the DuckDB
engine (keep the two sequences alike). Without them, Spark's user_scores
files are listed for the view as they are; with them, DuckDB replaces the
covariate products' columns in a copy of those rows and the copy
(user_scores_final) is listed instead.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import pandas as pd

from retention.config.defaults import NO_PURCHASE_SEGMENT
from retention.config.pipeline_file import Pipeline
from retention.engines.spark.features import run_model
from retention.engines.spark.lake_files import (
    hand_over,
    lake_folder,
    read_lake_views,
    read_listed_views,
    write_lake_view,
)
from retention.engines.spark.session import spark_session
from retention.engines.spark.survival import build_survival_on_spark
from retention.stages.rules import case_sql
from retention.stages.scores import user_scores as duck
from retention.stages.scores.covariates import (
    create_user_covariates,
    drop_covariate_tables,
    replaced_columns,
    score_covariates,
)
from retention.warehouse.lake_views import add_files
from retention.warehouse.sql_files import (
    column_types,
    quote_literal,
    read_sql,
    run_sql,
)
from retention.warehouse.steps import step

log = logging.getLogger(__name__)
# the features stage's lake tables the scores and tiers read (view -> folder)
FEATURE_TABLES = {"user_features": "user_features", "product_rhythm": "product_rhythm"}
# DuckDB's tables the Spark join reads, copied into the lake (all small: one row per triple)
HANDED = ("purchase_predictions", "spend_params", "activity_predictions")
# Spark type -> DuckDB type name, for the rules' column checks (retention/stages/rules.py)
DUCKDB_TYPES = {
    "double": "DOUBLE",
    "float": "FLOAT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp_ntz": "TIMESTAMP",
}


def build_scores_on_spark(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's user_scores (via Spark) and model_params; returns the users scored."""
    folder = lake_folder(pipeline, run_id)
    spark = spark_session(pipeline.spark)
    read_lake_views(spark, folder, FEATURE_TABLES)
    params = {"run_id": run_id, "unit_days": pipeline.run.unit_days, "as_of": as_of}
    with step("spark rfm"):
        _build_rfm(spark, pipeline, params, folder)
    read = _reader(con, spark, params)
    rows = duck._score_purchases(con, pipeline, params, read=read)  # its own steps
    with step("covariate models"):
        groups = _covariate_groups(con, spark, params, read)
        rows += score_covariates(con, pipeline.scores, params, read_groups=groups)
    with step("activity model"):
        rows += duck._score_activity(con, pipeline, params, read=read)
    with step("survival models"):
        build = _survival_on(spark, folder)
        rows += duck._score_survival(con, pipeline, run_id, as_of, build=build)
    with step("spark user_scores"):
        _join_scores(con, spark, pipeline, params, folder)
    duck._write_params(con, run_id, rows)
    for table in duck.TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return con.execute(
        "SELECT count(*) FROM user_scores WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def _build_rfm(spark, pipeline: Pipeline, params: dict, folder) -> None:
    """Spark view user_rfm: the scores and the segment of the ordered segment map."""
    scores = run_model(spark, "scores/rfm.sql", params)
    write_lake_view(spark, scores, folder, "rfm_scores")
    inputs = run_model(spark, "scores/rfm_inputs.sql", params)
    inputs.createOrReplaceTempView("rfm_inputs")
    segment, _ = case_sql(pipeline.scores.rfm_segments, duckdb_types(inputs))
    sql = (
        "SELECT product_id, user_id, r_score, f_score, m_score, fm_score, "
        f"CASE WHEN r_score IS NULL THEN {quote_literal(NO_PURCHASE_SEGMENT)} "
        f"ELSE {segment} END AS rfm_segment FROM rfm_inputs"
    )
    rfm = run_model(spark, "rfm segments", {}, sql=rules_on_spark(sql, "[scores] rfm_segments"))
    rfm.createOrReplaceTempView("user_rfm")


def rules_on_spark(sql: str, where: str) -> str:
    """Spark SQL of a statement built from the pipeline's rules (DuckDB expressions)."""
    from retention.engines.spark.portable import check_portable, transpile

    check_portable(sql, f"{where}: a rule")
    return transpile(sql)


def duckdb_types(frame) -> dict[str, str]:
    """Column name -> the DuckDB type name of a Spark DataFrame's column, in column order."""
    out = {}
    for field in frame.schema.fields:
        name = field.dataType.simpleString()
        out[field.name] = DUCKDB_TYPES.get(name, name.upper())
    return out


def _reader(con: duckdb.DuckDBPyConnection, spark, params: dict):
    """read(name, params): a model's rows computed on Spark, typed as DuckDB types them.

    The dtypes come from the same model run on DuckDB for a run id that has
    no rows (cheap), so the fitting code sees exactly the frame it sees on
    the DuckDB engine.
    """

    def read(name: str, model_params: dict) -> pd.DataFrame:
        empty = run_sql(con, name, {**model_params, "run_id": -1}).df()
        frame = run_model(spark, name, model_params).toPandas()[list(empty.columns)]
        return frame.astype({c: _duckdb_dtype(frame[c], t) for c, t in empty.dtypes.items()})

    return read


def _duckdb_dtype(column: pd.Series, dtype):
    """The dtype DuckDB gives this column: an integer column with a NULL is nullable
    (Int32, not int32), as DuckDB's .df() makes it."""
    if pd.api.types.is_integer_dtype(dtype) and column.isna().any():
        return pd.api.types.pandas_dtype(str(dtype).capitalize())
    return dtype


def _covariate_groups(con: duckdb.DuckDBPyConnection, spark, params: dict, read):
    """read_groups for score_covariates: the per-user covariates as a Spark view, and
    their groups read through `read` (which takes its types from DuckDB's empty
    user_covariates of run id -1)."""

    def groups() -> pd.DataFrame:
        covariates = run_model(spark, "scores/user_covariates.sql", params)
        covariates.createOrReplaceTempView("user_covariates")
        create_user_covariates(con, {**params, "run_id": -1})  # empty: read's types
        return read("scores/btyd_covariate_triples.sql", params)

    return groups


def _join_scores(
    con: duckdb.DuckDBPyConnection, spark, pipeline: Pipeline, params: dict, folder
) -> None:
    """user_scores.sql on Spark over the handed-over tables; user_survival and user_scores
    listed for their views (the covariate models' scores replace theirs first)."""
    run_id = params["run_id"]
    covariates = bool(pipeline.scores.covariates)
    for table in (*HANDED, "covariate_predictions") if covariates else HANDED:
        hand_over(con, spark, f"SELECT * FROM {table}", folder / table, table)
    read_listed_views(spark, con, run_id, ["user_survival"])
    from retention.engines.spark.portable import transpile

    purchase = list(column_types(con, "purchase_predictions"))
    sql = transpile(read_sql("scores/user_scores.sql"), {"purchase": purchase})
    scores = run_model(spark, "scores/user_scores.sql", params, sql=sql)
    if not covariates:
        scores.write.parquet(str(folder / "user_scores"))
        add_files(con, run_id, "user_scores", folder / "user_scores")
        return
    write_lake_view(spark, scores, folder, "user_scores")
    replaced = run_model(spark, "scores/covariate_user_scores.sql", params)
    replaced.createOrReplaceTempView("covariate_user_scores")
    final = run_model(spark, "covariate replacement", {}, sql=_replacement_sql(scores, replaced))
    final.write.parquet(str(folder / "user_scores_final"))
    add_files(con, run_id, "user_scores", folder / "user_scores_final")
    drop_covariate_tables(con)


def _replacement_sql(scores, replaced) -> str:
    """user_scores with the covariate products' purchase-model columns replaced, where
    covariate_user_scores has the user: the Spark form of apply_covariate_scores' UPDATE."""
    names = set(replaced_columns(replaced.columns))
    columns = ", ".join(
        f"CASE WHEN c.user_id IS NULL THEN s.`{name}` ELSE c.`{name}` END AS `{name}`"
        if name in names
        else f"s.`{name}`"
        for name in scores.columns
    )
    return (
        f"SELECT {columns} FROM user_scores AS s LEFT JOIN covariate_user_scores AS c "
        "ON s.product_id = c.product_id AND s.user_id = c.user_id"
    )


def _survival_on(spark, folder):
    """build_survival's signature, on Spark (engines/spark/survival.py)."""

    def build(con, run_id, as_of, settings):
        return build_survival_on_spark(con, spark, folder, run_id, as_of, settings)

    return build
