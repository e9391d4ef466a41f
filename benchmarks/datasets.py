"""The event log of one benchmark size, made once and cached under benchmarks/data/.

A size of the generator's own log is `users-<users>-seed-<seed>/`; a size with
its own events per user (`10M/10`) is that log thinned (thinning.py) into
`users-<users>-seed-<seed>-per-user-<n>/`, made from the first (generated
when missing, reused otherwise). Each folder holds `events.parquet` and a
`dataset.json` marker written last: a folder without the marker is made again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from sizes import Size
from thinning import thin_log

from retention.sample import write_sample

log = logging.getLogger("benchmarks")
EVENTS_FILE, MARKER_FILE = "events.parquet", "dataset.json"


@dataclass(frozen=True)
class Dataset:
    size: Size
    folder: Path
    events: Path
    event_rows: int
    file_bytes: int
    seed: int
    generate_seconds: float | None
    #: How the log was thinned (Thinning.describe()); None for the generator's own log.
    thinning: dict | None = None

    @property
    def events_per_user(self) -> float:
        return self.event_rows / self.size.users


def ensure_dataset(data_dir: Path, size: Size, seed: int) -> Dataset:
    """The event log for this size and seed; made only when it is not there yet."""
    if size.events_per_user is None:
        return _ensure_native(data_dir, size, seed)
    return _ensure_thinned(data_dir, size, seed)


def _ensure_native(data_dir: Path, size: Size, seed: int) -> Dataset:
    folder = data_dir / f"users-{size.users}-seed-{seed}"
    marker = folder / MARKER_FILE
    generate_seconds = None
    if not marker.exists():
        log.info("%s: generating %s users into %s", size.label, f"{size.users:,}", folder)
        started = time.perf_counter()
        summary = write_sample(
            folder, users=size.users, seed=seed, contacts=False, events_name=EVENTS_FILE
        )
        generate_seconds = time.perf_counter() - started
        meta = {"users": size.users, "seed": seed, "rows": summary.event_rows}
        marker.write_text(json.dumps(meta))
    return _dataset(size, folder, seed, generate_seconds, None)


def _ensure_thinned(data_dir: Path, size: Size, seed: int) -> Dataset:
    per_user = f"{size.events_per_user:g}"
    folder = data_dir / f"users-{size.users}-seed-{seed}-per-user-{per_user}"
    marker = folder / MARKER_FILE
    if marker.exists():
        meta = json.loads(marker.read_text())
        return _dataset(size, folder, seed, None, meta["thinning"])
    native = _ensure_native(data_dir, Size(f"{size.users}u", size.users), seed)
    log.info("%s: thinning %s to %s events per user", size.label, native.folder, per_user)
    thinning = thin_log(native.events, folder / EVENTS_FILE, size.users, size.events_per_user, seed)
    described = {**thinning.describe(), "native_log": native.folder.name}
    meta = {"users": size.users, "seed": seed, "rows": thinning.rows, "thinning": described}
    marker.write_text(json.dumps(meta, indent=2))
    made_seconds = (native.generate_seconds or 0.0) + thinning.seconds
    return _dataset(size, folder, seed, made_seconds, described)


def _dataset(
    size: Size, folder: Path, seed: int, seconds: float | None, thinning: dict | None
) -> Dataset:
    events = folder / EVENTS_FILE
    rows = pq.ParquetFile(events).metadata.num_rows
    return Dataset(size, folder, events, rows, events.stat().st_size, seed, seconds, thinning)
