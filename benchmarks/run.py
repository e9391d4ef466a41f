"""Benchmark `retention run` against a pandas + lifetimes baseline and a DuckDB floor.

For each size (sizes.py: `1M` events, `300u` users, `10M/10` for 10M events at
10 events per user): make or reuse the seeded event log (datasets.py), then run
baseline, retention and floor, each as its own process under `/usr/bin/time
-v`, interleaved, `--repeat` times (the baseline `--baseline-repeat` times);
at the largest size (or the one `--constrained` names) also one `retention run`
with memory_limit = `--memory-limit` (2GB unless told), threads = 2, checked
against a peak RSS of memory_limit + 1 GiB. `--repeat 0` runs only that
memory-limited run, for one size. Writes `<out>/<date>-<size>.json` and
regenerates benchmarks/README.md.

Examples:
    python benchmarks/run.py --sizes 1M,10M,10M/10 --repeat 3
    python benchmarks/run.py --sizes 50M --repeat 1 --constrained none
    python benchmarks/run.py --sizes 100M --repeat 0 --baseline-repeat 0 \\
        --constrained 100M --memory-limit 4GB --skip-reason "needs ~25 GiB"
    python benchmarks/run.py --sizes 300u --repeat 1 --no-readme --out out/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shlex
import sys
from pathlib import Path

from contenders import (
    CONSTRAINED,
    constrained_settings,
    rss_limit_bytes,
    run_baseline,
    run_floor,
    run_retention,
    write_pipeline,
)
from datasets import Dataset, ensure_dataset
from machine import describe_machine, describe_software
from measure import CommandFailed
from report import write_readme
from results import ratios, summarise, write_result
from sizes import EVENTS_PER_USER, SIZE_HELP, Size, parse_size

from retention.sample.writer import DEFAULT_SEED

__all__ = ["DEFAULT_SEED", "EVENTS_PER_USER", "Dataset", "Size", "ensure_dataset", "main"]
HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks")


def attempt(name: str, fn, *args) -> dict:
    """One measured run; a failure (crash, out of memory, timeout) is recorded, not raised."""
    try:
        run = fn(*args)
    except CommandFailed as exc:
        log.warning("  %s failed: %s", name, exc)
        return {"error": str(exc)}
    log.info("  %-22s %8.2f s  %7.0f MiB", name, run["wall_seconds"], run["max_rss_bytes"] / 2**20)
    return run


def bench_size(dataset: Dataset, args: argparse.Namespace, constrained: bool) -> dict:
    """Every contender's runs at one size, summarised; a contender run 0 times says why."""
    pipeline = write_pipeline(dataset.folder, dataset.events.name)
    counts = repeat_counts(args)
    runs: dict[str, list[dict]] = {name: [] for name in counts}
    measured = {
        "baseline": (run_baseline, dataset.events),
        "retention": (run_retention, pipeline),
        "floor": (run_floor, dataset.events),
    }
    rounds = max(counts.values())
    for i in range(rounds):
        log.info("%s: repeat %d of %d", dataset.size.label, i + 1, rounds)
        for name, (fn, target) in measured.items():
            if i < counts[name]:
                runs[name].append(attempt(name, fn, target, args.timeout))
    contenders = {name: summarise(attempts) for name, attempts in runs.items()}
    for name, reason in skip_reasons(args, counts).items():
        contenders[name]["skipped"] = reason
    if constrained:
        contenders["retention_constrained"] = bench_constrained(dataset, args)
    return contenders


def repeat_counts(args: argparse.Namespace) -> dict[str, int]:
    baseline = args.repeat if args.baseline_repeat is None else args.baseline_repeat
    return {"baseline": baseline, "retention": args.repeat, "floor": args.repeat}


def skip_reasons(args: argparse.Namespace, counts: dict[str, int]) -> dict[str, str]:
    """Why a contender has no runs at this size, as the README shows it."""
    reasons = {}
    if counts["baseline"] == 0:
        reasons["baseline"] = args.skip_reason or (
            "--baseline-repeat 0" if args.repeat else "--repeat 0"
        )
    if args.repeat == 0:
        reasons["retention"] = "--repeat 0: only the memory-limited run"
        reasons["floor"] = "--repeat 0"
    return reasons


