"""Check the RFM segment map and the tier policy before a run does any work.

The rules are SQL over columns that only exist mid-run, so they are tried
here against empty tables with the warehouse's real schema, in a throwaway
in-memory database: a typo fails in a second, not after staging. With
`[run] engine = "spark"` the rules also run transpiled on Spark, so each is
held to the portable subset here too, and the spark extra must be installed:
otherwise the run would fail only at the stage that first needs them.
"""

from __future__ import annotations

import importlib.util

import duckdb

from retention.config.defaults import Rule
from retention.config.pipeline_file import Pipeline
from retention.errors import ConfigError
from retention.stages.playbooks import check_playbook_filters
from retention.stages.rules import check_rules
from retention.stages.scores.user_scores import add_horizon_columns, build_rfm
from retention.stages.tiers import add_thresholds
from retention.warehouse.sql_files import run_sql


def check_policies(pipeline: Pipeline) -> None:
    """Raise ConfigError naming the rule, its SQL and the columns it could use."""
    name = str(pipeline.path)
    with duckdb.connect(":memory:") as con:
        run_sql(con, "warehouse/schema.sql", {})
        params = {"run_id": 0, "unit_days": pipeline.run.unit_days}
        run_sql(con, "scores/rfm.sql", params, prefix="CREATE TEMP TABLE rfm_scores AS")
        run_sql(con, "scores/rfm_inputs.sql", params, prefix="CREATE TEMP TABLE rfm_inputs AS")
        check_rules(con, "rfm_inputs", pipeline.scores.rfm_segments, f"{name}: [[rfm.segments]]")
        build_rfm(con, pipeline, params)
        add_horizon_columns(con, pipeline.scores.horizons_days)
        run_sql(con, "tiers/tier_inputs.sql", params, prefix="CREATE TEMP TABLE tier_inputs AS")
        relation = add_thresholds(con, pipeline, "tier_inputs")
        check_rules(con, relation, pipeline.scores.tiers, f"{name}: [[tiers]]")
        check_playbook_filters(con, pipeline, f"{name}: [[playbooks]] filter of")
    if pipeline.run.engine == "spark":
        _check_spark_rules(pipeline, name)


def _check_spark_rules(pipeline: Pipeline, name: str) -> None:
    """The spark extra is installed and every rule is inside the portable subset."""
    missing = [m for m in ("pyspark", "sqlglot") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f'{name}: [run] engine = "spark" needs the spark extra ({", ".join(missing)} '
            "is missing): pip install 'retention[spark]' (Spark also needs Java 17+), or "
            'set engine = "duckdb"'
        )
    from retention.engines.spark.portable import check_portable

    filters = tuple(Rule(p.name, p.filter) for p in pipeline.playbooks if p.filter)
    sections = (
        ("[[rfm.segments]]", pipeline.scores.rfm_segments),
        ("[[tiers]]", pipeline.scores.tiers),
        ("[[playbooks]] filter of", filters),
    )
    for where, rules in sections:
        for rule in rules:
            sql = f"SELECT ({rule.rule}) AS value FROM rows"
            check_portable(sql, f"{name}: {where} {rule.name!r}: {rule.rule!r}")
