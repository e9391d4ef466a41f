"""BG/NBD fit speed: our compressed fit vs lifetimes' uncompressed fit, same data.

Simulates N users from a BG/NBD process (seeded), fits lifetimes'
BetaGeoFitter on one row per user (what a pandas script does) and our
BetaGeoModel on the distinct (frequency, recency, T) triples with counts, and
prints medians of --repeat timings, the speed ratio and the largest relative
parameter difference, as one JSON line.

    python benchmarks/fit_speed.py --users 1000000 --repeat 3

Also writes `<out>/fit_speed/<users>.json` and regenerates benchmarks/README.md
(its "BG/NBD fit speed" section).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from report import write_readme

from retention.models import BetaGeoModel

HERE = Path(__file__).resolve().parent


def simulate(users: int, seed: int = 1) -> pd.DataFrame:
    """BG/NBD customers observed for up to two years (days), r=0.4, alpha=60, a=0.3, b=0.9."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.4, 1 / 60, users)
    dropout = rng.beta(0.3, 0.9, users)
    horizon = rng.integers(30, 730, users).astype(float)
    frequency = np.zeros(users)
    recency = np.zeros(users)
    alive = np.ones(users, bool)
    clock = np.zeros(users)
    for _ in range(200):
        clock = clock + rng.exponential(1 / np.maximum(rate, 1e-9))
        buys = alive & (clock <= horizon)
        frequency[buys] += 1
        recency[buys] = np.floor(clock[buys])
        alive &= buys & (rng.random(users) >= dropout)
        if not alive.any():
            break
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": np.floor(horizon)})


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    data = simulate(args.users)
    triples = data.groupby(["frequency", "recency", "T"]).size().reset_index(name="users")
    ours, theirs = [], []
    for _ in range(args.repeat):
        seconds, lifetimes_fit = timed(
            lambda: BetaGeoFitter().fit(data.frequency, data.recency, data["T"], tol=1e-10)
        )
        theirs.append(seconds)
        seconds, model = timed(
            lambda: BetaGeoModel().fit(
                triples.frequency, triples.recency, triples["T"], weights=triples.users
            )
        )
        ours.append(seconds)
    reference = lifetimes_fit.params_
    difference = max(abs(model.params_[k] / reference[k] - 1) for k in ("r", "alpha", "a", "b"))
    result = {
        "users": args.users,
        "repeat": args.repeat,
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "distinct_triples": len(triples),
        "lifetimes_uncompressed_s": statistics.median(theirs),
        "retention_compressed_s": statistics.median(ours),
        "speedup": statistics.median(theirs) / statistics.median(ours),
        "max_relative_param_difference": difference,
        "params": model.params_,
    }
    print(json.dumps(result))
    folder = args.out / "fit_speed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{args.users}.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_readme:
        write_readme(args.out, HERE / "README.md")


if __name__ == "__main__":
    main()
