"""Reading the same events from local Parquet, from S3 and from PostgreSQL.

Generates N event rows (seeded SQL, like the source tests), stores them as one
local Parquet file, as the same file in an S3-compatible store (moto's server
on 127.0.0.1: a real HTTP endpoint, but a Python one, so its figure is an
upper bound for a local MinIO and says nothing about network latency to a
cloud region) and as a PostgreSQL table (a throwaway cluster started from the
installed server binaries, or --dsn). Each repetition opens the source with
retention's own reader on a fresh DuckDB connection and materialises every
row into a temp table, as staging does; the medians of --repeat timings are
printed as one JSON line, written to `<out>/source_reads/<rows>.json`, and put
in benchmarks/README.md (its "Source reads" section only).

    python benchmarks/source_reads.py --rows 1000000 --repeat 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import duckdb
from readme_sections import record_result

from retention.config.pipeline_file import SourceSettings
from retention.sources.files import open_source

HERE = Path(__file__).resolve().parent
EVENTS_SQL = """
SELECT
    'e' || i AS event_id,
    'u' || (i % 50000) AS user_id,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 15) AS event_time,
    CASE WHEN i % 4 = 0 THEN 'order' ELSE 'visit' END AS event_type,
    CASE WHEN i % 4 = 0 THEN CAST((i % 9000) / 100 + 1 AS DECIMAL(10, 2)) END AS amount,
    CASE WHEN i % 3 = 0 THEN 'app' ELSE 'shop' END AS product_id
FROM range($rows) AS r(i)
"""
COLUMNS = {"user_id": "user_id", "event_time": "event_time"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_once(source: SourceSettings) -> float:
    """Seconds to open the source and hold every row in a DuckDB temp table."""
    started = time.perf_counter()
    with duckdb.connect() as con:
        opened = open_source(con, source, "src_events_raw")
        if opened.format != "postgres":
            con.execute("CREATE TEMP TABLE events AS SELECT * FROM src_events_raw")
        rows = con.execute(
            "SELECT count(*) FROM "
            + ("src_events_raw" if opened.format == "postgres" else "events")
        ).fetchall()[0][0]
    elapsed = time.perf_counter() - started
    assert rows > 0
    return elapsed


@contextmanager
def s3_copy(parquet: Path):
    """The Parquet file in a bucket of moto's S3 server; yields its URL."""
    import logging

    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    saved["AWS_ENDPOINT_URL_S3"] = os.environ.get("AWS_ENDPOINT_URL_S3")
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}",
    )
    try:
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir("bench")
        fs.put(str(parquet), "bench/events.parquet")
        yield "s3://bench/events.parquet"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def postgres_copy(parquet: Path, dsn: str | None):
    """The rows as table `bench_events` in PostgreSQL; yields the DSN (None: no server)."""
    folder = None
    as_user: list[str] = []
    binaries = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if dsn is None and binaries:
        bin_dir = Path(binaries[-1]).parent
        folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        data = folder / "data"
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres"]
            + ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
            + ["-w", "-o", options, "start"],
            check=True,
            capture_output=True,
        )
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        if dsn is not None:
            import adbc_driver_postgresql.dbapi as dbapi

            with duckdb.connect() as con:
                table = con.sql(f"SELECT * FROM '{parquet}'").to_arrow_table()
            with dbapi.connect(dsn) as connection, connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS bench_events")
                cursor.adbc_ingest("bench_events", table, mode="create")
                connection.commit()
        yield dsn
    finally:
        if folder is not None:
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast"]
                + ["stop"],
                capture_output=True,
            )
            shutil.rmtree(folder, ignore_errors=True)


def measure(rows: int, repeat: int, dsn: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp:
        parquet = Path(tmp) / "events.parquet"
        with duckdb.connect() as con:
            con.execute(f"COPY ({EVENTS_SQL}) TO '{parquet}'", {"rows": rows})
        sources = {"parquet": SourceSettings(str(parquet), "auto", COLUMNS, "[source.events]")}
        with s3_copy(parquet) as url, postgres_copy(parquet, dsn) as pg_dsn:
            sources["s3"] = SourceSettings(url, "auto", COLUMNS, "[source.events]")
            if pg_dsn is not None:
                sources["postgres"] = SourceSettings(
                    "postgres table bench_events",
                    "postgres",
                    COLUMNS,
                    "[source.events]",
                    dsn=pg_dsn,
                    table="bench_events",
                )
            times: dict[str, list[float]] = {name: [] for name in sources}
            for _ in range(repeat):  # interleaved, so a noisy moment hits every contender
                for name, source in sources.items():
                    times[name].append(read_once(source))
        size = parquet.stat().st_size
    return {
        "rows": rows,
        "parquet_bytes": size,
        "repeat": repeat,
        "median_seconds": {name: statistics.median(t) for name, t in times.items()},
        "seconds": times,
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "duckdb": duckdb.__version__,
    }


def section(results: list[dict]) -> str:
    rows = [
        "## Source reads",
        "",
        "`python benchmarks/source_reads.py --rows N --repeat 5` (this section is written",
        "by that script): N events (user, time, type, amount, product, event id) read",
        "with retention's own source reader into a DuckDB temp table, from one local",
        "Parquet file, from the same file on an S3-compatible server (moto's, on",
        "127.0.0.1: a Python HTTP server, so an upper bound for a local store, with no",
        "network latency) and from a PostgreSQL table (ADBC, Arrow record batches).",
        "Medians of the repeats, interleaved, each on a fresh connection.",
        "",
        "| rows | Parquet size | local Parquet | S3 (moto) | PostgreSQL | repeats | measured |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(results, key=lambda r: r["rows"]):
        m = r["median_seconds"]
        postgres = f"{m['postgres']:.2f} s" if "postgres" in m else "not measured"
        rows.append(
            f"| {r['rows']:,} | {r['parquet_bytes'] / 2**20:.1f} MiB | {m['parquet']:.2f} s "
            f"| {m['s3']:.2f} s | {postgres} | {r['repeat']} | {r['measured_at']} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dsn", help="an existing PostgreSQL server (default: start one)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    result = measure(args.rows, args.repeat, args.dsn)
    print(json.dumps(result["median_seconds"] | {"rows": args.rows}))
    record_result(args.out, "source_reads", str(args.rows), result, section, not args.no_readme)


if __name__ == "__main__":
    main()
