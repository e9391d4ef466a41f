"""Input checks shared by every model: numbers, whole frequencies, consistent RFM columns.

Kept apart from `base.py` so each stays small; every message names the column
and says what to do, because the caller is usually a pipeline file's author.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def plural(n: int, noun: str) -> str:
    """'1 user', '3 users': messages read as sentences."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def as_float_array(values: Any, name: str) -> np.ndarray:
    """Numbers as a float array, or a ValueError naming the column."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; it holds values that are not numbers") from None
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name} has {plural(int(bad.sum()), 'missing or infinite value')}; "
            "drop or fill those rows first"
        )
    if (array < 0).any():
        first = array.ravel()[np.argmax(array.ravel() < 0)]
        count = plural(int((array < 0).sum()), "negative value")
        raise ValueError(f"{name} has {count} (e.g. {first:g}); it must be >= 0")
    return array


def check_frequency(frequency: np.ndarray) -> None:
    if (frequency != np.round(frequency)).any():
        first = frequency.ravel()[np.argmax((frequency != np.round(frequency)).ravel())]
        raise ValueError(f"frequency must hold whole numbers of repeat purchases; got {first:g}")


def check_rfm(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
    """Validated float arrays (broadcast to one shape) of frequency, recency and T."""
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    check_frequency(x)
    try:
        x, t_x, age = np.broadcast_arrays(x, t_x, age)
    except ValueError:
        raise ValueError(
            f"frequency, recency and T must have the same length; got {x.size}, {t_x.size} "
            f"and {age.size} values"
        ) from None
    late = t_x > age
    if late.any():
        i = np.argmax(late.ravel())
        raise ValueError(
            f"recency is greater than T for {plural(int(late.sum()), 'user')} (e.g. recency "
            f"{t_x.ravel()[i]:g} > T {age.ravel()[i]:g}); recency runs from the first to the "
            "last purchase and cannot exceed T, which runs from the first purchase to as_of"
        )
    if ((x == 0) & (t_x > 0)).any():
        raise ValueError(
            "recency must be 0 where frequency is 0 (one purchase means no time between "
            f"first and last); {plural(int(((x == 0) & (t_x > 0)).sum()), 'user')} break this"
        )
    return x, t_x, age


def check_fit_columns(columns: dict[str, np.ndarray], weights: Any) -> np.ndarray:
    """Fit inputs must be 1-D, non-empty and equally long; returns the weights."""
    lengths = {name: np.shape(values) for name, values in columns.items()}
    if any(len(shape) != 1 for shape in lengths.values()):
        raise ValueError(f"fit needs one-dimensional columns; got shapes {lengths}")
    sizes = {shape[0] for shape in lengths.values()}
    if len(sizes) > 1:
        listed = ", ".join(f"{name} {shape[0]}" for name, shape in lengths.items())
        raise ValueError(f"the fit columns must have the same length; got {listed}")
    (n,) = sizes
    if n == 0:
        raise ValueError("fit got no users: the input columns are empty")
    if weights is None:
        return np.ones(n)
    w = as_float_array(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per row ({n}); got shape {w.shape}")
    if w.sum() <= 0:
        raise ValueError("weights are all 0; at least one row must count")
    return w
