"""The contacts stage's email and phone checks: one library call per value, then in bulk.

Builds N contacts with the sample generator's value makers (seeded: untidy
emails and phones of ten countries, in national, international, E.164 and
hand-typed forms, some invalid), one user each, and times in the same run:

- old: `library_check_emails` and `library_check_phones` over the distinct
  values (one email-validator or phonenumbers call per value, as before);
- new: `check_emails` and `check_phones` over the same values;
- the whole contacts stage: `load_contacts` of the CSV into a fresh DuckDB
  connection, as the pipeline calls it.

Medians of --repeat runs, interleaved (the old path runs --old-repeat times,
once by default: about 40 s a million). The old and new outputs are compared
value for value. Writes `<out>/contact_checks/<contacts>.json` and the
"Contact checks" section of benchmarks/README.md.

    python benchmarks/contact_checks.py --contacts 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from machine import describe_machine
from readme_sections import record_result

from retention.config.pipeline_file import CONTACT_COLUMNS, SourceSettings
from retention.sample import contacts as sample_contacts
from retention.stages.contacts import validation
from retention.stages.contacts.fast_phones import fast_phones
from retention.stages.contacts.loading import load_contacts

HERE = Path(__file__).resolve().parent
SEED = 20240630
BATCH = 200_000


def make_contacts(count: int, seed: int) -> list[list[str]]:
    """`count` contact rows, one user each, every one with an email and a phone."""
    book = sample_contacts.PhoneBook.build(seed)
    rng = np.random.default_rng(seed)
    users: dict[str, list[str]] = {}
    first = 0
    while len(users) < count:
        handle = io.StringIO()
        writer = sample_contacts.header(handle)
        ids = np.array([f"u{first + i}" for i in range(BATCH)])
        sample_contacts.write_batch(writer, rng, book, first, ids, np.zeros(BATCH, np.int64))
        for row in list(csv.reader(io.StringIO(handle.getvalue())))[1:]:
            if row[1].strip() and row[2].strip():
                users[row[0]] = row  # a user's newer row comes second
        first += BATCH
    return list(users.values())[:count]


def distinct_values(rows: list[list[str]]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """What the stage checks: each trimmed email once, each (phone, region) once,
    the region being the row's country unless the phone starts with +."""
    emails = sorted({row[1].strip() for row in rows})
    phones = set()
    for row in rows:
        phone, country = row[2].strip(), row[3].strip().upper() or None
        phones.add((phone, None if phone.startswith("+") else country))
    return emails, sorted(phones, key=str)


def timed(function, *args, **kwargs) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result): on a shared machine
    the CPU figure shows the work when other jobs stretch the wall time."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def stage_seconds(path: Path) -> tuple[float, float]:
    source = SourceSettings(str(path), "auto", {c: c for c in CONTACT_COLUMNS}, "[source.contacts]")
    with duckdb.connect() as con:
        wall, cpu, counts = timed(load_contacts, con, source, run_id=1)
    assert counts.users > 0
    return wall, cpu


def bulk_shares(emails: list[str], phones: list[tuple[str, str | None]]) -> dict:
    """Share of the distinct values the bulk path answers without the libraries."""
    texts, regions = zip(*phones, strict=True)
    answered, _, _ = fast_phones(
        pa.array(texts), pa.array(regions, pa.string()), validation.PHONE_TYPES
    )
    return {
        "emails": float(validation._plain_emails(pa.array(emails)).mean()),
        "phones": float(answered.mean()),
    }