def bench_constrained(dataset: Dataset, args: argparse.Namespace) -> dict:
    """One memory-limited `retention run`, checked against memory_limit + 1 GiB of peak RSS."""
    settings = constrained_settings(args.memory_limit)
    limited = write_pipeline(dataset.folder, dataset.events.name, constrained=settings)
    name = f"retention ({settings['memory_limit']}, {settings['threads']} thr)"
    contender = summarise([attempt(name, run_retention, limited, args.timeout)])
    limit = rss_limit_bytes(settings["memory_limit"])
    peak = contender.get("peak_rss_bytes")
    contender["settings"] = settings
    contender["rss_limit_bytes"] = limit
    contender["under_rss_limit"] = None if peak is None else peak < limit
    return contender


def describe_dataset(dataset: Dataset) -> dict:
    return {
        "users": dataset.size.users,
        "event_rows": dataset.event_rows,
        "events_per_user": dataset.events_per_user,
        "file_bytes": dataset.file_bytes,
        "seed": dataset.seed,
        "generate_seconds": dataset.generate_seconds,
        "thinning": dataset.thinning,
    }


def run_size(size: Size, args: argparse.Namespace, constrained: bool, argv: list[str]) -> Path:
    dataset = ensure_dataset(args.data, size, args.seed)
    started = dt.datetime.now()
    contenders = bench_size(dataset, args, constrained)
    result = {
        "size": size.label,
        "date": started.date().isoformat(),
        "started_at": started.isoformat(timespec="seconds"),
        "command": shlex.join(["python", "benchmarks/run.py", *argv]),
        "repeat": args.repeat,
        "dataset": describe_dataset(dataset),
        "machine": describe_machine(),
        "software": describe_software(HERE.parent),
        "contenders": contenders,
        "ratios": ratios(contenders),
    }
    path = write_result(args.out, result)
    log.info("%s: wrote %s", size.label, path)
    return path


def parse_sizes(text: str) -> list[Size]:
    """`--sizes`: comma-separated sizes (sizes.py); argparse reports a bad one."""
    sizes = [parse_size(part) for part in text.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"no size in {text!r}: {SIZE_HELP}")
    return sizes


def parse_memory_limit(text: str) -> str:
    try:
        return constrained_settings(text)["memory_limit"]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("Examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--sizes", type=parse_sizes, default="1M,10M", help=f"comma-separated; {SIZE_HELP}")
    add("--repeat", type=int, default=3, help="runs per contender; medians are reported")
    add("--baseline-repeat", type=int, help="runs of the baseline (default: --repeat; 0: none)")
    add("--skip-reason", help="why the baseline is not run, for the README (--baseline-repeat 0)")
    add("--out", type=Path, default=HERE / "results", help="folder for the result JSON files")
    add("--data", type=Path, default=HERE / "data", help="folder for generated event logs")
    add("--seed", type=int, default=DEFAULT_SEED, help="generator seed (and thinning seed)")
    add(
        "--constrained",
        default="largest",
        help="size of the memory-limited run: a size, largest, none",
    )
    add(
        "--memory-limit",
        type=parse_memory_limit,
        default=CONSTRAINED["memory_limit"],
        help="memory_limit of that run (threads 2); its peak RSS must stay under it + 1 GiB",
    )
    add("--timeout", type=float, default=3600, help="seconds before a run is killed")
    add("--no-readme", action="store_true", help="do not regenerate benchmarks/README.md")
    add("--readme", type=Path, default=HERE / "README.md", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problem = check_args(args)
    if problem:
        parser.error(problem)
    return args


def check_args(args: argparse.Namespace) -> str | None:
    """What is wrong with a combination of options, or None."""
    labels = [size.label for size in args.sizes]
    if args.repeat < 0 or (args.baseline_repeat or 0) < 0:
        return "--repeat and --baseline-repeat must be 0 or more"
    if args.constrained not in ("largest", "none", *labels):
        sizes = ", ".join(labels)
        return f"--constrained {args.constrained}: not one of the sizes ({sizes}), largest or none"
    if args.repeat == 0 and (len(labels) > 1 or args.constrained == "none"):
        return "--repeat 0 runs only the memory-limited run: give one size and --constrained SIZE"
    return None


def constrained_size(args: argparse.Namespace) -> Size | None:
    """The size of the memory-limited run: the one named, or the first of the largest."""
    if args.constrained == "none":
        return None
    if args.constrained == "largest":
        return max(args.sizes, key=lambda size: size.nominal_events)
    return next(size for size in args.sizes if size.label == args.constrained)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args(argv)
    limited = constrained_size(args)
    for size in args.sizes:
        run_size(size, args, size == limited, argv)
    if not args.no_readme:
        write_readme(args.out, args.readme)
        log.info("wrote %s", args.readme)


if __name__ == "__main__":
    main()
