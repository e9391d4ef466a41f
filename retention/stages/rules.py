"""Ordered rules -> one SQL CASE: a name and a reason for every row.

Used by the RFM segment map and the tier policy. A rule is a DuckDB boolean
expression written by the pipeline's owner; it is checked against the real
columns before any work starts, must be a single expression (no `;`, no
second statement), and runs inside a read-only SELECT. A rule whose value is
NULL (say, `clv >= clv_p90` for a user without CLV) does not match.

Quantile thresholds: a rule may name `<column>_p<NN>` (e.g. `clv_p90`); the
inputs then get that column, the NN-th percentile of <column> per product
over the users who have a value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from retention.config.defaults import Rule
from retention.errors import ConfigError
from retention.stages.rule_safety import rule_problem
from retention.warehouse.sql_files import quote_identifier, quote_literal

IDENTIFIER = re.compile(r'"([^"]+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b')
QUANTILE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)_p([0-9]{1,2})$")
NUMERIC_TYPES = ("DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "HUGEINT", "DECIMAL")


def referenced_columns(rule: str, columns: Sequence[str]) -> list[str]:
    """Columns a rule names, in order of first mention (string literals skipped)."""
    by_lower = {c.lower(): c for c in columns}
    found: list[str] = []
    for name in _identifiers(rule):
        column = by_lower.get(name.lower())
        if column and column not in found:
            found.append(column)
    return found


def _identifiers(rule: str) -> list[str]:
    """Names a rule mentions, quoted or bare, outside its string literals."""
    without_strings = re.sub(r"'(?:[^']|'')*'", "''", rule)
    return [quoted or bare for quoted, bare in IDENTIFIER.findall(without_strings)]


def quantile_columns(rules: Sequence[Rule], column_types: dict[str, str]) -> list[tuple[str, int]]:
    """(base column, percentile) pairs the rules ask for, like ("clv", 90) for clv_p90."""
    wanted: list[tuple[str, int]] = []
    numeric = {c.lower(): c for c, t in column_types.items() if t.startswith(NUMERIC_TYPES)}
    for rule in rules:
        for name in _identifiers(rule.rule):
            match = QUANTILE.match(name)
            if match and match.group(1).lower() in numeric:
                pair = (numeric[match.group(1).lower()], int(match.group(2)))
                if pair not in wanted:
                    wanted.append(pair)
    return wanted


def quantile_select(pairs: Sequence[tuple[str, int]]) -> str:
    """Select-list of per-product percentiles, for a GROUP BY product_id query."""
    selected = []
    for base, pct in pairs:
        name = quote_identifier(f"{base}_p{pct}")
        selected.append(f"quantile_cont({quote_identifier(base)}, {pct / 100}) AS {name}")
    return ", ".join(selected)


def check_rules(
    con: duckdb.DuckDBPyConnection, relation: str, rules: Sequence[Rule], where: str
) -> None:
    """Fail with one sentence if a rule does not parse or names an unknown column."""
    columns = [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]
    for rule in rules:
        unsafe = rule_problem(con, rule.rule)
        if unsafe:
            raise ConfigError(
                f'{where} "{rule.name}": rule "{rule.rule}" cannot be used ({unsafe}); a rule '
                "is an expression over the columns: operators, comparisons, CASE, casts and "
                "plain functions such as coalesce, round or date_diff"
            )
        probe = f"SELECT CAST(({rule.rule}) AS BOOLEAN) AS matches FROM {relation} LIMIT 0"
        try:
            statements = con.extract_statements(f"SELECT {rule.rule}")
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                raise duckdb.ParserException("a rule must be one expression, not statements")
            con.execute(probe)
        except duckdb.Error as exc:
            problem = str(exc).strip().splitlines()[0]
            raise ConfigError(
                f'{where} "{rule.name}": rule "{rule.rule}" cannot be used ({problem}); '
                f"columns are: {', '.join(columns)}"
            ) from None


def case_sql(
    rules: Sequence[Rule], column_types: dict[str, str], format_value=None
) -> tuple[str, str]:
    """(name expression, reason expression) for the ordered rules; first match wins.

    The reason names the rule and the values of the columns it mentions, e.g.
    `core: clv >= clv_p90 AND p_alive >= 0.5 [clv=812.4, clv_p90=633.1, p_alive=0.91]`.
    `format_value(column, type)` writes a value as that text (the Spark engine
    passes its own, which prints numbers as DuckDB does).
    """
    names, reasons = [], []
    for rule in rules:
        condition = f"WHEN ({rule.rule}) THEN "
        names.append(condition + quote_literal(rule.name))
        reasons.append(condition + _reason(rule, column_types, format_value or _format_value))
    return "CASE " + " ".join(names) + " END", "CASE " + " ".join(reasons) + " END"


def _reason(rule: Rule, column_types: dict[str, str], format_value) -> str:
    label = quote_literal(f"{rule.name}: {rule.rule}")
    shown = [
        f"{quote_literal(column + '=')} || {format_value(column, column_types[column])}"
        for column in referenced_columns(rule.rule, list(column_types))
    ]
    if not shown:
        return label
    return f"{label} || ' [' || concat_ws(', ', {', '.join(shown)}) || ']'"


def _format_value(column: str, column_type: str) -> str:
    value = quote_identifier(column)
    if column_type in ("DOUBLE", "FLOAT") or column_type.startswith("DECIMAL"):
        value = f"round({value}, 3)"
    return f"coalesce(CAST({value} AS VARCHAR), 'NULL')"
