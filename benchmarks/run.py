"""Benchmark `retention run` against a pandas + lifetimes baseline and a DuckDB floor.

For each size: generate a seeded event log with the project's own generator
(reused when it already exists), then run baseline, retention and floor, each
as its own process under `/usr/bin/time -v`, interleaved, `--repeat` times; at
the largest size also one `retention run` with memory_limit = "2GB", threads = 2.
Writes `<out>/<date>-<size>.json` and regenerates benchmarks/README.md.

Examples:
    python benchmarks/run.py --sizes 1M,10M --repeat 3
    python benchmarks/run.py --sizes 50M --repeat 1
    python benchmarks/run.py --sizes 300u --repeat 1 --no-readme --out out/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from contenders import CONSTRAINED, run_baseline, run_floor, run_retention, write_pipeline
from machine import describe_machine, describe_software
from measure import CommandFailed
from report import write_readme
from results import ratios, summarise, write_result

from retention.sample import write_sample
from retention.sample.writer import DEFAULT_SEED

HERE = Path(__file__).resolve().parent
#: Events per simulated person in the generator's log (about 24.5 at scale).
EVENTS_PER_USER = 24.5
#: Peak RSS the memory-limited run must stay under.
CONSTRAINED_RSS_LIMIT = 3 * 1024**3
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([kKmMuU]?)$")
log = logging.getLogger("benchmarks")


@dataclass(frozen=True)
class Size:
    label: str
    users: int


@dataclass(frozen=True)
class Dataset:
    size: Size
    folder: Path
    events: Path
    event_rows: int
    file_bytes: int
    seed: int
    generate_seconds: float | None


def parse_size(text: str) -> Size:
    """'1M' / '500k' events (converted to users), or '300u' users."""
    match = SIZE_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: use events like 1M or 500k, or 300u")
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "u":
        return Size(text.strip(), max(1, int(number)))
    events = number * {"k": 1e3, "m": 1e6, "": 1}[unit]
    return Size(text.strip(), max(1, round(events / EVENTS_PER_USER)))


def ensure_dataset(data_dir: Path, size: Size, seed: int) -> Dataset:
    """The event log for this size and seed; generated only when it is not there yet."""
    folder = data_dir / f"users-{size.users}-seed-{seed}"
    events, marker = folder / "events.parquet", folder / "dataset.json"
    generate_seconds = None
    if not marker.exists():
        log.info("%s: generating %s users into %s", size.label, f"{size.users:,}", folder)
        started = time.perf_counter()
        summary = write_sample(folder, users=size.users, seed=seed, contacts=False)
        generate_seconds = time.perf_counter() - started
        meta = {"users": size.users, "seed": seed, "rows": summary.event_rows}
        marker.write_text(json.dumps(meta))
    rows = pq.ParquetFile(events).metadata.num_rows
    return Dataset(size, folder, events, rows, events.stat().st_size, seed, generate_seconds)


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
    pipeline = write_pipeline(dataset.folder, dataset.events.name)
    runs: dict[str, list[dict]] = {"baseline": [], "retention": [], "floor": []}
    baseline_repeat = args.repeat if args.baseline_repeat is None else args.baseline_repeat
    for i in range(args.repeat):
        log.info("%s: repeat %d of %d", dataset.size.label, i + 1, args.repeat)
        if i < baseline_repeat:
            runs["baseline"].append(attempt("baseline", run_baseline, dataset.events, args.timeout))
        runs["retention"].append(attempt("retention", run_retention, pipeline, args.timeout))
        runs["floor"].append(attempt("floor", run_floor, dataset.events, args.timeout))
    if constrained:
        limited = write_pipeline(dataset.folder, dataset.events.name, constrained=True)
        runs["retention_constrained"] = [
            attempt("retention (2GB, 2 thr)", run_retention, limited, args.timeout)
        ]
    contenders = {name: summarise(attempts) for name, attempts in runs.items()}
    if constrained:
        peak = contenders["retention_constrained"].get("peak_rss_bytes")
        contenders["retention_constrained"]["settings"] = CONSTRAINED
        contenders["retention_constrained"]["under_3gib"] = (
            None if peak is None else peak < CONSTRAINED_RSS_LIMIT
        )
    return contenders


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
        "dataset": {
            "users": size.users,
            "event_rows": dataset.event_rows,
            "file_bytes": dataset.file_bytes,
            "seed": dataset.seed,
            "generate_seconds": dataset.generate_seconds,
        },
        "machine": describe_machine(),
        "software": describe_software(HERE.parent),
        "contenders": contenders,
        "ratios": ratios(contenders),
    }
    path = write_result(args.out, result)
    log.info("%s: wrote %s", size.label, path)
    return path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("Examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--sizes", default="1M,10M", help="comma-separated: events (1M, 500k) or users (300u)")
    add("--repeat", type=int, default=3, help="runs per contender; medians are reported")
    add("--baseline-repeat", type=int, help="runs of the baseline (default: --repeat)")
    add("--out", type=Path, default=HERE / "results", help="folder for the result JSON files")
    add("--data", type=Path, default=HERE / "data", help="folder for generated event logs")
    add("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    add("--constrained", default="largest", help="size for the 2GB run: a label, largest, none")
    add("--timeout", type=float, default=3600, help="seconds before a run is killed")
    add("--no-readme", action="store_true", help="do not regenerate benchmarks/README.md")
    add("--readme", type=Path, default=HERE / "README.md", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if args.repeat < 1 or not args.sizes:
        parser.error("--repeat must be at least 1 and --sizes must name a size")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args(argv)
    largest = max(args.sizes, key=lambda s: s.users)
    for size in args.sizes:
        constrained = args.constrained == size.label or (
            args.constrained == "largest" and size == largest
        )
        run_size(size, args, constrained, argv)
    if not args.no_readme:
        write_readme(args.out, args.readme)
        log.info("wrote %s", args.readme)


if __name__ == "__main__":
    main()
