"""A JSON reader where a broken line costs that line, never the file.

The contacts source may be JSON lines (one object per line) or one JSON array
of objects. DuckDB's reader refuses the whole file at the first broken line
(or, told to ignore errors, drops the line without a trace), and a contacts
file decides who may be emailed: so, as for CSV (csv_lines.py), the lines are
read here and a line that does not parse as one object comes back with its
text, for the caller to suppress every address it names. A JSON array that
does not parse cannot be split into records at all, so every line of it is
malformed.

Values become text the way DuckDB casts JSON to VARCHAR: strings as they are,
numbers and true / false as written, null as NULL, nested values as compact
JSON. Blank lines are not records.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa

from retention.config.pipeline_file import SourceSettings
from retention.sources.csv_lines import LINE_BREAK, PLAIN, CsvRead, read_text

MALFORMED_JSON = "not valid JSON"
NOT_AN_OBJECT = "not a JSON object"
BROKEN_ARRAY = "the JSON array does not parse, so no line of it can be trusted"
# the quoted strings and the bare numbers of a broken line: its possible values
VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"|(\+?[0-9][0-9 ()./-]*[0-9])')


def read_json_files(files: list[str], source: SourceSettings = PLAIN) -> CsvRead:
    """Every record of the files as text columns (matched by name across files), and
    every line that is not one object with its text and reason. When no line is a
    record, the source's mapped columns stand in (all NULL), so the run goes on with
    every line suppressed rather than failing on a missing column."""
    columns: list[str] = []
    rows: list[tuple[int, int, dict | None, str | None, str | None]] = []
    for file_index, path in enumerate(files):
        text = read_text(path, source)
        for line_number, record, problem, raw in _records(text):
            if record is not None:
                columns += [name for name in record if name not in columns]
            rows.append((file_index, line_number, record, problem, raw))
    if not columns:  # not one record read: the mapped columns are empty, every line broken
        columns = list(dict.fromkeys(source.columns.values()))
    table = pa.table(
        {
            "file_index": pa.array([r[0] for r in rows], pa.int32()),
            "file_row": pa.array([r[1] for r in rows], pa.int64()),
            **{
                name: pa.array([_text((r[2] or {}).get(name)) for r in rows], pa.string())
                for name in columns
            },
            "malformed_reason": pa.array([r[3] for r in rows], pa.string()),
            "source_text": pa.array([r[4] for r in rows], pa.string()),
        }
    )
    return CsvRead(columns, table, delimiter=",")


def json_fields(text: str) -> list[str]:
    """The values a broken line seems to hold: its quoted strings (keys too; they match
    no address) and its bare numbers (phones written as numbers)."""
    fields = []
    for quoted, number in VALUE.findall(text):
        value = _unescape(quoted) if quoted else number
        if value.strip():
            fields.append(value.strip())
    return fields


def _records(text: str):
    """(line number, record or None, problem or None, raw text or None) per record."""
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except ValueError:
            records = None
        if isinstance(records, list):
            for number, record in enumerate(records, start=1):
                if isinstance(record, dict):
                    yield number, record, None, None
                else:
                    yield number, None, NOT_AN_OBJECT, json.dumps(record)
            return
        for number, line in enumerate(LINE_BREAK.split(text), start=1):
            if line.strip() not in ("", "[", "]"):
                yield number, None, BROKEN_ARRAY, line
        return
    for number, line in enumerate(LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            yield number, None, MALFORMED_JSON, line
            continue
        if isinstance(record, dict):
            yield number, record, None, None
        else:
            yield number, None, NOT_AN_OBJECT, line


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _unescape(quoted: str) -> str:
    try:
        return json.loads(f'"{quoted}"')
    except ValueError:
        return quoted
