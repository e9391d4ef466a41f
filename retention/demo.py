"""`retention demo`: the bundled sample pipeline, run into a folder of the user's.

The sample data and `pipelines/sample.toml` ship inside the package, with the
same relative layout as in the repository, so the pipeline's relative paths
resolve the same way from a checkout and from an installed wheel.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import RunResult, run_pipeline


def bundled_pipeline_path() -> Path:
    return Path(str(resources.files("retention.pipelines").joinpath("sample.toml")))


def run_demo(out_dir: Path) -> tuple[RunResult, Path]:
    """Run the sample pipeline with its warehouse and exports under `out_dir`, then
    write its HTML report there; returns the run and the report's path."""
    from retention.report.page import build_report

    pipeline = load_pipeline(bundled_pipeline_path()).with_overrides(
        warehouse=out_dir / "retention.duckdb", exports=out_dir / "exports"
    )
    result = run_pipeline(pipeline)
    return result, build_report(result.warehouse, out_dir / "report.html")
