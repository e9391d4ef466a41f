"""What the API hands back: frozen results that also go into JSON.

Schedulers and notebooks read these instead of parsing what the command
prints; `retention <command> --json` prints exactly `result.to_dict()`. The
module imports nothing heavy (pandas frames are only type hints here), so
`import retention` stays cheap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from retention.stages.staging.events import StagingCounts


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types: dates as ISO text, paths as text, NaN as None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy and pandas scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is not None and type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as a list of JSON-ready rows."""
    return jsonable(frame.to_dict("records"))


@dataclasses.dataclass(frozen=True)
class StageTime:
    stage: str
    seconds: float
    rows: int | None


@dataclasses.dataclass(frozen=True)
class StepTime:
    stage: str
    step: str
    seconds: float
    calls: int


@dataclasses.dataclass(frozen=True)
class RunResult:
    """One published run: what was staged, who landed in which tier, what was exported."""

    run_id: int
    as_of: dt.date
    counts: StagingCounts
    tiers: dict[str, dict[str, int]]  # product -> tier -> users
    assignments: dict[str, dict[str, int]]  # playbook -> outcome (sent, holdout, reason) -> users
    warehouse: Path
    export_dir: Path | None
    latest: bool  # what latest_* shows now; False for a backfill of an older as_of
    seconds: float
    stages: list[StageTime]  # in run order
    steps: list[StepTime]

    @property
    def users(self) -> dict[str, int]:
        """Users per product."""
        return {product: sum(by_tier.values()) for product, by_tier in self.tiers.items()}

    def to_dict(self) -> dict[str, Any]:
        return jsonable({**dataclasses.asdict(self), "users": self.users})


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """A backtest: tiers and the purchase model at as_of against the next horizon_days."""

    evaluation_id: int
    as_of: dt.date
    horizon_days: int
    tiers: pd.DataFrame  # product_id, tier, users, share_active, purchases/revenue per user
    buckets: pd.DataFrame  # product_id, bucket, users, predicted_per_user, actual_per_user
    model: pd.DataFrame  # product_id, metric, value (AUCs of the scores and baselines, errors)
    checks: pd.DataFrame | None = None  # product_id, check, passed, detail
    user_tiers: pd.DataFrame | None = None  # product_id, user_id, tier at as_of (not in to_dict)

    @property
    def passed(self) -> bool:
        """Whether every product passes the policy checks (the tiers' ordering)."""
        return self.checks is None or bool(self.checks.passed.all())

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluation_id": self.evaluation_id,
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "passed": self.passed,
            "tiers": frame_records(self.tiers),
            "buckets": frame_records(self.buckets),
            "model": frame_records(self.model),
            "checks": [] if self.checks is None else frame_records(self.checks),
        }


@dataclasses.dataclass(frozen=True)
class PolicyComparison:
    """Two tier policies on the same backtest, and who moves between their tiers."""

    base: Evaluation
    candidate: Evaluation
    moves: pd.DataFrame  # product_id, tier_base, tier_candidate, users

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(),
            "candidate": self.candidate.to_dict(),
            "moves": frame_records(self.moves),
        }


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """The published run's campaign files, written again."""

    run_id: int
    folder: Path
    manifest: dict[str, Any]  # the manifest.json written beside the files

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"run_id": self.run_id, "folder": self.folder, "manifest": self.manifest})


@dataclasses.dataclass(frozen=True)
class UpliftResult:
    """Sent against holdout users of each playbook of one run, over horizon_days."""

    run_id: int
    horizon_days: int
    results: pd.DataFrame  # playbook, metric, sent/holdout users and values, difference, CI, lift

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "horizon_days": self.horizon_days,
            "results": frame_records(self.results),
        }
