"""Fast checks of the sample generator (small user counts, a few seconds in total)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retention.sample import SampleSummary, write_sample
from retention.sample import events as ev

TEST_ID = re.compile(r"^(test_\d{4,}|qa-bot-\d+)$")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    return write_sample(tmp_path_factory.mktemp("sample"), users=3_000, seed=7)


@pytest.fixture(scope="module")
def events(sample: SampleSummary) -> pd.DataFrame:
    return pq.read_table(sample.events_path).to_pandas()


@pytest.fixture(scope="module")
def contacts(sample: SampleSummary) -> pd.DataFrame:
    return pd.read_csv(sample.contacts_path, dtype=str, keep_default_na=False)


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a", users=500, seed=1)
    b = write_sample(tmp_path / "b", users=500, seed=1)
    c = write_sample(tmp_path / "c", users=500, seed=2)
    assert a.events_path.read_bytes() == b.events_path.read_bytes()
    assert a.contacts_path.read_bytes() == b.contacts_path.read_bytes()
    assert a.events_path.read_bytes() != c.events_path.read_bytes()
    assert (a.event_rows, a.contact_rows) == (b.event_rows, b.contact_rows)


def test_schema_and_row_count(sample: SampleSummary, events: pd.DataFrame) -> None:
    schema = pq.read_schema(sample.events_path)
    assert schema.names == [
        "event_id",
        "user_id",
        "event_time",
        "event_type",
        "amount",
        "product_id",
        "channel",
    ]
    assert schema.field("event_time").type == pa.timestamp("us")
    assert schema.field("amount").type == pa.float64()
    for name in ("event_id", "user_id", "event_type", "product_id", "channel"):
        assert schema.field(name).type == pa.string()
    assert len(events) == sample.event_rows
    assert set(events["product_id"]) == {"shop", "app"}
    assert set(events["event_type"]) <= set(ev.EVENT_TYPES)
    times = events["event_time"].dropna()
    assert times.is_monotonic_increasing  # one batch: globally sorted
    assert times.min() >= pd.Timestamp("2022-07-01") and times.max() < pd.Timestamp("2024-07-15")
    assert (times > pd.Timestamp("2024-06-30")).mean() > 0.01  # events after as_of on purpose


def test_amounts_only_on_money_events(events: pd.DataFrame) -> None:
    money = events["event_type"].isin(["order", "purchase", "refund"])
    assert events.loc[~money, "amount"].isna().all()
    assert (events.loc[money, "amount"].dropna() > 0).all()
    app = events.loc[events["event_type"] == "purchase", "amount"].dropna()
    assert set(app.round(2)) <= {0.99, 4.99, 9.99, 19.99}


def test_user_kind_shares(sample: SampleSummary) -> None:
    share = {k: v / sample.n_users for k, v in sample.kind_counts.items()}
    assert sum(sample.kind_counts.values()) == sample.n_users
    assert 0.17 < share["never_returned"] < 0.28
    assert 0.005 < share["bot"] + share["test_account"] < 0.03
    assert 0.01 < share["heavy"] < 0.05
    assert share["buyer"] > 0.2 and share["non_buyer"] > 0.2


def test_both_products_and_id_formats(events: pd.DataFrame) -> None:
    ids = events.dropna(subset=["user_id"])
    ids = ids[ids["user_id"] != ""]
    per_user = ids.groupby("user_id")["product_id"].nunique()
    assert 0.05 < (per_user == 2).mean() < 0.15
    shop_ids = set(ids.loc[ids["product_id"] == "shop", "user_id"])
    numeric = {u for u in shop_ids if u.isdigit()}
    assert numeric and all(len(u) == 7 for u in numeric)
    assert any(u.startswith("0") for u in numeric)  # leading zeros survive the round trip
    assert any(re.fullmatch(r"u_[0-9a-f]{6}", u) for u in per_user.index)
    assert any(TEST_ID.match(u) for u in per_user.index)


def test_bots_have_no_purchases_and_a_high_event_rate() -> None:
    rng = np.random.default_rng(3)
    b = ev.simulate_batch(rng, 4_000)
    person = b.account_person[b.acc]
    df = pd.DataFrame(
        {"person": person, "t": b.t_ms / 1000.0, "type": b.etype, "kind": b.person_kind[person]}
    )
    bots = df[df["kind"] >= ev.BOT]
    assert bots["person"].nunique() > 10
    money = [ev.EVENT_TYPES.index(t) for t in ("order", "purchase", "refund")]
    assert not bots["type"].isin(money).any()
    stats = bots.groupby("person")["t"].agg(["count", "min", "max"])
    assert (stats["count"] >= 80).all()
    assert ((stats["max"] - stats["min"]) < 6 * ev.DAY).all()
    gaps = bots.sort_values(["person", "t"]).groupby("person")["t"].diff().dropna()
    assert gaps.median() < 2.0  # several page views per second
    humans = df[df["kind"] < ev.BOT].groupby("person").size()
    assert humans.median() < 20


def test_deliberate_dirt(sample: SampleSummary, events: pd.DataFrame) -> None:
    dirt = sample.dirt_counts
    assert events["user_id"].isna().sum() == dirt["null_user_id"] > 0
    assert (events["user_id"] == "").sum() == dirt["empty_user_id"] > 0
    assert events["event_time"].isna().sum() == dirt["null_event_time"] > 0
    money = events["event_type"].isin(["order", "purchase"])
    assert events.loc[money, "amount"].isna().sum() == dirt["null_amount"] > 0
    dup_ids = events["event_id"].duplicated(keep=False)
    assert dup_ids.sum() == 2 * dirt["duplicate_rows"] > 0
    assert events[dup_ids].astype(str).duplicated().sum() == dirt["duplicate_rows"]
    assert 0.002 < sum(dirt.values()) / len(events) < 0.01


def _valid_phone(phone: str, country: str) -> bool:
    try:
        return phonenumbers.is_valid_number_for_region(phonenumbers.parse(phone, country), country)
    except phonenumbers.NumberParseException:
        return False


def test_contacts(contacts: pd.DataFrame, events: pd.DataFrame) -> None:
    assert list(contacts.columns) == [
        "user_id",
        "email",
        "phone",
        "country",
        "email_opt_in",
        "sms_opt_in",
    ]
    assert set(contacts["user_id"]) <= set(events["user_id"].dropna())
    assert any(u.startswith("0") and u.isdigit() for u in contacts["user_id"])
    assert not any(TEST_ID.match(u) for u in contacts["user_id"])
    assert contacts["user_id"].duplicated().sum() > 0  # older + newer rows
    assert contacts["country"].nunique() >= 7
    phones = contacts[contacts["phone"] != ""]
    valid = [_valid_phone(p, c) for p, c in zip(phones["phone"], phones["country"], strict=True)]
    assert 0.85 < np.mean(valid) < 0.99
    emails = contacts["email"].str.strip()
    good = emails.str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+")
    assert 0.85 < good.mean() < 0.99 and (emails == "").any()
    assert {"true", "FALSE", "yes", "No", "Y", "n", "1", "0", ""} <= set(contacts["email_opt_in"])


def test_shared_contacts_have_one_opt_out(contacts: pd.DataFrame) -> None:
    latest = contacts.drop_duplicates("user_id", keep="last")
    valid = latest[latest["email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+")]
    shared = valid[valid["email"].duplicated(keep=False)]
    assert shared["email"].nunique() > 0
    no = {"false", "no", "n", "0"}
    for _, pair in shared.groupby("email"):
        assert pair["email_opt_in"].str.lower().isin(no).any()


def test_batches_keep_ids_unique(tmp_path: Path) -> None:
    s = write_sample(tmp_path, users=600, seed=5, batch_size=250, contacts=False)
    assert s.contacts_path is None and s.contact_rows == 0
    df = pq.read_table(s.events_path).to_pandas()
    assert df["event_id"].nunique() == len(df) - s.dirt_counts["duplicate_rows"]
    first = df.dropna(subset=["user_id"]).groupby("user_id")["product_id"].nunique()
    assert len(first) <= 600 + 1  # + the empty-string id


def test_btyd_parameters_are_recoverable() -> None:
    """The repeat-purchase process is exactly BG/NBD: a fit recovers its parameters."""
    from lifetimes import BetaGeoFitter

    rng = np.random.default_rng(11)
    n, r, alpha, a, b = 4_000, 0.6, 60.0, 0.9, 2.6
    t1 = rng.uniform(0, ev.HORIZON - 30 * ev.DAY, n)
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    idx, times, last, _ = ev.simulate_purchases(rng, t1, lam, p)
    freq = np.bincount(idx, minlength=n)
    recency = np.where(freq > 0, last - t1, 0.0) / ev.DAY
    fit = BetaGeoFitter().fit(freq, recency, (ev.HORIZON - t1) / ev.DAY)
    got = fit.params_
    assert got["r"] / got["alpha"] == pytest.approx(r / alpha, rel=0.25)
    assert got["a"] / (got["a"] + got["b"]) == pytest.approx(a / (a + b), rel=0.3)
