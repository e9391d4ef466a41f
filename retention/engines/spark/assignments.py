"""The assignments stage on Spark: tiers, features and scores in the lake -> playbook_assignments.

The same SQL as on DuckDB: `sql/playbooks/playbook_inputs.sql` (its `scores.*
EXCLUDE` written out from user_scores' real columns, as for the tiers), the
playbook choice (the catalogue's ordered rules as one CASE; the filters are
the pipeline owner's DuckDB expressions, so the statement is held to the
portable subset and a filter outside it fails the run naming
[[playbooks]]), and `sql/playbooks/playbook_assignments.sql`, whose holdout
draw portable.transpile writes with conv() (the same number).

What the contacts stage made stays DuckDB's (validation is Python): the
catalogue's channels, channel_problems (per user and channel, why not) and
the sends inside the frequency-cap window are handed to Spark as Parquet in
the run's lake folder. The result is written to the lake and listed for the
warehouse's view playbook_assignments inside the stage's transaction, like
every per-user Spark table.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb

from retention.config.pipeline_file import Pipeline
from retention.engines.spark.features import run_model
from retention.engines.spark.lake_files import hand_over, lake_folder, read_listed_views
from retention.engines.spark.scores import duckdb_types, rules_on_spark
from retention.engines.spark.session import spark_session
from retention.stages.playbooks import (
    CHANNEL_TABLES,
    assigned_users,
    assignment_params,
    build_channel_tables,
    playbook_choice_sql,
)
from retention.warehouse.lake_views import add_files
from retention.warehouse.sql_files import column_types, read_sql
from retention.warehouse.steps import step

log = logging.getLogger(__name__)
# the warehouse's lake views the playbook choice reads, as Spark views of this run's files
LISTED = ("user_features", "user_scores", "user_tiers")


def build_assignments_on_spark(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's playbook_assignments via Spark; returns the number of users assigned."""
    folder = lake_folder(pipeline, run_id)
    spark = spark_session(pipeline.spark)
    read_listed_views(spark, con, run_id, LISTED)
    params = assignment_params(pipeline, run_id, as_of)
    with step("spark playbook choice"):
        _choose_playbooks(con, spark, pipeline, run_id)
    with step("hand the contact checks to spark"):
        _hand_over_channels(con, spark, pipeline, params, folder)
    with step("spark playbook_assignments"):
        frame = run_model(spark, "playbooks/playbook_assignments.sql", params)
        frame.write.parquet(str(folder / "playbook_assignments"))
    add_files(con, run_id, "playbook_assignments", folder / "playbook_assignments")
    return assigned_users(con, run_id)


def _choose_playbooks(con: duckdb.DuckDBPyConnection, spark, pipeline: Pipeline, run_id: int):
    """Spark views playbook_inputs and user_playbook (each non-junk user's playbook)."""
    from retention.engines.spark.portable import transpile

    scores = list(column_types(con, "user_scores"))
    sql = transpile(read_sql("playbooks/playbook_inputs.sql"), {"scores": scores})
    inputs = run_model(spark, "playbooks/playbook_inputs.sql", {"run_id": run_id}, sql=sql)
    inputs.createOrReplaceTempView("playbook_inputs")
    choice = playbook_choice_sql(pipeline, duckdb_types(inputs))
    choice = rules_on_spark(choice, "[[playbooks]] filter")
    run_model(spark, "playbook choice", {}, sql=choice).createOrReplaceTempView("user_playbook")


def _hand_over_channels(
    con: duckdb.DuckDBPyConnection, spark, pipeline: Pipeline, params: dict, folder
) -> None:
    """playbook_channels, channel_problems and the recent sends to Spark, via the lake."""
    build_channel_tables(con, pipeline, params["run_id"])
    for table in CHANNEL_TABLES:
        hand_over(con, spark, f"SELECT * FROM {table}", folder / table, table)
        con.execute(f"DROP TABLE {table}")
    # only the days the frequency cap counts (playbook_assignments.sql filters them again)
    day = f"DATE '{params['as_of'].isoformat()}'"
    recent = (
        f"SELECT * FROM sends WHERE sent_on >= {day} - {int(params['window_days'])} "
        f"AND sent_on < {day}"
    )
    hand_over(con, spark, recent, folder / "recent_sends", "sends")
