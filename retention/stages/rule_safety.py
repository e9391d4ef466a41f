"""Rules are expressions over a user's columns, nothing more.

Tier rules, RFM segment rules and playbook filters are SQL written in the
pipeline file, and they run inside the run's own connection, which can read
and write files. So before a rule is ever executed, it is parsed by DuckDB
(`json_serialize_sql` of `SELECT (<rule>)`) and its expression tree is walked:
only column references, literals, operators, comparisons, CASE, casts and an
allow-list of plain scalar functions may appear. Subqueries, table functions
(`read_text`, `read_csv`), settings and logging functions, window functions
and anything else are refused with the function or construct named.
"""

from __future__ import annotations

import json

import duckdb

ALLOWED_CLASSES = frozenset(
    {
        "BETWEEN",
        "CASE",
        "CAST",
        "COLUMN_REF",
        "COMPARISON",
        "CONJUNCTION",
        "CONSTANT",
        "FUNCTION",
        "OPERATOR",
        "TYPE",
    }
)
ALLOWED_FUNCTIONS = frozenset(
    {
        # arithmetic and text operators as DuckDB names them
        "+", "-", "*", "/", "//", "%", "^", "**", "||",
        "~~", "!~~", "~~*", "!~~*", "~~~", "!~~~",
        # numbers
        "abs", "round", "floor", "ceil", "ceiling", "sign", "sqrt", "cbrt", "power", "pow",
        "exp", "ln", "log", "log2", "log10", "least", "greatest", "isnan", "isinf",
        "isfinite", "trunc", "even",
        # text
        "lower", "upper", "lcase", "ucase", "length", "strlen", "trim", "ltrim", "rtrim",
        "starts_with", "ends_with", "contains", "prefix", "suffix", "substring", "substr",
        "left", "right", "concat", "concat_ws", "replace", "regexp_matches",
        "regexp_full_match", "like_escape", "ilike_escape", "strpos", "instr", "position",
        # dates
        "date_diff", "datediff", "date_sub", "datesub", "date_part", "datepart",
        "date_trunc", "datetrunc", "year", "month", "day", "dayofweek", "dayofyear",
        "week", "hour", "minute", "epoch",
        # nulls and conditions
        "coalesce", "ifnull", "nullif", "if",
    }
)  # fmt: skip


def rule_problem(con: duckdb.DuckDBPyConnection, rule: str) -> str | None:
    """Why `rule` may not be used (None: a plain expression, or one that does not
    parse, which the caller reports with its syntax error before running anything)."""
    serialized = con.execute("SELECT json_serialize_sql($sql)", {"sql": f"SELECT ({rule})"})
    document = json.loads(serialized.fetchall()[0][0])
    if document.get("error"):
        return None  # not one expression: the caller's parse check names the syntax error
    statements = document["statements"]
    if len(statements) != 1:
        return "a rule must be one expression, not statements"
    node = statements[0]["node"]
    if node.get("from_table", {}).get("type") != "EMPTY" or len(node["select_list"]) != 1:
        return "a rule must be one expression"
    if (
        node.get("where_clause")
        or node.get("group_expressions")
        or node.get("cte_map", {}).get("map")
    ):
        return "a rule must be one expression"
    return _walk(node["select_list"][0])


def _walk(expression: dict) -> str | None:
    kind = expression.get("class")
    if kind not in ALLOWED_CLASSES:
        name = {
            "SUBQUERY": "a subquery",
            "WINDOW": "a window function",
            "STAR": "*",
            "PARAMETER": "a parameter",
        }.get(kind, f"a {str(kind).lower()} expression")
        return f"{name} is not allowed in a rule"
    if kind == "FUNCTION":
        function = expression.get("function_name", "")
        if function.lower() not in ALLOWED_FUNCTIONS or expression.get("schema"):
            return f"the function {function}() is not allowed in a rule"
    for child in _children(expression):
        problem = _walk(child)
        if problem:
            return problem
    return None


def _children(expression: dict) -> list[dict]:
    """Every nested expression under any key: one, a list of them, or CASE's
    list of {when_expr, then_expr} pairs."""
    found = []
    for value in expression.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                continue
            if "class" in item:
                found.append(item)
            else:
                found += [v for v in item.values() if isinstance(v, dict) and "class" in v]
    return found
