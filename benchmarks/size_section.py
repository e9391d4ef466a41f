"""One size's section of benchmarks/README.md: its log, every contender's runs, the parameters.

Kept apart from report.py (which assembles the whole README) because a size
section is the detail behind one row of the results table: how the log was
made (generated or thinned), each contender's wall time, runs and memory (or
why it was not run), the stages of `retention run`, the memory-limited run
against its peak-RSS limit, and the fitted parameters side by side.
"""

from __future__ import annotations

from contenders import COMPARED_PARAMS
from formatting import fmt_bytes, fmt_rel, fmt_s
from results import constrained_check, events_per_user

PARAM_ORDER = [name for names in COMPARED_PARAMS.values() for name in names]
BASELINE_STEPS = ("load", "summary", "rfm", "bgnbd_fit", "gg_fit", "p_alive", "expected", "clv")


def size_section(r: dict) -> str:
    d, c = r["dataset"], r["contenders"]
    lines = [
        f"## {r['size']}: {d['event_rows']:,} events, {d['users']:,} users",
        "",
        f"Log: {fmt_bytes(d['file_bytes'])} of Parquet, seed {d['seed']}, "
        f"{events_per_user(r):.1f} events per user; measured {r['started_at']}"
        f"{_load(r['machine'])}.{_thinning_text(d.get('thinning'))}",
        "",
        "| contender | wall: median (min–max) | runs | peak RSS (median) | major page faults |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += _contender_rows(c)
    baseline_ran = bool((c.get("baseline") or {}).get("n"))
    lines += ["", _baseline_steps(c.get("baseline", {}))]
    lines += [_params_table(r["ratios"]["params"], baseline_ran)]
    return "\n".join(lines) + "\n"


def not_run_text(contender: dict | None) -> str | None:
    """'not run (reason)' or 'failed' for a contender without a successful run, else None."""
    if contender and contender.get("n"):
        return None
    if contender and contender.get("runs"):
        return "failed"
    reason = (contender or {}).get("skipped")
    return f"not run ({reason})" if reason else "not run"


def _thinning_text(thinning: dict | None) -> str:
    if not thinning:
        return ""
    native = thinning.get("native_log", "the generator's log of the same users")
    return (
        f" Thinned from `{native}` ({thinning['native_rows']:,} rows) to about "
        f"{thinning['target_events_per_user']:g} events per user (thinning.py, seed "
        f"{thinning['seed']}): {thinning['method']}, with keep_share "
        f"{thinning['keep_share']:.4f}; {thinning['kept_type_rows']:,} rows kept by type."
    )


def _contender_rows(c: dict) -> list[str]:
    rows = [_row("baseline (pandas + lifetimes)", c.get("baseline"))]
    ours = c.get("retention", {})
    rows.append(_row("`retention run`", ours))
    rows += _stage_rows(ours)
    stages = ours.get("median", {}).get("stages", {})
    wall = ours.get("median", {}).get("wall_seconds")
    if wall is not None and stages:
        other = wall - sum(stages.values())
        rows.append(f"| &nbsp;&nbsp;start-up, schema, publish | {fmt_s(other)} | | | |")
    rows.append(_row("floor (one DuckDB GROUP BY)", c.get("floor")))
    query = c.get("floor", {}).get("median", {}).get("query_seconds")
    if query is not None:
        rows.append(f"| &nbsp;&nbsp;its query alone | {fmt_s(query)} | | | |")
    limited = c.get("retention_constrained")
    if limited:
        rows.append(_constrained_row(limited))
        rows += _stage_rows(limited)
    return rows


def _constrained_row(limited: dict) -> str:
    settings, limit, under = constrained_check(limited)
    named = ", ".join(f"{k} = {v!r}" for k, v in settings.items())
    limit_text = f"{limit / 2**30:g} GiB"
    verdict = {True: f"under {limit_text}", False: f"**over {limit_text}**"}.get(under)
    return _row(f"`retention run` with {named}", limited, verdict)


def _stage_rows(contender: dict) -> list[str]:
    stages = contender.get("median", {}).get("stages", {})
    return [f"| &nbsp;&nbsp;stage `{stage}` | {fmt_s(s)} | | | |" for stage, s in stages.items()]


def _row(name: str, contender: dict | None, note: str | None = None) -> str:
    if not contender or not contender.get("runs"):
        return f"| {name} | {not_run_text(contender)} | | | |"
    med, runs = contender.get("median", {}), contender.get("runs", [])
    failed = len(runs) - contender.get("n", 0)
    count = f"{contender.get('n', 0)}" + (f" ({failed} failed)" if failed else "")
    rss = fmt_bytes(med.get("max_rss_bytes")) + (f", {note}" if note else "")
    faults = med.get("major_faults")
    faults_text = "n/a" if faults is None else f"{faults:,.0f}"
    walls = [run["wall_seconds"] for run in runs if "wall_seconds" in run]
    wall = fmt_s(med.get("wall_seconds"))
    if len(walls) > 1:
        wall += f" ({fmt_s(min(walls))[:-2]}–{fmt_s(max(walls))})"
    return f"| {name} | {wall} | {count} | {rss} | {faults_text} |"


def _baseline_steps(baseline: dict) -> str:
    steps = baseline.get("median", {}).get("steps")
    if not steps:
        return ""
    text = ", ".join(f"{k} {fmt_s(steps[k])}" for k in BASELINE_STEPS if k in steps)
    return f"Baseline steps (median): {text}.\n"


def _params_table(params: dict, baseline_ran: bool = True) -> str:
    if not params:
        return ""
    lines = [
        "| product | model | baseline | retention | max rel. diff | spread over retention runs |",
        "|---|---|---|---|---:|---:|",
    ]
    for product, models in params.items():
        for model, p in models.items():
            diff = fmt_rel(p["max_rel_diff"]) + (f" ({p['param']})" if p["param"] else "")
            theirs = _params(p["baseline"]) if baseline_ran else "not run"
            lines.append(
                f"| {product} | {model} | {theirs} | {_params(p['retention'])} "
                f"| {diff} | {fmt_rel(p.get('spread'))} |"
            )
    return "\n".join(lines) + "\n"


def _load(machine: dict) -> str:
    load = machine.get("load_average_1m")
    return "" if load is None else f", load average {load:.1f} at the start"


def _params(values: dict | None) -> str:
    if not values:
        return "no fit"
    return ", ".join(f"{k} {values[k]:.4g}" for k in sorted(values, key=PARAM_ORDER.index))
