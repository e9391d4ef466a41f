"""`retention demo` on the bundled sample: fixed row counts, one tier per user."""

import pytest
from click.testing import CliRunner

from retention.cli import main
from tests.conftest import query


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return result.stdout, out / "retention.duckdb"


def test_demo_prints_counts_and_tiers(demo):
    stdout, warehouse = demo
    assert (
        "events: 491,338 read, 468,682 staged, 931 rejected, 1,410 duplicates dropped, "
        "20,315 after as_of ignored" in stdout
    )
    assert "users in shop: 12,441 (junk " in stdout
    assert "users in app: 8,699 (junk " in stdout
    assert f"warehouse: {warehouse}" in stdout
    assert f"report:    {warehouse.parent / 'report.html'}" in stdout
    assert (warehouse.parent / "report.html").read_text().startswith("<!DOCTYPE html>")
    exports = warehouse.parent / "exports" / "run-1"
    assert f"  klaviyo (Klaviyo): {exports / 'klaviyo'} (people: email " in stdout
    assert f"  excel (Excel (call and mailing lists)): {exports / 'excel'}" in stdout
    assert "not in any playbook: " in stdout and "(none)" not in stdout


def test_rejections_by_reason(demo):
    _, warehouse = demo
    rows = query(warehouse, "SELECT reason, count(*) AS n FROM rejected_events GROUP BY ALL")
    # the generator's dirt: 245 null + 196 empty user ids, 245 null times, 245 orders without amount
    assert dict(zip(rows.reason, rows.n, strict=True)) == {
        "missing_user_id": 441,
        "missing_event_time": 245,
        "missing_amount": 245,
    }


def test_every_user_has_exactly_one_tier_and_one_score_row(demo):
    _, warehouse = demo
    counts = query(
        warehouse,
        "SELECT (SELECT count(*) FROM latest_features) AS features, "
        "(SELECT count(*) FROM latest_scores) AS scores, "
        "(SELECT count(*) FROM latest_tiers) AS tiers, "
        "(SELECT count(DISTINCT (product_id, user_id)) FROM latest_tiers) AS distinct_users",
    ).iloc[0]
    assert counts.features == counts.scores == counts.tiers == counts.distinct_users == 21_140


def test_every_tier_is_used_in_both_products(demo):
    _, warehouse = demo
    rows = query(
        warehouse, "SELECT product_id, count(DISTINCT tier) AS tiers FROM latest_tiers GROUP BY ALL"
    )
    assert set(rows.tiers) == {7}


def test_model_params_hold_fits_for_both_products(demo):
    _, warehouse = demo
    rows = query(
        warehouse,
        "SELECT product_id, model, param, value FROM model_params "
        "WHERE model = 'bgnbd' AND param IN ('r', 'alpha', 'a', 'b', 'converged')",
    )
    assert len(rows) == 10
    assert (rows[rows.param == "converged"].value == 1).all()
