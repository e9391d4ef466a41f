"""The Spark engine next to DuckDB: one `retention run` of the same event log on each.

Writes a pipeline file per engine into --out (the bundled sample's settings,
the given events and contacts), runs both in this process and takes the
whole run's seconds and each stage's from the run's own `run_stages` table.
Spark's first run includes starting Spark, so Spark runs twice and the
second run is reported too (a scheduler that keeps the session pays the
start-up once). One measurement each: a Spark run takes minutes. Writes
`<results>/spark_engine/<events>.json` and the "The Spark engine" section of
benchmarks/README.md from every such file.

Example:
    retention sample --users 40816 --out data/bench1m
    python benchmarks/spark_engine.py data/bench1m --master "local[2]" --out out/spark-bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import duckdb
from machine import describe_machine
from readme_sections import record_result

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline

HERE = Path(__file__).resolve().parent
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
        users = con.execute(
            "SELECT count(*) FROM user_features WHERE run_id = $run_id", {"run_id": result.run_id}
        ).fetchall()[0][0]
    return {
        "engine": label,
        "events": result.counts.rows_read,
        "users": users,
        "seconds": round(seconds, 2),
        "stages": dict(stages),
        "warehouse_bytes": result.warehouse.stat().st_size,
    }


STAGES = ("staging", "features", "scores", "tiers")
LABELS = {
    "duckdb": "DuckDB",
    "spark (with start-up)": "Spark {master}, first run (starts Spark)",
    "spark": "Spark {master}, session kept",
}


def section(results: list[dict]) -> str:
    """The README section: one table per log, largest last."""
    lines = [
        "## The Spark engine",
        "",
        '`python benchmarks/spark_engine.py DATA --out OUT --master "local[2]"` (this',
        "section is written by that script): one `retention run` of a sample log per",
        "engine on this two-core machine, Spark with its default settings (adaptive",
        "execution on); staging (the sample's events are typed Parquet), features,",
        'scores, tiers and assignments are the stages Spark runs (README, "Past one',
        'machine"). One measurement each, seconds; "the rest" is metrics, contacts,',
        "assignments, exports and publishing.",
    ]
    for result in sorted(results, key=lambda r: r["events"]):
        lines += [
            "",
            f"{result['events']:,} events, {result['users']:,} users, "
            f"measured {result['measured'][:10]} (load average "
            f"{result['machine']['load_average_1m']:.1f} at the start):",
            "",
            "| engine | whole run | staging | features | scores | tiers | the rest | file |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run in result["runs"]:
            stages = [run["stages"].get(name, 0.0) for name in STAGES]
            rest = run["seconds"] - sum(stages)
            label = LABELS[run["engine"]].format(master=result["master"])
            cells = " | ".join(f"{value:.1f}" for value in [run["seconds"], *stages, rest])
            size = run.get("warehouse_bytes")
            file = f"{size / 2**20:.1f} MiB" if size else "not measured"
            if size and run["engine"] == "spark":
                file += " (2 runs)"  # the kept session's run is the file's second
            lines.append(f"| {label} | {cells} | {file} |")
    lines += ["", ratio_sentence(results)]
    lines += [
        "",
        "The scores stage is mostly the model fits, which run on the driver on either",
        "engine (the same triples, the same code); on Spark it adds RFM's ranks, the",
        "triples, the hand-over of the per-triple predictions as Parquet, survival's",
        "per-user steps (lifetimes, curve counts, the Cox sample and every user's",
        "score), with `[scores] covariates` the covariate groups and their users'",
        "scores, and the final join. The per-user tables stay in the lake, where the",
        "warehouse's views read them (the file column: the warehouse file's size",
        "after the run; the kept session's run is the file's second). On one machine",
        "Spark is several times slower than DuckDB stage by",
        "stage: it pays for task scheduling, shuffles through local files and the",
        "Parquet hand-offs, which DuckDB's in-process hash aggregates never do. Spark",
        "pays off only when the events do not fit one machine (disk or days of DuckDB",
        "time), or when they already live in a lake next to a Spark cluster with many",
        "executors; below that, DuckDB stays the default. To run there, point",
        "`[spark] master` at the cluster (`spark://host:7077`, or `yarn` / `k8s://...`",
        "from a driver that has the cluster's configuration), or run the `retention`",
        "command inside `spark-submit` on a managed Spark service; the event files and",
        "`[spark] lake` must be on storage every executor reads at the same path.",
    ]
    return "\n".join(lines)


def ratio_sentence(results: list[dict]) -> str:
    """How many times the DuckDB run Spark's kept-session run takes, per log size."""
    parts = []
    for result in sorted(results, key=lambda r: r["events"]):
        seconds = {run["engine"]: run["seconds"] for run in result["runs"]}
        ratio = seconds["spark"] / seconds["duckdb"]
        parts.append(f"{ratio:.1f}x at {result['events']:,} events")
    return (
        "Whole run, Spark with its session kept over DuckDB: "
        + ", ".join(parts)
        + ". Spark's fixed costs per job weigh less as the log grows, but on two cores"
        " it stays slower at every size measured."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with events.parquet and contacts.csv")
    parser.add_argument("--out", type=Path, required=True, help="folder for the warehouses")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    machine = describe_machine()
    duck = pipeline_file(args.data, args.out / "duckdb", "duckdb", args.master)
    spark = pipeline_file(args.data, args.out / "spark", "spark", args.master)
    runs = []
    for path, label in ((duck, "duckdb"), (spark, "spark (with start-up)"), (spark, "spark")):
        runs.append(measure(path, label))
        print(json.dumps(runs[-1]), flush=True)
    result = {
        "events": runs[0]["events"],
        "users": runs[0]["users"],
        "master": args.master,
        "measured": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine,
        "runs": runs,
    }
    stem = f"{result['events']}"
    record_result(args.results, "spark_engine", stem, result, section, not args.no_readme)


if __name__ == "__main__":
    main()
