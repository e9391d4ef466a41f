"""A CSV reader where a broken line costs that line, never the file.

Contact and suppression files decide who may be emailed, so none of their
rows may vanish and none may fail the run: a CRM export with one stray quote,
one row with a field too many, or mixed line endings must still be read, and
the broken lines must come back (with their text) so that the caller can
suppress whatever addresses they carry. DuckDB's reader drops such lines, or
refuses the whole file when its sniffer cannot settle on a dialect, so these
small files are read here instead.

Rules: the first line is the header (unless the source says `header =
false`: then the columns are `column_names`, or column0, column1, ... by
position); the delimiter is the source's, or else the one of `,` `;` tab `|`
that the first line uses most ("whitespace": runs of spaces and tabs, no
quoting); lines end with CRLF, LF or CR, in any mix. A line whose quotes are
unbalanced is joined with the following lines (a quoted field may hold a line
break) only when that gives a record with the header's field count; otherwise
the line alone is malformed. Text is decoded with the source's encoding;
undecodable bytes become U+FFFD (so such a value never matches a consent
spelling or a valid address). Object-store URLs are read through fsspec.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
from dataclasses import dataclass

import pyarrow as pa

from retention.config.pipeline_file import SourceSettings
from retention.config.source_keys import WHITESPACE, is_url
from retention.sources.object_store import open_bytes

DELIMITERS = (",", ";", "\t", "|")
LINE_BREAK = re.compile(r"\r\n|\n|\r")
MAX_JOINED_LINES = 50  # a quoted field with more line breaks than this is not a contact
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
CODECS = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}
PLAIN = SourceSettings(path="", format="csv", columns={}, section="")


@dataclass(frozen=True)
class Dialect:
    """How one file's fields are split: the delimiter ("whitespace" too) and the quote
    character ("" for none)."""

    delimiter: str
    quote: str


@dataclass(frozen=True)
class CsvRead:
    """Every line of the files: well-formed records as text columns, broken lines as text.

    `table` has file_index, file_row (the record's first line number), one
    text column per header name (NULL on malformed lines), `malformed_reason`
    (NULL when the line is fine) and `source_text` (the raw text of a malformed
    line). `columns` are the header names, in the first file's order.
    """

    columns: list[str]
    table: pa.Table
    delimiter: str


def read_csv_files(files: list[str], source: SourceSettings = PLAIN) -> CsvRead:
    """Read every file (one header each; columns are matched by name) as the source's
    delimiter, quote, encoding, header and column_names say."""
    columns: list[str] = []
    records: dict[str, list] = {"file_index": [], "file_row": []}
    values: dict[str, list[str | None]] = {}
    problems: list[str | None] = []
    texts: list[str | None] = []
    delimiter = ","
    for file_index, path in enumerate(files):
        lines = LINE_BREAK.split(read_text(path, source))
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            continue
        delimiter = source.delimiter or _delimiter(lines[0])
        dialect = Dialect(delimiter, '"' if source.quote is None else source.quote)
        header = _header(lines[0], dialect, source)
        for name in header:
            if name not in values:
                columns.append(name)
                values[name] = [None] * len(problems)
        for line_number, fields, problem, text in _records(
            lines, header, dialect, 1 if source.header else 0
        ):
            records["file_index"].append(file_index)
            records["file_row"].append(line_number)
            problems.append(problem)
            texts.append(text)
            for name in columns:
                values[name].append(None)
            if fields is not None:
                for name, value in zip(header, fields, strict=True):
                    values[name][-1] = value
    table = pa.table(
        {
            "file_index": pa.array(records["file_index"], pa.int32()),
            "file_row": pa.array(records["file_row"], pa.int64()),
            **{name: pa.array(values[name], pa.string()) for name in columns},
            "malformed_reason": pa.array(problems, pa.string()),
            "source_text": pa.array(texts, pa.string()),
        }
    )
    return CsvRead(columns, table, delimiter)


def split_fields(text: str, delimiter: str) -> list[str]:
    """The non-empty fields of one line as best they can be told, for a malformed line's
    values: split on the delimiter and on line breaks, quotes and surrounding spaces removed."""
    fields = (
        field.strip().strip('"').strip()
        for part in LINE_BREAK.split(text)
        for field in (part.split() if delimiter == WHITESPACE else part.split(delimiter))
    )
    return [field for field in fields if field]


def _header(line: str, dialect: Dialect, source: SourceSettings) -> list[str]:
    """The column names: column_names, the header line's, or column0... by position."""
    if source.column_names:
        return list(source.column_names)
    fields = _split(line, dialect)
    if source.header:
        return [name.strip() for name in fields]
    return [f"column{i}" for i in range(len(fields))]


def _records(lines: list[str], header: list[str], dialect: Dialect, start: int):
    """(line number, fields or None, problem or None, raw text or None) per record,
    from the line at index `start` (past the header, if any)."""
    width = len(header)
    delimiter, quote = dialect.delimiter, dialect.quote
    index = start
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
        if not line.strip():
            continue  # blank lines hold nobody
        if not quote or quote not in line or delimiter == WHITESPACE:
            fields = line.split() if delimiter == WHITESPACE else line.split(delimiter)
            if len(fields) == width:
                yield number, fields, None, None
            else:
                yield number, None, _count_problem(len(fields), width), line
            continue
        joined, used = _balanced(lines, index - 1, quote)
        try:
            fields = _split(joined, dialect)
        except csv.Error as exc:
            yield number, None, f"unreadable: {exc}", line
            continue
        if len(fields) == width:
            index += used - 1
            yield number, fields, None, None
        elif used > 1:
            yield number, None, "unbalanced quote", line
        else:
            yield number, None, _count_problem(len(fields), width), line


def _balanced(lines: list[str], start: int, quote: str) -> tuple[str, int]:
    """The line at `start`, joined with following ones until its quotes balance."""
    text = lines[start]
    used = 1
    while text.count(quote) % 2 and used < MAX_JOINED_LINES and start + used < len(lines):
        text += "\n" + lines[start + used]
        used += 1
    return text, used


def _count_problem(fields: int, width: int) -> str:
    return f"{fields} fields where the header has {width}"


def _split(text: str, dialect: Dialect) -> list[str]:
    if dialect.delimiter == WHITESPACE:
        return text.split()
    if not dialect.quote:
        return text.split(dialect.delimiter)
    return next(
        csv.reader([text], delimiter=dialect.delimiter, quotechar=dialect.quote, strict=True)
    )


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_text(path: str, source: SourceSettings) -> str:
    """A file's text in the source's encoding (decompressed; URLs through fsspec)."""
    codec = CODECS[source.encoding]
    if is_url(path):
        return open_bytes(source, path).decode(codec, errors="replace")
    for suffix, opener in OPENERS.items():
        if path.lower().endswith(suffix):
            with opener(path, "rb") as handle:
                data = handle.read()
            break
    else:
        with open(path, "rb") as handle:
            data = handle.read()
    return data.decode(codec, errors="replace")
