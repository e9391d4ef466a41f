"""The portable SQL subset: what one `sql/` file may use to mean the same on DuckDB and Spark.

sqlglot transpiles nearly every DuckDB construct to *some* Spark SQL without
complaint, and several of them then fail on Spark or, worse, run and give
other numbers (README, "Past one machine"). So the subset is checked on the
parsed DuckDB text, construct by construct, and each finding says what to
write instead. `transpile` turns a file that passes into Spark SQL with
named parameter markers (`$as_of` becomes `:as_of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import exp

from retention.errors import ConfigError

# Functions sqlglot does not know, and so passes through by name: only these
# exist on both engines with the same meaning.
SHARED_UNKNOWN_FUNCTIONS = frozenset({"now"})
# Functions sqlglot knows but whose Spark translation means something else.
NODE_ADVICE = {
    exp.Lambda: "list lambdas (list_filter, list_transform): use windows and GROUP BY",
    exp.Bracket: "list indexing (DuckDB counts from 1, Spark from 0): use windows",
    exp.Columns: "COLUMNS(...): name the columns",
    exp.TimeToUnix: "epoch(): Spark truncates it to whole seconds; use "
    "date_diff('microsecond', a, b)",
    exp.GenerateSeries: "range() / generate_series(): build rows with windows",
    exp.ArrayFilter: "list_filter: use windows and GROUP BY",
    exp.Transform: "list_transform: use windows and GROUP BY",
    exp.ArraySort: "list_sort: Spark sorts arrays by other rules; sort rows in a window",
    exp.ArrayMax: "list_max: aggregate rows with max()",
}
ORDERED_WINDOW_FUNCTIONS = (
    exp.RowNumber,
    exp.Rank,
    exp.DenseRank,
    exp.CumeDist,
    exp.PercentRank,
    exp.Lag,
    exp.Lead,
    exp.FirstValue,
    exp.LastValue,
    exp.NthValue,
    exp.Ntile,
)


def parse(sql: str) -> list[exp.Expression]:
    """The statements of a DuckDB SQL file (empty statements left out)."""
    return [tree for tree in sqlglot.parse(sql, read="duckdb") if tree is not None]


def problems(sql: str) -> list[str]:
    """Why a DuckDB SQL text is outside the portable subset (empty when it is inside)."""
    found: list[str] = []
    for tree in parse(sql):
        named = _named_windows(tree)
        for node in tree.walk():
            found += _node_problems(node, named)
    return sorted(set(found))


def check_portable(sql: str, what: str) -> None:
    """Raise ConfigError when `sql`, built from the pipeline owner's rules, leaves the subset;
    `what` names the rule (its section, and its name and text where known)."""
    found = problems(sql)
    if found:
        raise ConfigError(
            f"{what} is outside what DuckDB and Spark both run the same way "
            f'({"; ".join(found)}); rewrite it, or run with [run] engine = "duckdb"'
        )


def _node_problems(node: exp.Expression, named: dict[str, exp.Window]) -> list[str]:
    out = []
    for kind, advice in NODE_ADVICE.items():
        if isinstance(node, kind):
            out.append(advice)
    if isinstance(node, exp.Anonymous) and node.name.lower() not in SHARED_UNKNOWN_FUNCTIONS:
        out.append(_anonymous_advice(node.name.lower()))
    if isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("replace")):
        out.append("* EXCLUDE / REPLACE: name the columns")
    if isinstance(node, exp.Create) and str(node.args.get("kind", "")).upper() == "MACRO":
        out.append("CREATE MACRO: write the expression out, or move it to a Spark variant")
    if isinstance(node, exp.Explode) and node.expressions:
        out.append("UNNEST(..., recursive := true): select the struct fields by name")
    if isinstance(node, exp.Cast) and _is_hex_cast(node) and _md5_digits(node) is None:
        out.append(
            "('0x' || text)::bigint is NULL on Spark: only ('0x' || left(md5(...), n))::bigint "
            "with n <= 15 is rewritten (to conv()); else use a Spark variant"
        )
    if isinstance(node, exp.Div) and (literal := _decimal_literal(node)):
        out.append(
            f"a decimal literal in a division ({literal}): Spark divides as "
            "DECIMAL and rounds where DuckDB divides doubles; write it as a double (2e0)"
        )
    if isinstance(node, exp.Window) and isinstance(node.this, ORDERED_WINDOW_FUNCTIONS):
        if not _window_order(node, named):
            out.append(f"{node.this.key}() OVER without ORDER BY: order every ranking window")
    return out


# Where a literal's type reaches the division: arithmetic passes it on, a cast
# or a function call decides the type itself.
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Paren, exp.Neg)


def _decimal_literal(node: exp.Div) -> str | None:
    """The first decimal literal (2.0, not 2 or 2e0) whose type reaches this division."""
    pending = [node.this, node.expression]
    while pending:
        part = pending.pop()
        if isinstance(part, exp.Literal) and not part.is_string:
            text = part.this.lower()
            if "." in text and "e" not in text:
                return part.this
        elif isinstance(part, ARITHMETIC):
            pending += part.iter_expressions()
    return None


def _anonymous_advice(name: str) -> str:
    if name == "hash":
        return "hash() is 64-bit on DuckDB and 32-bit on Spark: join on the values themselves"
    return f"{name}(): not a function of both engines (DuckDB-only or a macro)"


def _is_hex_cast(node: exp.Cast) -> bool:
    text = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
    while isinstance(text, exp.DPipe):
        text = text.this
    return isinstance(text, exp.Literal) and text.is_string and text.this.lower() == "0x"


def _md5_digits(node: exp.Cast) -> exp.Expression | None:
    """The hex text of `('0x' || left(md5(...), n))::bigint` with 1 <= n <= 15, else None.

    Only there does Spark's conv(text, 16, 10) give DuckDB's number: md5 is
    hex digits by construction, and 15 of them (60 bits) fit a BIGINT on both.
    """
    text = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
    if not (isinstance(text, exp.DPipe) and node.to.this == exp.DataType.Type.BIGINT):
        return None
    prefix, digits = text.this, text.expression
    if not (isinstance(prefix, exp.Literal) and prefix.is_string and prefix.this.lower() == "0x"):
        return None
    if not (isinstance(digits, exp.Left) and isinstance(digits.this, exp.MD5)):
        return None
    count = digits.expression
    if not (isinstance(count, exp.Literal) and count.is_int and 1 <= int(count.this) <= 15):
        return None
    return digits


def _named_windows(tree: exp.Expression) -> dict[str, exp.Window]:
    named = {}
    for select in tree.find_all(exp.Select):
        for window in select.args.get("windows") or []:
            named[window.name] = window
    return named


def _window_order(node: exp.Window, named: dict[str, exp.Window]) -> bool:
    if node.args.get("order"):
        return True
    alias = node.args.get("alias")
    base = named.get(alias.name) if alias is not None else None
    return bool(base is not None and base.args.get("order"))


def transpile(sql: str, columns: Mapping[str, Sequence[str]] | None = None) -> str:
    """Spark SQL for a portable DuckDB text; `$name` parameters become `:name` markers.

    Where sqlglot's Spark text is not valid Spark, the tree is mended first:
    DuckDB's quantile_cont(x, q) is Spark's percentile(x, q) (both interpolate
    linearly between the two nearest values), not percentile_cont(x, q); and
    a hex number `('0x' || left(md5(...), n))::bigint`, which Spark casts to
    NULL (or, with ANSI on, fails on), is `CAST(conv(left(md5(...), n), 16,
    10) AS BIGINT)`, the same number.
    `columns` (relation alias -> its column names) lets a select list's
    COLUMNS('regex') be written out as the columns it stands for.
    """
    trees = [tree.transform(_mend) for tree in parse(sql)]
    if columns:
        trees = [expand_columns(tree, columns) for tree in trees]
    return ";\n".join(tree.sql(dialect="spark") for tree in trees)


def expand_columns(tree: exp.Expression, columns: Mapping[str, Sequence[str]]) -> exp.Expression:
    """Each COLUMNS('regex') and `alias.* EXCLUDE (...)` of a select list as the named
    columns it stands for.

    The column set of a model can depend on the pipeline (one column per
    forecast horizon; user_scores gains columns), which DuckDB's COLUMNS()
    and EXCLUDE follow by themselves; Spark has no such thing, so the caller
    names the relations' real columns and the list is written out here,
    matched as DuckDB matches (regex search; names without case; in column
    order). A COLUMNS() without a match fails, as it does on DuckDB.
    """
    for select in tree.find_all(exp.Select):
        listed: list[exp.Expression] = []
        for item in select.expressions:
            star = item.this if isinstance(item, exp.Column) else None
            if isinstance(star, exp.Star) and star.args.get("except_") and item.table in columns:
                dropped = {column.name.lower() for column in star.args["except_"]}
                listed += [
                    exp.column(name, table=item.table, quoted=True)
                    for name in columns[item.table]
                    if name.lower() not in dropped
                ]
                continue
            if not (isinstance(item, exp.Columns) and item.this.is_string):
                listed.append(item)
                continue
            pattern = re.compile(item.this.this)
            found = [
                exp.column(name, table=alias, quoted=True)
                for alias, names in columns.items()
                for name in names
                if pattern.search(name)
            ]
            if not found:
                known = dict(columns)
                raise ValueError(f"COLUMNS('{item.this.this}') matches no column of {known}")
            listed += found
        select.set("expressions", listed)
    return tree


def _mend(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        return exp.Anonymous(
            this="percentile", expressions=[node.this.copy(), node.expression.copy()]
        )
    digits = _md5_digits(node) if isinstance(node, exp.Cast) else None
    if digits is not None:
        conv = exp.Anonymous(
            this="conv", expressions=[digits.copy(), exp.Literal.number(16), exp.Literal.number(10)]
        )
        return exp.cast(conv, exp.DataType.Type.BIGINT)
    return node
