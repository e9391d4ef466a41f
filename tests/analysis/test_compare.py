"""`retention evaluate P --compare P2`: two policies on one backtest, and who moves."""

from __future__ import annotations

import json

from click.testing import CliRunner

import retention
from retention.cli import main
from tests.stages.test_tiers import MAPPING, crafted_events

EVERYONE_VALID = '[[tiers]]\nname = "valid"\nrule = "true"\n'


def test_a_policy_replay_counts_every_user_once_and_their_moves(write_pipeline, tmp_path):
    events = crafted_events(tmp_path / "events.csv")
    base = write_pipeline(events, mapping=MAPPING)
    candidate = write_pipeline(events, name="candidate.toml", mapping=MAPPING, extra=EVERYONE_VALID)
    compared = retention.compare(base, candidate, as_of="2024-06-30", horizon="30D")
    assert set(compared.candidate.tiers.tier) == {"valid"}
    users = int(compared.base.tiers.users.sum())
    assert int(compared.moves.users.sum()) == users == 7
    moved = compared.moves[compared.moves.tier_base != compared.moves.tier_candidate]
    assert dict(zip(moved.tier_base, moved.users, strict=True)) == {
        "junk": 1,
        "new": 1,
        "core": 1,
        "active": 1,
        "at_risk": 1,
        "churned": 1,
    }


def test_the_compare_option_prints_both_and_the_moves(write_pipeline, tmp_path):
    events = crafted_events(tmp_path / "events.csv")
    base = write_pipeline(events, mapping=MAPPING)
    candidate = write_pipeline(events, name="candidate.toml", mapping=MAPPING, extra=EVERYONE_VALID)
    args = ["evaluate", str(base), "--as-of", "2024-06-30", "--horizon", "30D"]
    printed = CliRunner().invoke(main, [*args, "--compare", str(candidate), "--quiet"])
    assert printed.exit_code == 0, printed.output
    assert "users who move: 6" in printed.stdout and "churned -> valid: 1" in printed.stdout
    document = json.loads(
        CliRunner().invoke(main, [*args, "--compare", str(candidate), "--json", "-q"]).stdout
    )
    assert set(document) == {"base", "candidate", "moves"}
