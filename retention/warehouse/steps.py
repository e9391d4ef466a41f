"""Where a stage spends its time: one timing per SQL model or model fit.

A stage opens `collect_steps()`; inside it every SQL model that `run_sql` runs,
and every block wrapped in `step(name)`, adds (name, seconds) to the stage's
list, which the pipeline stores in `run_steps` and `run --profile` prints.
Only the outermost step is timed: a model fit wrapped in `step` that runs SQL
models itself counts once, under its own name. Outside a stage (tests,
`retention evaluate`'s own queries) nothing is collected.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_steps: ContextVar[list[tuple[str, float]] | None] = ContextVar("steps", default=None)
_inside_step: ContextVar[bool] = ContextVar("inside_step", default=False)


@contextlib.contextmanager
def collect_steps() -> Iterator[list[tuple[str, float]]]:
    """Collect the steps of the block into the yielded list, in the order they end."""
    steps: list[tuple[str, float]] = []
    token = _steps.set(steps)
    try:
        yield steps
    finally:
        _steps.reset(token)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Time the block as one step of the current stage (if any, and if not nested)."""
    steps = _steps.get()
    if steps is None or _inside_step.get():
        yield
        return
    token = _inside_step.set(True)
    started = time.perf_counter()
    try:
        yield
    finally:
        steps.append((name, time.perf_counter() - started))
        _inside_step.reset(token)
