"""The Spark engine next to DuckDB: one `retention run` of the same event log on each.

Writes a pipeline file per engine into --out (the bundled sample's settings,
the given events and contacts), runs both in this process and prints one JSON
line per engine with the whole run's seconds and each stage's, from the run's
own `run_stages` table. Spark's first run includes starting Spark, so Spark
runs twice and the second run is reported too (a scheduler that keeps the
session pays the start-up once).

Example:
    retention sample --users 40816 --out data/bench1m
    python benchmarks/spark_engine.py data/bench1m --master "local[2]" --out out/spark-bench
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline

SAMPLE = Path(__file__).resolve().parents[1] / "pipelines" / "sample.toml"


def pipeline_file(data: Path, out: Path, engine: str, master: str) -> Path:
    text = SAMPLE.read_text(encoding="utf-8")
    text = text.replace('"../out/sample/retention.duckdb"', f'"{out / "retention.duckdb"}"')
    text = text.replace('"../out/sample/exports"', f'"{out / "exports"}"')
    text = text.replace('"../data/sample/', f'"{data.resolve()}/')
    text = text.replace("[run]\n", f'[run]\nengine = "{engine}"\n', 1)
    text += f'\n[spark]\nmaster = "{master}"\nlake = "{out / "lake"}"\n'
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def measure(path: Path, label: str) -> dict:
    started = time.perf_counter()
    result = run_pipeline(load_pipeline(path))
    seconds = time.perf_counter() - started
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        stages = con.execute(
            "SELECT stage, round(seconds, 2) FROM run_stages WHERE run_id = $run_id "
            "ORDER BY started_at",
            {"run_id": result.run_id},
        ).fetchall()
    return {
        "engine": label,
        "events": result.counts.rows_read,
        "seconds": round(seconds, 2),
        "stages": dict(stages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with events.parquet and contacts.csv")
    parser.add_argument("--out", type=Path, required=True, help="folder for the warehouses")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    duck = pipeline_file(args.data, args.out / "duckdb", "duckdb", args.master)
    spark = pipeline_file(args.data, args.out / "spark", "spark", args.master)
    for path, label in ((duck, "duckdb"), (spark, "spark (with start-up)"), (spark, "spark")):
        print(json.dumps(measure(path, label)), flush=True)


if __name__ == "__main__":
    main()
