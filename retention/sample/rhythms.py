"""Products whose rhythms differ about 100x, simulated with a known truth.

Each user follows a Pareto/NBD-style process: a personal event rate drawn
from a gamma distribution, and a personal lifetime drawn from an exponential
distribution whose rate is itself gamma-distributed. Events are a Poisson
process from the user's first day until death (or the end of the data). So
whether a user is alive on any day is known, and `truth.csv` keeps it next
to the events: the tier policy can be checked against it, not only against
what users did next.

- `daily_app`: visits every couple of days, a purchase on about 2% of them,
  lifetimes of months.
- `weekly_shop`: a purchase about once a week, lifetimes of about a year.
- `b2b`: a purchase about every two months, lifetimes of years.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Rhythm:
    product_id: str
    events_per_day: float  # mean of the users' gamma-distributed rates
    rate_shape: float  # gamma shape of the rates (smaller: more spread)
    lifetime_days: float  # mean lifetime
    acquisition_days: int  # users join uniformly over this many days before as_of
    purchase_share: float  # share of events that are purchases (the rest are visits)
    mean_amount: float


RHYTHMS = (
    Rhythm("daily_app", 0.5, 2.0, 150.0, 365, 0.02, 9.0),
    Rhythm("weekly_shop", 1 / 7, 3.0, 365.0, 730, 1.0, 45.0),
    Rhythm("b2b", 1 / 60, 4.0, 1500.0, 1460, 1.0, 1200.0),
)
AS_OF = dt.date(2024, 6, 30)
FOLLOW_DAYS = 365  # events keep coming this long after as_of, for backtests


@dataclass(frozen=True)
class RhythmSample:
    events_path: Path
    truth_path: Path
    event_rows: int
    users: int


def write_rhythm_sample(out: Path, users_per_product: int = 1500, seed: int = 7) -> RhythmSample:
    """Write events.csv and truth.csv (one row per user: joined, died, alive at as_of)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    events, truth = [], []
    for rhythm in RHYTHMS:
        for index in range(users_per_product):
            user = f"{rhythm.product_id[0]}{index:05d}"
            rows, fate = _simulate_user(rng, rhythm, user)
            events += rows
            truth.append(fate)
    events.sort(key=lambda row: row[1])
    events_path, truth_path = out / "events.csv", out / "truth.csv"
    with open(events_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "event_time", "event_type", "amount", "product_id"])
        writer.writerows(events)
    with open(truth_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "user_id", "joined_on", "died_on", "is_alive_at_as_of"])
        writer.writerows(truth)
    return RhythmSample(events_path, truth_path, len(events), len(truth))


def _simulate_user(rng: np.random.Generator, rhythm: Rhythm, user: str):
    start = dt.datetime.combine(AS_OF, dt.time(12)) - dt.timedelta(
        days=float(rng.uniform(0, rhythm.acquisition_days))
    )
    end = dt.datetime.combine(AS_OF, dt.time(23, 59)) + dt.timedelta(days=FOLLOW_DAYS)
    rate = rng.gamma(rhythm.rate_shape, rhythm.events_per_day / rhythm.rate_shape)
    lifetime = rng.exponential(rhythm.lifetime_days * rng.gamma(4.0, 0.25))
    death = start + dt.timedelta(days=float(lifetime))
    times = [start]
    clock = start
    while rate > 0:
        clock += dt.timedelta(days=float(rng.exponential(1 / rate)))
        if clock >= min(death, end):
            break
        times.append(clock)
    rows = []
    for number, moment in enumerate(times):
        is_purchase = number == 0 and rhythm.purchase_share == 1.0
        is_purchase = is_purchase or rng.random() < rhythm.purchase_share
        amount = round(float(rng.gamma(2.0, rhythm.mean_amount / 2)), 2) if is_purchase else ""
        kind = "purchase" if is_purchase else "visit"
        rows.append([user, moment.strftime("%Y-%m-%d %H:%M:%S"), kind, amount, rhythm.product_id])
    alive = death.date() > AS_OF
    fate = [rhythm.product_id, user, start.date().isoformat(), death.date().isoformat(), alive]
    return rows, fate
