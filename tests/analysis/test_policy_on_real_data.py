"""The default tier policy holds on data shaped unlike the sample, per product.

Datasets: CDNOW master and its 1/10 sample (real purchases, read from
lifetimes' raw transaction files), the bundled sample, and three simulated
products whose rhythms differ about 100x (daily app, weekly shop, bimonthly
B2B) with the true alive/dead state of every user. For every product, tiers
under 1% of users ignored:
- share active in the next horizon strictly falls: core/active > valid >
  at_risk > churned, and core has the highest revenue per user;
- at most 15% of churned users are active in the horizon;
- where the truth is known, at least 70% of core/active/valid users are alive
  and at most 25% of churned ones.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import lifetimes
import pandas as pd
import pytest

import retention
from retention.sample.rhythms import write_rhythm_sample
from tests.conftest import SAMPLE_PIPELINE

LIFETIMES_DATA = Path(lifetimes.__file__).parent / "datasets"
ORDER = ("core_active", "valid", "at_risk", "churned")


def cdnow_csv(name: str, folder: Path) -> Path:
    """lifetimes' whitespace-separated CDNOW file as CSV (id, [index,] yyyymmdd, cds, dollars)."""
    rows = ["user_id,event_time,amount"]
    for line in (LIFETIMES_DATA / f"{name}.txt").read_text().splitlines():
        parts = line.split()
        if not parts or not parts[0].isdigit():
            continue
        user, day, value = parts[0], parts[-3], parts[-1]
        rows.append(f"{user},{day[:4]}-{day[4:6]}-{day[6:]},{value}")
    path = folder / f"{name}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def pipeline(folder: Path, events: Path, as_of: str, mapping: str) -> Path:
    path = folder / "pipeline.toml"
    path.write_text(
        f'[run]\nwarehouse = "out/w.duckdb"\nexports = "out/exports"\nas_of = "{as_of}"\n'
        f'[source.events]\npath = "{events.name}"\ndefault_event_type = "purchase"\n'
        f"[source.events.columns]\n{mapping}"
    )
    return path


CDNOW_MAPPING = 'user_id = "user_id"\nevent_time = "event_time"\namount = "amount"\n'
RHYTHM_MAPPING = CDNOW_MAPPING + 'event_type = "event_type"\nproduct_id = "product_id"\n'


def tier_table(evaluation) -> pd.DataFrame:
    """Per product: users, share active and revenue per user by tier, core and active merged."""
    tiers = evaluation.tiers.copy()
    tiers["group"] = tiers.tier.replace({"core": "core_active", "active": "core_active"})
    tiers["active_users"] = tiers.users * tiers.share_active
    tiers["revenue"] = tiers.users * tiers.revenue_per_user
    grouped = tiers.groupby(["product_id", "group"], as_index=False)[
        ["users", "active_users", "revenue"]
    ].sum()
    grouped["share"] = grouped.users / grouped.groupby("product_id").users.transform("sum")
    grouped["share_active"] = grouped.active_users / grouped.users
    return grouped


def check_policy(evaluation) -> None:
    table = tier_table(evaluation)
    for product, rows in table.groupby("product_id"):
        rows = rows[rows.share >= 0.01].set_index("group")
        shares = [rows.share_active[g] for g in ORDER if g in rows.index]
        assert shares == sorted(shares, reverse=True) and len(set(shares)) == len(shares), (
            product,
            rows.share_active.to_dict(),
        )
        if "churned" in rows.index:
            assert rows.share_active["churned"] <= 0.15, (product, rows.share_active.to_dict())
    tiers = evaluation.tiers
    for product, rows in tiers.groupby("product_id"):
        big = rows[rows.users >= 0.01 * rows.users.sum()].set_index("tier")
        assert big.revenue_per_user.idxmax() == "core", (product, big.revenue_per_user.to_dict())


@pytest.mark.parametrize("name", ["CDNOW_master", "CDNOW_sample"])
def test_cdnow(tmp_path, name):
    events = cdnow_csv(name, tmp_path)
    path = pipeline(tmp_path, events, "1997-09-30", CDNOW_MAPPING)
    check_policy(retention.evaluate(path, as_of="1997-09-30", horizon="39W"))


def test_the_bundled_sample(tmp_path):
    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, warehouse=tmp_path / "w.duckdb", exports=tmp_path / "exports"
    )
    check_policy(retention.evaluate(pipeline, as_of="2024-03-31", horizon="90D"))


@pytest.fixture(scope="module")
def rhythms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rhythms")
    sample = write_rhythm_sample(folder, users_per_product=1500)
    return pipeline(folder, sample.events_path, "2024-06-30", RHYTHM_MAPPING), sample


def test_products_a_hundred_times_apart_in_one_run(rhythms):
    path, _ = rhythms
    check_policy(retention.evaluate(path, as_of="2024-06-30", horizon="90D"))


def test_tiers_agree_with_the_simulated_truth(rhythms):
    path, sample = rhythms
    result = retention.run(path)
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        alive = con.execute(
            "SELECT t.product_id, t.tier IN ('core', 'active', 'valid') AS kept, "
            "t.tier = 'churned' AS gone, avg(truth.is_alive_at_as_of::int) AS alive "
            f"FROM user_tiers t JOIN read_csv('{sample.truth_path}') truth "
            "ON t.product_id = truth.product_id AND t.user_id = truth.user_id "
            "WHERE t.run_id = $run AND (kept OR gone) GROUP BY ALL",
            {"run": result.run_id},
        ).df()
        rhythm = con.execute(
            "SELECT product_id, recent_days, churn_after_days FROM product_rhythm "
            "WHERE run_id = $run ORDER BY recent_days",
            {"run": result.run_id},
        ).fetchall()
    for row in alive.itertuples():
        if row.kept:
            assert row.alive >= 0.70, row
        else:
            assert row.alive <= 0.25, row
    # each product its own windows: the B2B product's are many times the app's
    assert [product for product, *_ in rhythm] == ["daily_app", "weekly_shop", "b2b"]
    assert rhythm[-1][2] >= 10 * rhythm[0][2]
