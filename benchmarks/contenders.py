"""The three contenders, each run once as its own measured process.

- baseline: `baseline_lifetimes.py` (pandas + lifetimes), parsed from its JSON line;
- retention: `retention run PIPELINE --quiet` on a pipeline file written next to
  the data, its per-stage seconds and model parameters read back from the
  warehouse, which lives in a scratch folder deleted before and after each run;
- floor: `floor.py` (one bare DuckDB GROUP BY over the file).

Each function returns one run as a dict of plain numbers (JSON-ready).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path

import duckdb
from measure import measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAMPLE_PIPELINE = REPO / "pipelines" / "sample.toml"
AS_OF = "2024-06-30"
WAREHOUSE = "scratch/retention.duckdb"
#: The parameters compared between baseline and retention, per model.
COMPARED_PARAMS = {"bgnbd": ("r", "alpha", "a", "b"), "gamma_gamma": ("p", "q", "v")}
#: The memory-limited run's settings (run.py's --memory-limit replaces the limit).
CONSTRAINED = {"memory_limit": "2GB", "threads": 2}
MEMORY_LIMIT_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(MB|MiB|GB|GiB)$", re.IGNORECASE)
GIB = 2**30


def run_baseline(events: Path, timeout: float | None) -> dict:
    script = HERE / "baseline_lifetimes.py"
    m = measure([sys.executable, str(script), str(events), "--as-of", AS_OF], timeout)
    out = _last_json_line(m.stdout)
    products = out["products"]
    return {
        **m.figures(),
        "steps": out["steps"],
        "btyd_seconds": sum(v for k, v in out["steps"].items() if k != "load"),
        "rows_read": out["rows_read"],
        "purchase_rows": out["purchase_rows"],
        "buyers": {p: v["users"] for p, v in products.items()},
        "params": {p: {m: v[m] for m in COMPARED_PARAMS} for p, v in products.items()},
    }


def run_floor(events: Path, timeout: float | None) -> dict:
    m = measure([sys.executable, str(HERE / "floor.py"), str(events)], timeout)
    out = _last_json_line(m.stdout)
    return {
        **m.figures(),
        "query_seconds": out["query_seconds"],
        "rows": out["rows"],
    }


#: retention's steps (run_steps: "stage step") that produce the BTYD outputs the
#: baseline computes: the day roll-up (all of it, though the other features
#: share it), the BTYD summary, RFM, the purchase and spend model fits with
#: p_alive, expected purchases and CLV (and the other point predictions), and
#: the join into user_scores (all of it, though it also joins the activity and
#: survival scores). Not the 90% intervals (step "prediction intervals"), which
#: the baseline does not compute.
BTYD_STEPS = (
    "features features/user_days",
    "features features/user_btyd",
    "scores scores/rfm_inputs",
    "scores scores/rfm",
    "scores scores/btyd_triples",
    "scores scores/repeat_buyer_values",
    "scores purchase and spend models",
    "scores scores/user_scores",
)


def run_retention(pipeline: Path, timeout: float | None) -> dict:
    scratch = (pipeline.parent / WAREHOUSE).parent
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        m = measure([*retention_command(), "run", str(pipeline), "--quiet"], timeout)
        details = read_warehouse(pipeline.parent / WAREHOUSE)
        details["warehouse_bytes"] = sum(f.stat().st_size for f in scratch.rglob("*"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stages = details["stages"]
    return {
        **m.figures(),
        "features_scores_seconds": stages.get("features", 0.0) + stages.get("scores", 0.0),
        "btyd_steps_seconds": sum(details["run_steps"].get(name, 0.0) for name in BTYD_STEPS),
        **details,
    }


def retention_command() -> list[str]:
    """The installed `retention` script of this interpreter's environment."""
    script = Path(sysconfig.get_path("scripts")) / "retention"
    if script.exists():
        return [str(script)]
    found = shutil.which("retention")
    if found:
        return [found]
    return [sys.executable, "-c", "from retention.cli import main; main()"]


