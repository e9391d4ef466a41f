"""The floor: the cheapest per-user aggregate DuckDB can compute from the file.

One GROUP BY over the raw Parquet file into a temp table of an in-memory
database, nothing else: no staging, no dedup, no features. `retention run`'s
features stage cannot be faster than this, so the ratio of the two says how
much room is left. Prints one JSON line: the query's own seconds and rows.

Example:
    python benchmarks/floor.py data/events.parquet
"""

from __future__ import annotations

import argparse
import json
import time

import duckdb

QUERY = """
CREATE TEMP TABLE user_floor AS
SELECT product_id, user_id, count(*) AS events, min(event_time) AS first_seen_at,
       max(event_time) AS last_seen_at, sum(amount) AS amount_total
FROM read_parquet($path)
GROUP BY ALL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", help="Parquet event log")
    args = parser.parse_args()
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(QUERY, {"path": args.events})
    seconds = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM user_floor").fetchall()[0][0]
    print(json.dumps({"query_seconds": round(seconds, 4), "rows": rows}))


if __name__ == "__main__":
    main()
