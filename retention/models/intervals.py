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

import os
from concurrent.futures import ThreadPoolExecutor
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
    # one (draws x pairs) matrix per grid time, the last one clv_factor, so that
    # a block of triples is gathered from one contiguous matrix
    given = np.empty((len(grid) + 1, len(draws), len(pair_x)))
    month_rows = np.searchsorted(grid, month_ends)

    def evaluate(j: int) -> None:
        draw = draws[j]
        alive[j] = draw.p_alive(x, t_x, age)
        for h, t in enumerate(grid):
            given[h, j] = draw.expected_purchases_given_alive(t, pair_x, pair_t)
        monthly = np.diff(given[month_rows, j], axis=0, prepend=0.0)
        given[-1, j] = discount @ monthly

    rows = {str(float(t)): int(np.searchsorted(grid, t)) for t in horizons}
    rows["clv_factor"] = len(grid)
    bounds = {key: (np.empty(len(x)), np.empty(len(x))) for key in rows}
    tail = (1 - level) / 2

    def bound(key: str, block: slice) -> None:
        values = alive[:, block] * np.take(given[rows[key]], pair[block], axis=1)
        lower, upper = bounds[key]
        lower[block], upper[block] = np.quantile(values, [tail, 1 - tail], axis=0)

    # The draws (and then the blocks) are independent, and numpy and scipy
    # release the GIL in their loops (2F1 is most of the time): threads share
    # them out over the cores, and every value is the one a single thread gives.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(evaluate, range(len(draws))))
        blocks = [slice(start, start + BLOCK) for start in range(0, len(x), BLOCK)]
        list(pool.map(lambda task: bound(*task), [(k, b) for k in rows for b in blocks]))
    return bounds
