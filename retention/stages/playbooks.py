"""user_tiers + contacts -> playbook_assignments: who gets which play, how, or why not.

The playbook choice is the ordered-rules machinery of the tiers: each
playbook becomes a rule `tier IN (...) AND (filter)`, tried from the highest
priority down (file order breaks ties), first match wins. Channels, holdout
and suppression are SQL (`sql/playbooks/playbook_assignments.sql`). The
Spark engine runs the same statements (retention/engines/spark/assignments.py)
with the pieces below: the choice's SELECT, the channel tables, the parameters.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention.config.defaults import Playbook, Rule
from retention.config.pipeline_file import Pipeline
from retention.stages.rules import case_sql, check_rules
from retention.warehouse.sql_files import column_types, quote_literal, run_sql

SUPPRESSION_REASONS = (
    "junk",
    "no_playbook",
    "holdout",
    "no_contact",
    "invalid_email",
    "invalid_phone",
    "no_email_consent",
    "no_sms_consent",
    "frequency_cap",
)
CHANNEL_TABLES = ("playbook_channels", "channel_problems")  # temp tables of build_channel_tables


def playbook_rules(playbooks: tuple[Playbook, ...]) -> list[Rule]:
    """One rule per playbook, highest priority first (stable: file order breaks ties)."""
    ordered = sorted(enumerate(playbooks), key=lambda item: (-item[1].priority, item[0]))
    rules = []
    for _, playbook in ordered:
        tiers = ", ".join(quote_literal(tier) for tier in playbook.tiers)
        condition = f"tier IN ({tiers})"
        if playbook.filter:
            condition += f" AND ({playbook.filter})"
        rules.append(Rule(playbook.name, condition))
    return rules


def check_playbook_filters(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, where: str) -> None:
    """Check every filter against the real columns (called before a run does any work)."""
    run_sql(
        con,
        "playbooks/playbook_inputs.sql",
        {"run_id": 0},
        prefix="CREATE OR REPLACE TEMP TABLE playbook_inputs AS",
    )
    filters = [Rule(p.name, p.filter) for p in pipeline.playbooks if p.filter]
    check_rules(con, "playbook_inputs", filters, where)


def build_assignments(
    con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int, as_of: dt.date
) -> int:
    """Write this run's playbook_assignments; returns the number of users assigned."""
    run_sql(
        con,
        "playbooks/playbook_inputs.sql",
        {"run_id": run_id},
        prefix="CREATE OR REPLACE TEMP TABLE playbook_inputs AS",
    )
    choice = playbook_choice_sql(pipeline, column_types(con, "playbook_inputs"))
    con.execute(f"CREATE OR REPLACE TEMP TABLE user_playbook AS {choice}")
    build_channel_tables(con, pipeline, run_id)
    run_sql(
        con,
        "playbooks/playbook_assignments.sql",
        assignment_params(pipeline, run_id, as_of),
        prefix="INSERT INTO playbook_assignments BY NAME",
    )
    for table in ("playbook_inputs", "user_playbook", *CHANNEL_TABLES):
        con.execute(f"DROP TABLE {table}")
    return assigned_users(con, run_id)


def playbook_choice_sql(pipeline: Pipeline, input_types: dict[str, str]) -> str:
    """SELECT of user_playbook over playbook_inputs: each non-junk user's playbook (or NULL)."""
    choice, _ = case_sql(playbook_rules(pipeline.playbooks), input_types)
    return (
        f"SELECT product_id, user_id, {choice} AS playbook FROM playbook_inputs "
        "WHERE tier <> 'junk'"
    )


def build_channel_tables(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int) -> None:
    """Temp tables playbook_channels (the catalogue's channels) and channel_problems."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE playbook_channels "
        "(playbook VARCHAR, channel VARCHAR, position INTEGER, holdout_share DOUBLE)"
    )
    rows = [
        (p.name, channel, position, p.holdout_share)
        for p in pipeline.playbooks
        for position, channel in enumerate(p.channels)
    ]
    con.executemany("INSERT INTO playbook_channels VALUES (?, ?, ?, ?)", rows)
    run_sql(
        con,
        "contacts/channel_problems.sql",
        {"contacts_run_id": run_id},
        prefix="CREATE OR REPLACE TEMP TABLE channel_problems AS",
    )


def assignment_params(pipeline: Pipeline, run_id: int, as_of: dt.date) -> dict:
    """The parameters of playbooks/playbook_assignments.sql."""
    exports = pipeline.exports
    return {
        "run_id": run_id,
        "as_of": as_of,
        "salt": exports.holdout_salt,
        "max_contacts": exports.max_contacts,
        "window_days": exports.window_days,
    }


def assigned_users(con: duckdb.DuckDBPyConnection, run_id: int) -> int:
    return con.execute(
        "SELECT count(*) FROM playbook_assignments WHERE run_id = $run_id", {"run_id": run_id}
    ).fetchall()[0][0]


def assignment_counts(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, dict[str, int]]:
    """Per playbook: users sent, held out, and suppressed by reason."""
    rows = con.execute(
        "SELECT coalesce(playbook, '(none)'), coalesce(suppressed_reason, 'sent'), count(*) "
        "FROM playbook_assignments WHERE run_id = $run_id GROUP BY ALL ORDER BY ALL",
        {"run_id": run_id},
    ).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for playbook, outcome, users in rows:
        counts.setdefault(playbook, {})[outcome] = users
    return counts
