"""The Python API: what `import retention` offers schedulers, notebooks and scripts.

Every function raises `RetentionError` (or a subclass) for a problem the user
can fix and never prints or exits; progress goes to the `retention` logger.
Each imports the machinery it needs when called, so `import retention` stays
cheap for a scheduler that only wants the names.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retention.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from retention.config.pipeline_file import Pipeline
    from retention.models.base import BaseModel
    from retention.results import (
        Evaluation,
        ExportResult,
        PolicyComparison,
        RunResult,
        UpliftResult,
    )

OVERRIDES = ("as_of", "warehouse", "exports")


def load_pipeline(path: str | Path, **overrides: Any) -> Pipeline:
    """Read and check a pipeline file; `overrides` (as_of, warehouse, exports) win over it.

    `as_of` takes a date or "YYYY-MM-DD"; paths are taken relative to the
    working directory, as on the command line.
    """
    from retention.config.pipeline_file import load_pipeline as load_file

    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ConfigError(
            f"load_pipeline: unknown override {', '.join(unknown)}; "
            f"overrides are: {', '.join(OVERRIDES)}"
        )
    return load_file(path).with_overrides(**_override_values(overrides))


def run(
    pipeline_or_path: Pipeline | str | Path, *, as_of: dt.date | str | None = None
) -> RunResult:
    """Run every stage and publish the run; returns what it staged, tiered and exported.

    Example:
        result = retention.run("pipelines/sample.toml", as_of="2024-06-30")
        result.tiers["shop"]["core"]
    """
    from retention.pipeline import run_pipeline

    return run_pipeline(_pipeline(pipeline_or_path, as_of=as_of))


def evaluate(
    pipeline_or_path: Pipeline | str | Path, *, as_of: dt.date | str, horizon: str | int = "90D"
) -> Evaluation:
    """Backtest: score with data up to as_of, then compare with the next horizon.

    `horizon` is "90D", "13W" or a number of days. The results are also
    stored in the warehouse table `evaluations`.
    """
    from retention.analysis.evaluate import evaluate as backtest

    return backtest(_pipeline(pipeline_or_path), _as_date(as_of, "as_of"), _days(horizon))


def compare(
    base: Pipeline | str | Path,
    candidate: Pipeline | str | Path,
    *,
    as_of: dt.date | str,
    horizon: str | int = "90D",
) -> PolicyComparison:
    """Replay two tier policies on the same backtest: both report cards and the tier moves."""
    from retention.analysis.compare import compare_policies

    return compare_policies(
        _pipeline(base), _pipeline(candidate), _as_date(as_of, "as_of"), _days(horizon)
    )


def export(
    pipeline_or_path: Pipeline | str | Path,
    *,
    playbook: str | None = None,
    channel: str | None = None,
    profiles: list[str] | None = None,
) -> ExportResult:
    """Write the published run's campaign files again (sends are replaced, never doubled).

    `profiles` (names) replaces the pipeline's [exports] profiles for this
    export, whose files then go to a folder of their own (`run-<id>-<names>`).
    """
    from retention.analysis.reexport import export_published

    return export_published(_pipeline(pipeline_or_path), playbook, channel, profiles)


def uplift(
    pipeline_or_path: Pipeline | str | Path, *, run_id: int, horizon: str | int = "30D"
) -> UpliftResult:
    """Sent against holdout users of each playbook of run `run_id` over the next horizon."""
    from retention.analysis.uplift import measure_uplift
    from retention.results import UpliftResult

    days = _days(horizon)
    results = measure_uplift(_pipeline(pipeline_or_path), run_id, days)
    return UpliftResult(run_id, days, results)


def connect(warehouse: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, with the guards of `retention sql`.

    External access is off and the configuration locked, so queries cannot
    write, attach other databases or read local files. Close it when done.
    """
    from retention.warehouse.query import connect_read_only

    return connect_read_only(Path(warehouse))


def load_model(warehouse: str | Path, product: str, model: str = "bgnbd") -> BaseModel:
    """The published run's fitted `model` of `product`, rebuilt from `model_params`.

    `model` is a purchase model (`bgnbd`, `mbgnbd`, `pareto_nbd`), its activity
    twin (`activity_bgnbd`, ...) or `gamma_gamma`. Its parameters are in the
    run's time unit; `.to_lifetimes()` hands it to lifetimes.
    """
    from retention.warehouse.fitted_models import load_fitted_model

    return load_fitted_model(Path(warehouse), product, model)


def _pipeline(pipeline_or_path, **overrides) -> Pipeline:
    from retention.config.pipeline_file import Pipeline

    if isinstance(pipeline_or_path, Pipeline):
        return pipeline_or_path.with_overrides(**_override_values(overrides))
    return load_pipeline(pipeline_or_path, **overrides)


def _override_values(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides given (None: not given), as with_overrides takes them."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if "as_of" in values:
        values["as_of"] = _as_date(values["as_of"], "as_of")
    for key in ("warehouse", "exports"):
        if key in values:
            values[key] = Path(values[key])
    return values


def _as_date(value: dt.date | str, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f'{name} "{value}": expected a date such as "2024-06-30"') from None


def _days(horizon: str | int) -> int:
    from retention.analysis.evaluate import parse_horizon

    if isinstance(horizon, int) and not isinstance(horizon, bool):
        return parse_horizon(f"{horizon}D")
    return parse_horizon(str(horizon))
