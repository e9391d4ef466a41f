"""user_features + user_scores -> user_tiers: one tier and its reason per user.

The tier policy is an ordered list of rules (see `retention/config/defaults.py`
and the README); the default names each product's rhythm (product_rhythm,
written by the features stage). This module turns it into one SQL statement. That statement is
generated because the rules are the pipeline owner's SQL expressions; every
rule has been checked against the real columns before the run started.
"""

from __future__ import annotations

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.stages.rules import case_sql, quantile_columns, quantile_select
from retention.warehouse.sql_files import column_types, run_sql


def build_tiers(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int) -> int:
    """Write this run's user_tiers; returns the number of users tiered."""
    run_sql(
        con,
        "tiers/tier_inputs.sql",
        {"run_id": run_id},
        prefix="CREATE OR REPLACE TEMP TABLE tier_inputs AS",
    )
    relation = add_thresholds(con, pipeline, "tier_inputs")
    types = column_types(con, relation)
    tier, reason = case_sql(pipeline.scores.tiers, types)
    con.execute(
        "INSERT INTO user_tiers (run_id, product_id, user_id, tier, reason) "
        f"SELECT $run_id, product_id, user_id, {tier}, {reason} FROM {relation}",
        {"run_id": run_id},
    )
    con.execute("DROP VIEW IF EXISTS tier_rows")
    con.execute("DROP TABLE IF EXISTS tier_thresholds")
    con.execute("DROP TABLE IF EXISTS tier_inputs")
    return con.execute(
        "SELECT count(*) FROM user_tiers WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def add_thresholds(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, inputs: str) -> str:
    """A relation of `inputs` plus the per-product quantile columns the rules name."""
    types = column_types(con, inputs)
    pairs = quantile_columns(pipeline.scores.tiers, types)
    if not pairs:
        return inputs
    con.execute(
        "CREATE OR REPLACE TEMP TABLE tier_thresholds AS "
        f"SELECT product_id, {quantile_select(pairs)} FROM {inputs} GROUP BY product_id"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW tier_rows AS "
        f"SELECT * FROM {inputs} LEFT JOIN tier_thresholds USING (product_id)"
    )
    return "tier_rows"
