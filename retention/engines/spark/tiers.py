"""The tiers stage on Spark: user_features + user_scores in the lake -> user_tiers.

The same SQL as on DuckDB: `sql/tiers/tier_inputs.sql` (its `scores.*
EXCLUDE` written out from user_scores' real columns), the per-product
quantile thresholds the rules name, and the ordered rules as one CASE, all
transpiled. The rules are the pipeline owner's DuckDB expressions, so the
statement is held to the portable subset first and a rule outside it fails
the run with the rule's section named.

The one thing that needs Spark text of its own is the reason's values:
DuckDB rounds a double to 3 decimals from its exact binary value (1.0005 is
1.000499... and rounds down) and prints the shortest text that reads back
as the same double; Spark rounds the decimal it prints (1.0005 rounds up)
and prints 1e7 as 1.0E7. `spark_value` does DuckDB's rounding in plain
double arithmetic (an exact product a x 1000 as the sum of two doubles,
Dekker's split) and prints through a DECIMAL, which gives DuckDB's text for
every value under 1e12 in absolute value; larger ones and NaN print as Spark
prints them.

user_scores is read from the files the scores stage listed for its view
(Spark's, or DuckDB's copy after the covariate models replaced their scores).
"""

from __future__ import annotations

import logging

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.engines.spark.features import run_model
from retention.engines.spark.lake_files import lake_folder, read_lake_views, read_listed_views
from retention.engines.spark.scores import FEATURE_TABLES, duckdb_types, rules_on_spark
from retention.engines.spark.session import spark_session
from retention.stages.rules import case_sql, quantile_columns, quantile_select
from retention.warehouse.lake_views import add_files
from retention.warehouse.sql_files import column_types, quote_identifier, read_sql
from retention.warehouse.steps import step

log = logging.getLogger(__name__)
PLAIN_BELOW = "1e12"  # |value| under this prints as DuckDB prints it


def build_tiers_on_spark(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int) -> int:
    """Write this run's user_tiers via Spark; returns the number of users tiered."""
    from retention.engines.spark.portable import transpile

    folder = lake_folder(pipeline, run_id)
    spark = spark_session(pipeline.spark)
    read_lake_views(spark, folder, FEATURE_TABLES)
    read_listed_views(spark, con, run_id, ["user_scores"])
    scores = list(column_types(con, "user_scores"))
    sql = transpile(read_sql("tiers/tier_inputs.sql"), {"scores": scores})
    with step("spark tiers"):
        inputs = run_model(spark, "tiers/tier_inputs.sql", {"run_id": run_id}, sql=sql)
        inputs.createOrReplaceTempView("tier_inputs")
        relation = _add_thresholds(spark, pipeline, inputs)
        types = duckdb_types(spark.table(relation))
        tier, reason = case_sql(pipeline.scores.tiers, types, format_value=spark_value)
        sql = rules_on_spark(
            f"SELECT CAST($run_id AS BIGINT) AS run_id, product_id, user_id, {tier} AS tier, "
            f"{reason} AS reason FROM {relation}",
            "[[tiers]]",
        )
        tiers = run_model(spark, "tier rules", {"run_id": run_id}, sql=sql)
        tiers.write.parquet(str(folder / "user_tiers"))
    add_files(con, run_id, "user_tiers", folder / "user_tiers")
    return con.execute(
        "SELECT count(*) FROM user_tiers WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def _add_thresholds(spark, pipeline: Pipeline, inputs) -> str:
    """The Spark view of tier_inputs plus the quantile columns the rules name."""
    pairs = quantile_columns(pipeline.scores.tiers, duckdb_types(inputs))
    if not pairs:
        return "tier_inputs"
    sql = f"SELECT product_id, {quantile_select(pairs)} FROM tier_inputs GROUP BY product_id"
    thresholds = run_model(spark, "tier thresholds", {}, sql=rules_on_spark(sql, "[[tiers]]"))
    thresholds.createOrReplaceTempView("tier_thresholds")
    spark.sql(
        "SELECT * FROM tier_inputs LEFT JOIN tier_thresholds USING (product_id)"
    ).createOrReplaceTempView("tier_rows")
    return "tier_rows"


def spark_value(column: str, column_type: str) -> str:
    """A value as reason text, written so that Spark gives DuckDB's text (see above).

    DuckDB text (it must pass the portable lint), meant to run on Spark only.
    """
    value = quote_identifier(column)
    if not (column_type in ("DOUBLE", "FLOAT") or column_type.startswith("DECIMAL")):
        return f"coalesce(CAST({value} AS VARCHAR), 'NULL')"
    a = f"abs(CAST({value} AS DOUBLE))"
    p = f"({a} * 1000)"
    high = f"(134217729.0 * {a} - (134217729.0 * {a} - {a}))"  # Dekker: a = high + low
    error = f"(({high} * 1000 - {p}) + ({a} - {high}) * 1000)"  # a x 1000 = p + error
    whole = f"floor({p})"
    half = f"({p} - {whole})"
    up = f"CASE WHEN {half} > 0.5 OR ({half} = 0.5 AND {error} >= 0) THEN 1 ELSE 0 END"
    magnitude = f"(CAST({whole} + {up} AS DOUBLE) / 1000)"
    rounded = f"(CASE WHEN {value} < 0 THEN -{magnitude} ELSE {magnitude} END)"
    digits = f"CAST(CAST({rounded} AS DECIMAL(38, 3)) AS VARCHAR)"
    plain = f"regexp_replace(regexp_replace({digits}, '0+$', ''), '[.]$', '.0')"
    text = (
        f"CASE WHEN NOT ({a} < {PLAIN_BELOW}) THEN CAST(round({value}, 3) AS VARCHAR) "
        f"WHEN {rounded} = 0 THEN CAST({rounded} AS VARCHAR) ELSE {plain} END"
    )
    return f"coalesce({text}, 'NULL')"
