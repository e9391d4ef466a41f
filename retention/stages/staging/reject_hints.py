"""What the reject gate's error teaches: the top reasons, an example, the fix.

A run that rejects most of its rows nearly always has one cause the pipeline
file can fix: dates written "06/30/2024", amounts written "12,50", a file
split on the wrong character. The error names the reason, shows a raw value,
names the setting when the values make it recognisable, and ends with a
command that lists every reason, so the person reading the log at 3 a.m.
does not need to know the warehouse to get going.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import duckdb

from retention.warehouse.sql_files import run_sql

TOP_REASONS = 3
SAMPLES = 50  # distinct raw values per reason the hints are judged on
EXAMPLE_CHARS = 60
# Day orders people write, with and without a time of day; the first that reads
# the most sample values is suggested (month first before day first on a tie).
DATE_FORMATS = (
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%y",
)
TIME_FORMATS = ("", " %H:%M", " %H:%M:%S")
# "12,50", "1.234,50", "1 234,50": a decimal comma (optionally with grouping).
DECIMAL_COMMA = re.compile(r"[+-]?[$€£¥]?\s*[0-9]{1,3}([. ]?[0-9]{3})*,[0-9]+\s*[$€£¥]?")
DELIMITERS = {";": '";"', "\t": '"\\t"', "|": '"|"'}


def reject_summary(
    con: duckdb.DuckDBPyConnection, run_id: int, pipeline_path: Path, warehouse: Path
) -> str:
    """Lines for the reject gate's error: top reasons with an example and a fix, then a command."""
    reasons = _reasons(con, run_id)
    lines = [
        _reason_line(con, reason, column, rows, samples, pipeline_path)
        for reason, column, rows, samples in reasons[:TOP_REASONS]
    ]
    if len(reasons) > TOP_REASONS:
        rest = sum(rows for _, _, rows, _ in reasons[TOP_REASONS:])
        lines.append(f"  and {len(reasons) - TOP_REASONS} more reasons ({_rows(rest)})")
    lines.append(f"see every reason with: {reasons_command(warehouse, run_id)}")
    return "\n".join(lines)


def reasons_command(warehouse: Path, run_id: int) -> str:
    """A shell command that lists a run's reject reasons with their counts."""
    sql = (
        f"SELECT reason, count(*) FROM rejected_events WHERE run_id = {int(run_id)} GROUP BY reason"
    )
    return f'retention sql {shlex.quote(str(warehouse))} "{sql}"'


def _reasons(con: duckdb.DuckDBPyConnection, run_id: int) -> list[tuple[str, str, int, list[str]]]:
    """(reason, column, rows, sample values), the most frequent reason first."""
    found: dict[str, tuple[str, str, int, list[str]]] = {}
    rows = run_sql(con, "staging/reject_reasons.sql", {"run_id": run_id, "samples": SAMPLES})
    for reason, column, count, value in rows.fetchall():
        entry = found.setdefault(reason, (reason, column, count, []))
        if value is not None:
            entry[3].append(value)
    return list(found.values())


def _reason_line(
    con: duckdb.DuckDBPyConnection,
    reason: str,
    column: str,
    rows: int,
    samples: list[str],
    pipeline_path: Path,
) -> str:
    what = "line" if column == "source_text" else column
    example = f"e.g. {what} {_shown(samples[0])}" if samples else f"{what} empty"
    line = f"  {reason}: {_rows(rows)}, {example}"
    fix = hint(con, reason, samples)
    if fix:
        line += f"; set {fix} under [source.events] in {pipeline_path}"
    return line


def hint(con: duckdb.DuckDBPyConnection, reason: str, samples: list[str]) -> str | None:
    """The pipeline setting (`key = value`) that would read these values, if one is recognisable."""
    if not samples:
        return None
    delimiter = _delimiter(samples)
    if delimiter:
        return f"delimiter = {DELIMITERS[delimiter]}"
    if reason == "unparseable_event_time":
        return _time_format(con, samples)
    if reason == "unparseable_amount" and _most(
        samples, lambda v: DECIMAL_COMMA.fullmatch(v.strip())
    ):
        return 'decimal_separator = ","'
    return None


def _time_format(con: duckdb.DuckDBPyConnection, samples: list[str]) -> str | None:
    """The strptime format that reads the most samples (at least half), with any equal rival."""
    scores = {}
    for date_format in DATE_FORMATS:
        for time_format in TIME_FORMATS:
            candidate = date_format + time_format
            params = {"values": samples, "format": candidate}
            scores[candidate] = run_sql(
                con, "staging/reject_format_matches.sql", params
            ).fetchall()[0][0]
    best = max(scores.values())
    if best * 2 < len(samples):
        return None
    first, *rivals = [candidate for candidate, score in scores.items() if score == best]
    text = f"event_time_format = {json.dumps(first)}"
    if rivals:
        text += f" (or {json.dumps(rivals[0])}: these values read either way)"
    return text


def _delimiter(samples: list[str]) -> str | None:
    """A field delimiter most values hold (and no comma): the file was split on the wrong one."""
    for delimiter in DELIMITERS:
        if _most(samples, lambda value, d=delimiter: d in value and "," not in value):
            return delimiter
    return None


def _most(samples: list[str], test: Callable[[str], object]) -> bool:
    """Whether more than half of the samples pass `test`."""
    return sum(1 for value in samples if test(value)) * 2 > len(samples)


def _shown(value: str) -> str:
    text = value if len(value) <= EXAMPLE_CHARS else value[: EXAMPLE_CHARS - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")
