"""The baseline: buy-till-you-die scores the way a data scientist writes them.

pandas + lifetimes, one product at a time, no tricks: read the Parquet file,
keep clean purchases up to as_of, build the RFM summary with lifetimes, RFM
quintiles, fit BG/NBD on every buyer (one row per user, uncompressed) and
Gamma-Gamma on repeat buyers, then p_alive, expected purchases at 30/90/365
days and 12-month CLV. Prints one JSON line: seconds per step (summed over
products) and the fitted parameters per product, so `run.py` can time it and
compare the parameters with `retention run`'s. A fit lifetimes cannot make
converge (only seen on tiny smoke-test logs) gives null parameters and skips
that product's predictions.

Example:
    python benchmarks/baseline_lifetimes.py data/events.parquet --as-of 2024-06-30
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import warnings
from collections import defaultdict

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import ConvergenceError, summary_data_from_transaction_data

STEPS = ("load", "summary", "rfm", "bgnbd_fit", "gg_fit", "p_alive", "expected", "clv")
COLUMNS = ["event_id", "user_id", "event_time", "event_type", "amount", "product_id"]
PURCHASE_TYPES = ["order", "purchase"]
HORIZONS_DAYS = (30, 90, 365)


class StepClock:
    """Adds up wall seconds per named step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, step: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] += time.perf_counter() - started


def load_purchases(path: str, as_of: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Clean purchase rows up to and including the as_of day; also the rows read."""
    events = pd.read_parquet(path, columns=COLUMNS)
    purchases = events[
        events.event_type.isin(PURCHASE_TYPES) & (events.event_time < as_of + pd.Timedelta(days=1))
    ]
    purchases = purchases.dropna(subset=["user_id", "event_time", "amount"])
    purchases = purchases[purchases.user_id.str.strip() != ""]
    return purchases.drop_duplicates("event_id"), len(events)


def rfm_quintiles(summary: pd.DataFrame) -> pd.DataFrame:
    """1-5 scores per column; 5 is the most recent, most frequent, biggest spender."""
    days_since_last = summary["T"] - summary["recency"]
    out = pd.DataFrame(index=summary.index)
    for name, values in (
        ("r_score", -days_since_last),
        ("f_score", summary["frequency"]),
        ("m_score", summary["monetary_value"]),
    ):
        out[name] = pd.qcut(values.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    return out


def score_product(purchases: pd.DataFrame, as_of: pd.Timestamp, clock: StepClock) -> dict:
    """Every BTYD step for one product; returns its fitted parameters."""
    with clock("summary"):
        summary = summary_data_from_transaction_data(
            purchases,
            "user_id",
            "event_time",
            monetary_value_col="amount",
            observation_period_end=as_of,
            freq="D",
        )
    with clock("rfm"):
        summary = summary.join(rfm_quintiles(summary))
    f, r, t = summary["frequency"], summary["recency"], summary["T"]
    with clock("bgnbd_fit"):
        bgf = fit_or_none(BetaGeoFitter(penalizer_coef=0.0), f, r, t)
    repeat = summary[(f > 0) & (summary["monetary_value"] > 0)]
    with clock("gg_fit"):
        ggf = fit_or_none(
            GammaGammaFitter(penalizer_coef=0.0), repeat["frequency"], repeat["monetary_value"]
        )
    if bgf is not None:
        predict(summary, bgf, ggf, clock)
    return {
        "users": len(summary),
        "repeat_buyers": len(repeat),
        "bgnbd": params(bgf),
        "gamma_gamma": params(ggf),
    }


def fit_or_none(fitter, *columns):
    """The fitted model, or None when lifetimes gives up (tiny or degenerate data)."""
    try:
        return fitter.fit(*columns)
    except ConvergenceError:
        return None


def predict(summary: pd.DataFrame, bgf, ggf, clock: StepClock) -> None:
    """p_alive, expected purchases per horizon and CLV, as new columns of summary."""
    f, r, t = summary["frequency"], summary["recency"], summary["T"]
    with clock("p_alive"):
        summary["p_alive"] = bgf.conditional_probability_alive(f, r, t)
    with clock("expected"):
        for days in HORIZONS_DAYS:
            summary[f"expected_purchases_{days}d"] = (
                bgf.conditional_expected_number_of_purchases_up_to_time(days, f, r, t)
            )
    if ggf is None:
        return
    with clock("clv"):
        summary["clv"] = ggf.customer_lifetime_value(
            bgf, f, r, t, summary["monetary_value"], time=12, discount_rate=0.01, freq="D"
        )


def params(model) -> dict[str, float] | None:
    return None if model is None else {k: float(v) for k, v in model.params_.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", help="Parquet event log (retention sample's columns)")
    parser.add_argument("--as-of", required=True, help="last day of data, YYYY-MM-DD")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    as_of = pd.Timestamp(args.as_of)
    clock = StepClock()
    with clock("load"):
        purchases, rows_read = load_purchases(args.events, as_of)
    products = {}
    for product, frame in purchases.groupby("product_id", sort=True):
        products[str(product)] = score_product(frame, as_of, clock)
    result = {
        "steps": {step: round(clock.seconds[step], 4) for step in STEPS},
        "rows_read": rows_read,
        "purchase_rows": len(purchases),
        "products": products,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
