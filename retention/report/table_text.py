"""A query result as an aligned text table for a terminal (`retention sql`).

Rounding is for the eye only: a share shows as 0.04489, not
0.04488756894357234, and money as 1,234.57; csv, json and parquet output
keep every digit. Long results are cut at the row limit, and the footer
says so and how to see the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import pyarrow as pa

MAX_CELL = 60  # characters of one cell; longer text is cut with an ellipsis


def render_table(table: pa.Table, limit: int, more: bool) -> str:
    """`table` (at most `limit` rows shown; `more`: the query returned more than that)."""
    headers = list(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    numeric = [_is_number(table.schema.field(i).type) for i in range(table.num_columns)]
    rows = [[_cell(value) for value in row] for row in zip(*columns, strict=True)]
    widths = [
        max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    text = [line(headers), "  ".join("-" * width for width in widths)]
    text += [line(row) for row in rows]
    shown = f"{len(rows):,} row" + ("" if len(rows) == 1 else "s")
    if more:
        text.append(f"({shown} shown, the first {limit:,}; --limit 0 shows all)")
    else:
        text.append(f"({shown})")
    return "\n".join(text) + "\n"


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal):
        return _number(float(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, list | dict | tuple):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = str(value)
    text = text.replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _number(value: float) -> str:
    """Two decimals from 1 up (with thousands separators), four significant digits below."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0 or abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"
