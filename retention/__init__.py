"""retention: user-lifecycle segmentation and retention engine.

Raw events -> staged events -> user features (DuckDB SQL) -> scores -> tiers ->
playbooks -> exports, per product, into a DuckDB warehouse and campaign files.

The Python API (each function raises RetentionError, never prints or exits):

    load_pipeline(path, **overrides) -> Pipeline     read and check a pipeline file
    run(pipeline_or_path, *, as_of=None) -> RunResult
    evaluate(pipeline_or_path, *, as_of, horizon="90D") -> Evaluation
    compare(base, candidate, *, as_of, horizon="90D") -> PolicyComparison
    export(pipeline_or_path, *, playbook=None, channel=None) -> ExportResult
    uplift(pipeline_or_path, *, run_id, horizon="30D") -> UpliftResult
    connect(warehouse) -> duckdb connection (read-only, guarded like `retention sql`)
    load_model(warehouse, product, model="bgnbd") -> fitted model (.to_lifetimes())

Every result has `to_dict()`, which `retention <command> --json` prints.
"""

from retention.api import (
    compare,
    connect,
    evaluate,
    export,
    load_model,
    load_pipeline,
    run,
    uplift,
)
from retention.errors import DataQualityError, RetentionError, WarehouseLockedError
from retention.results import (
    Evaluation,
    ExportResult,
    PolicyComparison,
    RunResult,
    UpliftResult,
)
from retention.version import __version__

__all__ = [
    "DataQualityError",
    "Evaluation",
    "PolicyComparison",
    "ExportResult",
    "RetentionError",
    "RunResult",
    "UpliftResult",
    "WarehouseLockedError",
    "__version__",
    "compare",
    "connect",
    "evaluate",
    "export",
    "load_model",
    "load_pipeline",
    "run",
    "uplift",
]
