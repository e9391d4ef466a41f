"""Per-user 90% intervals of expected purchases and CLV from parameter uncertainty.

Why this shape: every purchase model's expectation is P(alive | x, t_x, T) x
E[purchases | alive, x, T], and the second factor, the costly one (a 2F1 per
value), does not depend on recency. So each seeded parameter draw (see
`uncertainty.draw_models`) evaluates P(alive) once per distinct triple and the
expectations once per distinct (frequency, T) pair and horizon; the interval
of a triple is the spread of its product over the draws. Nothing is computed
per user: the scoring SQL joins the per-triple bounds like the point scores.

The CLV interval is that of the discounted expected number of purchases
(clv_factor); CLV multiplies it by the expected spend per purchase at the
spend model's estimate, so spend-model uncertainty is not in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retention.models.base import unique_inverse
from retention.models.clv import UNITS_PER_MONTH
from retention.models.uncertainty import draw_models

# Triples per block when taking quantiles over draws, to bound the memory of
# the (draws x triples) matrix (200 draws x 50,000 triples = 80 MB).
BLOCK = 50_000


def prediction_intervals(
    model: Any,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    horizons: list[float],
    *,
    months: int,
    monthly_discount_rate: float,
    unit_days: int,
    n_draws: int,
    seed: int,
    level: float = 0.9,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Lower and upper bounds per triple, keyed by the horizon ("30.0", in model time
    units) and "clv_factor"; {} when the fit has no covariance or n_draws is 0."""
    draws = draw_models(model, n_draws, seed)
    if not draws:
        return {}
    x, t_x, age = (np.asarray(c, dtype=float) for c in (frequency, recency, T))
    (pair_x, pair_t), pair = unique_inverse([x, age])
    month_ends = np.arange(1, months + 1) * UNITS_PER_MONTH[unit_days]
    grid = np.unique(np.concatenate([np.asarray(horizons, float), month_ends]))
    discount = (1 + monthly_discount_rate) ** -np.arange(1, months + 1)
    alive = np.empty((len(draws), len(x)))
    given = np.empty((len(draws), len(grid) + 1, len(pair_x)))  # last row: clv_factor
    for j, draw in enumerate(draws):
        alive[j] = draw.p_alive(x, t_x, age)
        for h, t in enumerate(grid):
            given[j, h] = draw.expected_purchases_given_alive(t, pair_x, pair_t)
        cumulative = given[j, np.searchsorted(grid, month_ends)]
        monthly = np.diff(cumulative, axis=0, prepend=0.0)
        given[j, -1] = discount @ monthly
    rows = {str(float(t)): int(np.searchsorted(grid, t)) for t in horizons}
    rows["clv_factor"] = len(grid)
    tail = (1 - level) / 2
    bounds = {}
    for key, row in rows.items():
        lower, upper = np.empty(len(x)), np.empty(len(x))
        for start in range(0, len(x), BLOCK):
            block = slice(start, start + BLOCK)
            values = alive[:, block] * given[:, row, pair[block]]
            lower[block], upper[block] = np.quantile(values, [tail, 1 - tail], axis=0)
        bounds[key] = (lower, upper)
    return bounds
