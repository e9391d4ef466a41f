"""The scores stage before and after the uncertainty and forecast outputs.

On the project's seeded event log (as `run.py` makes it), one `retention run`
per setting, timing the whole `scores` stage (`run_stages`) and its
"purchase and spend models" and "prediction intervals" steps (`run_steps`):

- before: `[scores] interval_draws = 0` and only the outputs that existed
  before (p_alive, expected purchases, clv_factor) per triple, timed on the
  same triples outside the run;
- after, no draws: the new per-triple outputs without intervals;
- after: everything, with the default 200 seeded parameter draws.

    python benchmarks/score_outputs.py --users 40816 --repeat 3

Writes `<out>/score_outputs/<users>.json` and regenerates benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
from contenders import write_pipeline
from report import write_readme
from run import DEFAULT_SEED, Size, ensure_dataset

import retention
from retention.stages.scores.btyd import fit_purchase_model, predict_purchases

HERE = Path(__file__).resolve().parent


def run_once(pipeline_file: Path, folder: Path, draws: int) -> dict:
    pipeline = retention.load_pipeline(pipeline_file, warehouse=folder / f"w{draws}.duckdb")
    scores = dataclasses.replace(pipeline.scores, interval_draws=draws)
    pipeline = dataclasses.replace(pipeline, scores=scores)
    result = retention.run(pipeline)
    with duckdb.connect(str(pipeline.run.warehouse), read_only=True) as con:
        stage = con.execute(
            "SELECT seconds FROM run_stages WHERE run_id = ? AND stage = 'scores'", [result.run_id]
        ).fetchall()[0][0]
        step = con.execute(
            "SELECT sum(seconds) FROM run_steps WHERE run_id = ? AND step IN "
            "('purchase and spend models', 'prediction intervals')",
            [result.run_id],
        ).fetchall()[0][0]
        triples = con.execute(
            'SELECT product_id, frequency, recency, t AS "T", count(*) AS users FROM user_scores '
            "WHERE run_id = ? AND frequency IS NOT NULL GROUP BY ALL",
            [result.run_id],
        ).df()
    return {"scores_s": stage, "models_step_s": step, "triples": triples, "pipeline": pipeline}


def old_outputs_seconds(triples, pipeline) -> float:
    """p_alive, expected purchases per horizon and clv_factor alone, as before."""
    from retention.models.clv import customer_lifetime_value

    settings, total = pipeline.scores, 0.0
    for product, group in triples.groupby("product_id"):
        model, _ = fit_purchase_model(group, product, settings, settings.purchase_model)
        f, r, t = group.frequency.to_numpy(), group.recency.to_numpy(), group["T"].to_numpy()
        started = time.perf_counter()
        model.p_alive(f, r, t)
        for days in settings.horizons_days:
            model.expected_purchases(days, f, r, t)
        customer_lifetime_value(model, f, r, t, 1.0 + 0 * f, months=settings.clv_months)
        total += time.perf_counter() - started
    return total


def new_outputs_seconds(triples, pipeline, draws: int) -> float:
    settings, total = dataclasses.replace(pipeline.scores, interval_draws=draws), 0.0
    for product, group in triples.groupby("product_id"):
        model, _ = fit_purchase_model(group, product, settings, settings.purchase_model)
        started = time.perf_counter()
        predict_purchases(model, group, settings, 1)
        total += time.perf_counter() - started
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40_816)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    dataset = ensure_dataset(args.data, Size(f"{args.users}", args.users), DEFAULT_SEED)
    timings: dict[str, list[float]] = {}
    pipeline_file = write_pipeline(dataset.folder, dataset.events.name)
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeat):
            for draws in (0, 200):
                out = run_once(pipeline_file, Path(scratch) / f"{repeat}", draws)
                timings.setdefault(f"scores_stage_draws_{draws}_s", []).append(out["scores_s"])
                timings.setdefault(f"models_step_draws_{draws}_s", []).append(out["models_step_s"])
            triples, pipeline = out["triples"], out["pipeline"]
            timings.setdefault("old_outputs_s", []).append(old_outputs_seconds(triples, pipeline))
            for draws in (0, 200):
                seconds = new_outputs_seconds(triples, pipeline, draws)
                timings.setdefault(f"new_outputs_draws_{draws}_s", []).append(seconds)
    pairs = triples[["product_id", "frequency", "T"]].drop_duplicates()
    result = {
        "users": args.users,
        "events": dataset.event_rows,
        "repeat": args.repeat,
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "distinct_triples": len(triples),
        "distinct_pairs": len(pairs),
        **{k: statistics.median(v) for k, v in timings.items()},
    }
    print(json.dumps(result))
    folder = args.out / "score_outputs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{args.users}.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_readme:
        write_readme(args.out, HERE / "README.md")


if __name__ == "__main__":
    main()
