"""Medians over repeats, the ratios the project tracks, and the result files.

A result file (`<date>-<size>.json`, the size in its file-name form, e.g.
`10M-per-user-10`) holds every run of every contender at one size (a contender
not run there has no runs and a `skipped` reason), their medians, the ratios,
and the machine they ran on:

- btyd_speedup: baseline BTYD steps (summary, rfm, fits, p_alive, expected,
  clv; not load) / retention's steps that produce the same outputs
  (contenders.BTYD_STEPS, from its run_steps table; not staging);
- btyd_vs_stages: the same baseline steps / retention's whole `features` +
  `scores` stages (which also build ~30 other features and survival models);
- run_speedup: whole baseline process / whole `retention run` process;
- features_vs_floor: retention's `features` stage / the floor process
  (and / the floor's query alone);
- params: max relative difference of the BG/NBD and Gamma-Gamma parameters,
  |retention - baseline| / |baseline|, per product and model.
"""

from __future__ import annotations

import json
from pathlib import Path

from contenders import COMPARED_PARAMS, CONSTRAINED, rss_limit_bytes
from measure import median
from sizes import size_slug

#: Per-run numbers whose median is taken; nested dicts are taken per key.
MEDIAN_KEYS = (
    "wall_seconds",
    "max_rss_bytes",
    "major_faults",
    "btyd_seconds",
    "features_scores_seconds",
    "btyd_steps_seconds",
    "run_steps",
    "query_seconds",
    "steps",
    "stages",
)


def summarise(attempts: list[dict]) -> dict:
    """Every run as recorded, how many succeeded, and the medians of the successful ones."""
    ok = [a for a in attempts if "error" not in a]
    medians: dict = {}
    for key in MEDIAN_KEYS:
        values = [a[key] for a in ok if key in a]
        if not values:
            continue
        if isinstance(values[0], dict):
            medians[key] = {k: median([v[k] for v in values if k in v]) for k in values[0]}
        else:
            medians[key] = median(values)
    summary = {"n": len(ok), "runs": attempts, "median": medians}
    if ok:
        summary["peak_rss_bytes"] = max(a["max_rss_bytes"] for a in ok)
        if "params" in ok[0]:
            summary["params"] = ok[0]["params"]
    return summary


def ratios(contenders: dict[str, dict]) -> dict:
    base = contenders.get("baseline", {}).get("median", {})
    ours = contenders.get("retention", {}).get("median", {})
    floor = contenders.get("floor", {}).get("median", {})
    features = ours.get("stages", {}).get("features")
    ours_runs = [
        run
        for name in ("retention", "retention_constrained")
        for run in contenders.get(name, {}).get("runs", [])
        if "params" in run
    ]
    return {
        "btyd_speedup": _ratio(base.get("btyd_seconds"), ours.get("btyd_steps_seconds")),
        "btyd_vs_stages": _ratio(base.get("btyd_seconds"), ours.get("features_scores_seconds")),
        "run_speedup": _ratio(base.get("wall_seconds"), ours.get("wall_seconds")),
        "features_vs_floor": _ratio(features, floor.get("wall_seconds")),
        "features_vs_floor_query": _ratio(features, floor.get("query_seconds")),
        "params": param_agreement(
            contenders.get("baseline", {}).get("params", {}),
            contenders.get("retention", {}).get("params", {}),
            [run["params"] for run in ours_runs],
        ),
    }


def param_agreement(baseline: dict, ours: dict, repeats: list[dict] | None = None) -> dict:
    """Per product and model: the largest relative difference and the parameter it is in.

    A side without a fit (lifetimes' ConvergenceError in the baseline, a fallback
    in retention) is None and so is the difference. `spread` is the largest
    (max - min) / |median| of a parameter over retention's repeated runs on the
    same file: above ~1e-6 the fit is not pinned down by the data.
    """
    out: dict = {}
    for product in sorted(set(baseline) | set(ours)):
        for model, names in COMPARED_PARAMS.items():
            theirs = (baseline.get(product) or {}).get(model) or {}
            mine = (ours.get(product) or {}).get(model) or {}
            if not theirs and not mine:
                continue
            diffs = {
                n: abs(mine[n] - theirs[n]) / abs(theirs[n])
                for n in names
                if mine.get(n) is not None and theirs.get(n)
            }
            worst = max(diffs, key=diffs.get) if diffs else None
            out.setdefault(product, {})[model] = {
                "max_rel_diff": diffs.get(worst),
                "param": worst,
                "baseline": theirs or None,
                "retention": mine or None,
                "spread": _spread([(r.get(product) or {}).get(model) or {} for r in repeats or []]),
            }
    return out


def _spread(fits: list[dict]) -> float | None:
    """Largest relative range of any parameter over repeated fits."""
    fits = [f for f in fits if f]
    if len(fits) < 2:
        return None
    spreads = []
    for name in fits[0]:
        values = [f[name] for f in fits if f.get(name) is not None]
        middle = median(values)
        if middle:
            spreads.append((max(values) - min(values)) / abs(middle))
    return max(spreads) if spreads else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def measured_retention(contenders: dict[str, dict]) -> tuple[dict | None, bool]:
    """The `retention run` to show for a size, and whether it is the memory-limited one.

    The unconstrained runs when any succeeded; else the memory-limited run when it
    succeeded (a size measured with `--repeat 0`); else (None, False).
    """
    for name, constrained in (("retention", False), ("retention_constrained", True)):
        contender = contenders.get(name) or {}
        if contender.get("n"):
            return contender, constrained
    return None, False


def constrained_check(contender: dict) -> tuple[dict, int, bool | None]:
    """A memory-limited run's settings, its peak-RSS limit and whether it stayed under.

    Files written before the limit was configurable hold `under_3gib` and no limit.
    """
    settings = contender.get("settings") or CONSTRAINED
    limit = contender.get("rss_limit_bytes") or rss_limit_bytes(settings["memory_limit"])
    under = contender.get("under_rss_limit", contender.get("under_3gib"))
    return settings, limit, under


def events_per_user(result: dict) -> float:
    """Events per user of a result's log (older files do not record it)."""
    dataset = result["dataset"]
    return dataset.get("events_per_user") or dataset["event_rows"] / dataset["users"]


def write_result(out_dir: Path, result: dict) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result['date']}-{size_slug(result['size'])}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path


def latest_results(out_dir: Path) -> list[dict]:
    """The newest result per size, smallest size first."""
    by_size: dict[str, dict] = {}
    for path in sorted(out_dir.glob("*.json")):
        result = json.loads(path.read_text())
        by_size[result["size"]] = result
    return sorted(by_size.values(), key=lambda r: r["dataset"]["event_rows"])
