"""Customer lifetime value: discounted expected spend over the next months.

Reproduces lifetimes' `utils._customer_lifetime_value` (lifetimes 0.11.3, MIT
licence) for its freq "D" and "W", including its month lengths (30 days; 4.345
weeks), but on arrays: one expected_purchases call per month, no pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retention.models.base import PurchaseModel

# Time units per month, as lifetimes has them for freq "D" and "W".
UNITS_PER_MONTH = {1: 30.0, 7: 4.345}


def customer_lifetime_value(
    purchase_model: PurchaseModel,
    frequency: Any,
    recency: Any,
    T: Any,
    average_value: Any,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    unit_days: int = 1,
) -> np.ndarray:
    """Sum over months k = 1..months of
    average_value * E[purchases in month k] / (1 + monthly_discount_rate) ** k.

    `average_value` is the expected spend per purchase (e.g. a fitted
    GammaGammaModel's expected_average_value); pass ones to get the discounted
    number of purchases. frequency, recency and T are in units of `unit_days`
    days: 1 (days, lifetimes' freq "D") or 7 (weeks, freq "W").
    """
    if unit_days not in UNITS_PER_MONTH:
        raise ValueError(
            f"unit_days must be 1 (days) or 7 (weeks), the units lifetimes' CLV knows; "
            f"got {unit_days!r}"
        )
    if not (isinstance(months, int | np.integer) and months >= 1):
        raise ValueError(f"months must be a whole number >= 1; got {months!r}")
    factor = UNITS_PER_MONTH[unit_days]
    value = np.asarray(average_value, dtype=float)
    clv = np.zeros(np.broadcast_shapes(np.shape(frequency), value.shape))
    previous = 0.0
    for month, horizon in enumerate(np.arange(1, months + 1) * factor, start=1):
        cumulative = purchase_model.expected_purchases(horizon, frequency, recency, T)
        clv += value * (cumulative - previous) / (1 + monthly_discount_rate) ** month
        previous = cumulative
    return clv
