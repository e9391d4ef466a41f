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


def run_demo(out_dir: Path) -> RunResult:
    """Run the sample pipeline with its warehouse and exports under `out_dir`."""
    pipeline = load_pipeline(bundled_pipeline_path()).with_overrides(
        warehouse=out_dir / "retention.duckdb", exports=out_dir / "exports"
    )
    return run_pipeline(pipeline)