def read_warehouse(path: Path) -> dict:
    """Stage seconds and rows, run counts and compared parameters of the published run."""
    with duckdb.connect(str(path), read_only=True) as con:
        run_id, rows_read, rows_staged, users = con.execute(
            "SELECT run_id, rows_read, rows_staged, users FROM runs "
            "WHERE status = 'published' ORDER BY run_id DESC LIMIT 1"
        ).fetchall()[0]
        stages = con.execute(
            "SELECT stage, seconds, rows FROM run_stages WHERE run_id = ? ORDER BY started_at",
            [run_id],
        ).fetchall()
        steps = con.execute(
            "SELECT stage || ' ' || step, seconds FROM run_steps WHERE run_id = ?", [run_id]
        ).fetchall()
        params = con.execute(
            "SELECT product_id, model, param, value FROM model_params "
            "WHERE run_id = ? AND model IN ('bgnbd', 'gamma_gamma') ORDER BY ALL",
            [run_id],
        ).fetchall()
    compared: dict[str, dict[str, dict[str, float]]] = {}
    for product, model, param, value in params:
        if param in COMPARED_PARAMS[model]:
            compared.setdefault(product, {}).setdefault(model, {})[param] = value
    return {
        "stages": {stage: seconds for stage, seconds, _ in stages},
        "stage_rows": {stage: rows for stage, _, rows in stages},
        "run_steps": dict(steps),
        "rows_read": rows_read,
        "rows_staged": rows_staged,
        "users": users,
        "params": compared,
    }


def constrained_settings(memory_limit: str = CONSTRAINED["memory_limit"]) -> dict:
    """The memory-limited run's [run] settings with this memory_limit."""
    rss_limit_bytes(memory_limit)  # refuses text DuckDB and the RSS check would read differently
    return {**CONSTRAINED, "memory_limit": memory_limit}


def rss_limit_bytes(memory_limit: str) -> int:
    """The peak RSS a memory-limited run must stay under: memory_limit + 1 GiB.

    The limit is counted in GiB whether written GB or GiB, as the targets state it
    (memory_limit = "4GB": peak RSS under 5 GiB; "2GB": 3 GiB); MB and MiB alike.
    """
    match = MEMORY_LIMIT_RE.match(memory_limit.strip())
    if not match:
        raise ValueError(
            f"memory limit {memory_limit!r}: use a number and MB, MiB, GB or GiB, like 4GB"
        )
    number, unit = float(match.group(1)), match.group(2).lower()
    gib = number if unit in ("gb", "gib") else number / 1024
    return int((gib + 1) * GIB)


def write_pipeline(folder: Path, events_name: str, constrained: dict | bool = False) -> Path:
    """A pipeline file next to the data: the sample's mapping, as_of fixed, scratch warehouse.

    `constrained`: [run] settings of the memory-limited run (True: CONSTRAINED).
    """
    sample = tomllib.loads(SAMPLE_PIPELINE.read_text())
    run = {"warehouse": WAREHOUSE, "exports": "scratch/exports", "as_of": AS_OF}
    if constrained:
        run.update(CONSTRAINED if constrained is True else constrained)
    events = {"path": events_name, "format": "parquet"}
    sections = [
        ("run", run),
        ("source.events", events),
        ("source.events.columns", sample["source"]["events"]["columns"]),
        ("source.events.event_types", sample["source"]["events"]["event_types"]),
        ("validation", sample.get("validation", {})),
        ("features", sample.get("features", {})),
    ]
    lines = ["# Written by benchmarks/run.py: the sample pipeline's mapping on a benchmark log."]
    for name, table in sections:
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    path = folder / ("pipeline-constrained.toml" if constrained else "pipeline.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _last_json_line(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError(f"no JSON line in the output: {stdout[-500:]!r}")
    return json.loads(lines[-1])
