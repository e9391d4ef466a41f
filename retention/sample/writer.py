"""Write the sample (or a benchmark log) to disk in streamed batches.

Users are simulated in batches of ``batch_size`` persons; each batch is sorted by
event time, given deliberate dirt, and appended to one Parquet file as its own row
groups, while its contacts are appended to the CSV.  Memory therefore stays bounded
by one batch (about 1.2 million events and 0.7 GB peak per 50,000 users) whatever
the total size.

Ordering: rows are sorted by ``event_time`` *within a batch*.  With the default
``batch_size`` the bundled 20,000-user sample is a single batch and so globally
sorted; larger logs are a concatenation of sorted runs, one per batch (a global
sort of a 50M-row log would need it all in memory, and the engine must not rely
on input order anyway).
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from retention.sample import contacts as contacts_mod
from retention.sample import events as ev

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20240630
BATCH_SIZE = 50_000
ROW_GROUP_SIZE = 1 << 20
#: Deliberate dirt, as a share of all (clean) event rows of a batch.
DIRT_RATES = {
    "duplicate_rows": 0.003,  # the same row (same event_id) delivered twice
    "null_user_id": 0.0005,
    "empty_user_id": 0.0004,
    "null_event_time": 0.0005,
    "null_amount": 0.0005,  # only order/purchase rows
}

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("event_time", pa.timestamp("us")),
        ("event_type", pa.string()),
        ("amount", pa.float64()),
        ("product_id", pa.string()),
        ("channel", pa.string()),
    ]
)
DICTIONARY_COLUMNS = ["user_id", "event_type", "product_id", "channel"]


@dataclass(frozen=True)
class SampleSummary:
    """What :func:`write_sample` wrote; counts include the deliberate dirt rows."""

    events_path: Path
    contacts_path: Path | None
    event_rows: int
    contact_rows: int
    n_users: int
    seed: int
    kind_counts: dict[str, int] = field(default_factory=dict)
    dirt_counts: dict[str, int] = field(default_factory=dict)


NON_ASCII_STEMS = ("jürgen", "用户", "zoë", "josé", "łukasz", "ユーザー", "françois", "søren")
NON_ASCII_RATE = 0.0005


def assign_user_ids(
    rng: np.random.Generator, person: np.ndarray, product: np.ndarray, kind: np.ndarray, total: int
) -> np.ndarray:
    """Source-system user ids: unique per person, stable across batches.

    Shop ids are zero-padded numbers (about 10% start with ``0``, so leading zeros
    matter), app ids look like ``u_7f3a9c``; both are a bijective scramble of the global
    person index so they look random but never collide.  Test accounts are named
    ``test_0412`` / ``qa-bot-7`` and a handful of ids carry non-ASCII characters.
    """
    width = max(7, len(str(total)))
    mod = 10**width
    shop = np.char.mod(f"%0{width}d", (person * 3_456_787 + 4_170_529) % mod)
    hexw = 6 if total < 16**6 else 8
    app = np.char.mod(f"u_%0{hexw}x", (person * 2_654_435_761 + 7_340_033) % 16**hexw)
    ids = np.where(product == ev.SHOP, shop, app).astype(object)
    for i in np.flatnonzero(kind == ev.TEST):
        ids[i] = f"test_{person[i]:04d}" if person[i] % 2 else f"qa-bot-{person[i]}"
    odd = np.flatnonzero((kind < ev.BOT) & (rng.random(person.size) < NON_ASCII_RATE))
    for i in odd:
        ids[i] = f"{NON_ASCII_STEMS[person[i] % len(NON_ASCII_STEMS)]}_{person[i]}"
    return ids


def _dirt_indices(rng: np.random.Generator, etype: np.ndarray) -> dict[str, np.ndarray]:
    """Pick disjoint row sets for each kind of dirt (counts are exact shares of rows)."""
    n = etype.size
    counts = {k: int(round(n * r)) for k, r in DIRT_RATES.items()}
    money = np.flatnonzero(
        np.isin(etype, (ev.EVENT_TYPES.index("order"), ev.EVENT_TYPES.index("purchase")))
    )
    null_amount = rng.choice(money, size=min(counts.pop("null_amount"), money.size), replace=False)
    free = np.setdiff1d(np.arange(n), null_amount, assume_unique=True)
    picked = rng.choice(free, size=min(sum(counts.values()), free.size), replace=False)
    out, start = {"null_amount": np.sort(null_amount)}, 0
    for key, k in counts.items():
        out[key] = np.sort(picked[start : start + k])
        start += k
    return out


def _strings(
    values: tuple[str, ...] | np.ndarray, idx: np.ndarray, null: np.ndarray | None = None
) -> pa.Array:
    """Decode small-integer codes into a plain string column (fast, via take)."""
    return pc.take(pa.array(list(values), pa.string()), pa.array(idx, mask=null))


def _event_ids(first: int, n: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(np.arange(first, first + n)).cast(pa.string()), 10, "0")
    return pc.binary_join_element_wise("evt_", digits, "")


def batch_table(
    rng: np.random.Generator, b: ev.EventBatch, account_uid: np.ndarray, first_event_id: int
) -> tuple[pa.Table, dict[str, int]]:
    """Arrow table of one batch, with dirt applied; returns (table, dirt counts)."""
    n = b.t_ms.size
    dirt = _dirt_indices(rng, b.etype)
    uid_idx = b.acc.astype(np.int64)
    uid_idx[dirt["empty_user_id"]] = account_uid.size  # points at the "" entry
    null_user = np.zeros(n, dtype=bool)
    null_user[dirt["null_user_id"]] = True
    null_time = np.zeros(n, dtype=bool)
    null_time[dirt["null_event_time"]] = True
    amount = b.amount.copy()
    amount[dirt["null_amount"]] = np.nan
    chan = b.channel.astype(np.int64)
    time_us = ev.START.astype(np.int64) + b.t_ms * 1000
    table = pa.table(
        {
            "event_id": _event_ids(first_event_id, n),
            "user_id": _strings(np.append(account_uid, ""), uid_idx, null_user),
            "event_time": pa.array(time_us, pa.timestamp("us"), mask=null_time),
            "event_type": _strings(ev.EVENT_TYPES, b.etype),
            "amount": pa.array(amount, pa.float64(), from_pandas=True),
            "product_id": _strings(ev.PRODUCTS, b.account_product[b.acc]),
            "channel": _strings(ev.CHANNELS, np.maximum(chan, 0), chan < 0),
        },
        schema=SCHEMA,
    )
    repeat = np.ones(n, dtype=np.int64)
    repeat[dirt["duplicate_rows"]] = 2
    table = table.take(pa.array(np.repeat(np.arange(n), repeat)))
    return table, {k: int(v.size) for k, v in dirt.items()}


def _batch_rng(seed: int, batch: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent, reproducible streams per batch for events and contacts."""
    events_ss, contacts_ss = np.random.SeedSequence([seed, batch]).spawn(2)
    return np.random.default_rng(events_ss), np.random.default_rng(contacts_ss)


