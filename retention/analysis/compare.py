"""`retention evaluate P --compare P2`: two tier policies replayed on one backtest.

Both pipelines are scored as of the same day and judged on the same next
horizon, so their report cards are comparable line by line; the users who
would move between tiers show what the candidate policy changes, before it
ever sends a campaign.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from retention.analysis.evaluate import evaluate
from retention.config.pipeline_file import Pipeline
from retention.results import PolicyComparison


def compare_policies(
    base: Pipeline, candidate: Pipeline, as_of: dt.date, horizon_days: int
) -> PolicyComparison:
    """Backtest both pipelines at as_of over horizon_days; count the users per tier move."""
    first = evaluate(base, as_of, horizon_days)
    second = evaluate(candidate, as_of, horizon_days)
    joined = first.user_tiers.merge(
        second.user_tiers,
        on=["product_id", "user_id"],
        how="outer",
        suffixes=("_base", "_candidate"),
    )
    moves = (
        joined.fillna({"tier_base": "(absent)", "tier_candidate": "(absent)"})
        .groupby(["product_id", "tier_base", "tier_candidate"])
        .size()
        .reset_index(name="users")
    )
    return PolicyComparison(first, second, pd.DataFrame(moves))