def measure(count: int, repeat: int, old_repeat: int, seed: int) -> dict:
    rows = make_contacts(count, seed)
    emails, phones = distinct_values(rows)
    times: dict[str, list[float]] = {}

    def record(name: str, wall: float, cpu: float) -> None:
        times.setdefault(name, []).append(wall)
        times.setdefault(f"{name}_cpu", []).append(cpu)

    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as folder:
        path = Path(folder) / "contacts.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows([sample_contacts.COLUMNS, *rows])
        for run in range(repeat):  # interleaved, so a noisy moment hits every path
            if run < old_repeat:
                *email_times, old = timed(validation.library_check_emails, emails)
                *phone_times, old_phone_table = timed(validation.library_check_phones, phones)
                record("old", *(a + b for a, b in zip(email_times, phone_times, strict=True)))
            *email_times, new = timed(validation.check_emails, emails)
            *phone_times, new_phone_table = timed(validation.check_phones, phones)
            record("new_emails", *email_times)
            record("new_phones", *phone_times)
            record("new", *(a + b for a, b in zip(email_times, phone_times, strict=True)))
            record("stage", *stage_seconds(path))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "contacts": count,
        "distinct_emails": len(emails),
        "distinct_phones": len(phones),
        "repeat": repeat,
        "old_repeat": min(old_repeat, repeat),
        "median_seconds": medians,
        "seconds": times,
        "speedup": medians["old"] / medians["new"],
        "bulk_share": bulk_shares(emails, phones),
        "identical": {"emails": new.equals(old), "phones": new_phone_table.equals(old_phone_table)},
        "machine": describe_machine(),
        "versions": {
            name: metadata.version(name) for name in ("email-validator", "phonenumbers", "pyarrow")
        },
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
    }


def section(results: list[dict]) -> str:
    lines = [
        "## Contact checks",
        "",
        "`python benchmarks/contact_checks.py --contacts N --repeat 3` (this section is",
        "written by that script): N contacts from the sample generator's value makers",
        "(one user each, every one with an email and a phone: untidy, ten countries,",
        "national, international, E.164 and hand-typed spellings, some invalid). The old",
        "path calls email-validator or phonenumbers once per distinct value; the new one",
        "(`check_emails`, `check_phones`) answers plain values a column at a time with",
        "the libraries' own rules and asks the libraries about the rest. Both run over",
        "the same distinct values in the same run, and their outputs are compared value",
        "for value. The contacts stage is `load_contacts` of the CSV into a fresh DuckDB",
        "connection (read, SQL, checks, consent, suppressions), with the new path.",
        "Medians of the runs, wall time with this process's CPU time in brackets (the",
        "machine is shared: the load average says how busy it was); the old path ran",
        "as many times as `old runs` says.",
        "",
        "| contacts | distinct emails / phones | old path | new path | speed-up "
        "| contacts stage | bulk-answered emails / phones | identical | runs (old runs) "
        "| measured |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in sorted(results, key=lambda r: r["contacts"]):
        m, share = r["median_seconds"], r["bulk_share"]
        same = "yes" if all(r["identical"].values()) else "NO"
        lines.append(
            f"| {r['contacts']:,} | {r['distinct_emails']:,} / {r['distinct_phones']:,} "
            f"| {m['old']:.1f} s ({m['old_cpu']:.1f}) | {m['new']:.2f} s ({m['new_cpu']:.2f}) "
            f"| {r['speedup']:.0f}x | {m['stage']:.1f} s ({m['stage_cpu']:.1f}) "
            f"| {share['emails']:.1%} / {share['phones']:.1%} | {same} "
            f"| {r['repeat']} ({r['old_repeat']}) | {r['measured_at']} |"
        )
    latest = max(results, key=lambda r: r["measured_at"])
    m = latest["median_seconds"]
    lines += [
        "",
        f"New path at {latest['contacts']:,} contacts: emails {m['new_emails']:.2f} s "
        f"({m['new_emails_cpu']:.2f}), phones {m['new_phones']:.2f} s "
        f"({m['new_phones_cpu']:.2f}); {latest['machine']['cores']} cores, load average "
        f"{latest['machine']['load_average_1m']:.1f} at the start.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-repeat", type=int, default=1, help="runs of the slow old path")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    result = measure(args.contacts, args.repeat, args.old_repeat, args.seed)
    print(json.dumps(result["median_seconds"] | {"contacts": args.contacts}))
    stem, readme = str(args.contacts), not args.no_readme
    record_result(args.out, "contact_checks", stem, result, section, readme)


if __name__ == "__main__":
    main()