def write_sample(
    out_dir: Path,
    users: int = 20_000,
    seed: int = DEFAULT_SEED,
    *,
    batch_size: int = BATCH_SIZE,
    contacts: bool = True,
    events_name: str = "events.parquet",
    contacts_name: str = "contacts.csv",
) -> SampleSummary:
    """Generate ``users`` persons and write ``events.parquet`` and ``contacts.csv``.

    ``users`` counts persons (bots and test accounts included); about 10% of them
    appear in both products under the same user id.  Deterministic: the same ``seed``,
    ``users`` and ``batch_size`` give byte-identical files.  ``contacts=False`` skips
    the CSV, which is what event-log benchmarks want.
    """
    if users < 1 or batch_size < 1:
        raise ValueError("users and batch_size must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path = out_dir / events_name
    contacts_path = out_dir / contacts_name if contacts else None
    with ExitStack() as stack:
        pw = stack.enter_context(
            pq.ParquetWriter(
                events_path,
                SCHEMA,
                compression="zstd",
                compression_level=9,
                use_dictionary=DICTIONARY_COLUMNS,
                column_encoding={"event_time": "DELTA_BINARY_PACKED"},
            )
        )
        csv_writer = None
        if contacts_path is not None:
            fh = stack.enter_context(open(contacts_path, "w", newline="", encoding="utf-8"))
            csv_writer = contacts_mod.header(fh)
        totals = _write_batches(pw, csv_writer, users, seed, batch_size)
    return SampleSummary(
        events_path=events_path,
        contacts_path=contacts_path,
        event_rows=totals["events"],
        contact_rows=totals["contacts"],
        n_users=users,
        seed=seed,
        kind_counts={k: totals[k] for k in ev.KINDS},
        dirt_counts={k: totals[k] for k in DIRT_RATES},
    )


def _write_batches(
    pw: pq.ParquetWriter, csv_writer: Any, users: int, seed: int, batch_size: int
) -> Counter[str]:
    """Simulate and append every batch; returns row, kind and dirt counts."""
    totals: Counter[str] = Counter()
    book = contacts_mod.PhoneBook.build(seed) if csv_writer is not None else None
    next_id = 0
    for batch, first in enumerate(range(0, users, batch_size)):
        n = min(batch_size, users - first)
        ev_rng, ct_rng = _batch_rng(seed, batch)
        b = ev.simulate_batch(ev_rng, n)
        person_uid = assign_user_ids(
            ev_rng, first + np.arange(n), b.person_product, b.person_kind, users
        )
        table, dirt = batch_table(ev_rng, b, person_uid[b.account_person], next_id)
        next_id += b.t_ms.size
        pw.write_table(table, row_group_size=ROW_GROUP_SIZE)
        totals.update(dirt)
        totals.update(ev.KINDS[k] for k in b.person_kind)
        totals["events"] += table.num_rows
        if csv_writer is not None:
            totals["contacts"] += contacts_mod.write_batch(
                csv_writer, ct_rng, book, first, person_uid, b.person_kind
            )
        logger.info("batch %d: %d users, %d events", batch, n, table.num_rows)
    return totals
