"""Every sql/ file stays inside the portable subset (DuckDB and Spark mean the same), or is
named below with what still keeps it out.

The subset and its reasons are in retention/engines/spark/portable.py and the
README ("Past one machine"). A file on the list either has a Spark variant
(`name.spark.sql` beside it, held to the same results by
tests/engines/test_spark_parity.py) or runs on DuckDB only for now. When a
file is rewritten into the subset, the test fails until it leaves the list,
so the list always names exactly what is left.
"""

from pathlib import Path

import pytest

sqlglot = pytest.importorskip("sqlglot", reason="the portable-subset lint needs sqlglot")

from retention.engines.spark.portable import problems, transpile  # noqa: E402
from retention.warehouse.sql_files import read_sql  # noqa: E402

SQL = Path(__file__).resolve().parents[2] / "sql"
# file -> why it is not portable yet (and what runs instead on Spark)
NOT_PORTABLE = {
    "features/user_timelines.sql": "list lambdas and 1-based list indexing; the window "
    "rewrite was slower on DuckDB: Spark runs user_timelines.spark.sql",
    "staging/macros.sql": "CREATE MACRO strip_blank (DuckDB staging only)",
    "staging/parsed_events.sql": "try_strptime, timezone(), isfinite, strip_blank: text "
    "times stage on DuckDB; Spark runs parsed_events.spark.sql for typed sources",
    "staging/reject_format_matches.sql": "try_strptime (DuckDB reject hints only)",
    "metrics/cost_rows.sql": "isfinite (metrics run on DuckDB)",
    "metrics/daily_metrics.sql": "UNNEST(recursive := true) (metrics run on DuckDB)",
    "playbooks/playbook_inputs.sql": "scores.* EXCLUDE: user_scores gains columns; on Spark "
    "the list is written out from its real columns (portable.expand_columns)",
    "tiers/tier_inputs.sql": "scores.* EXCLUDE: user_scores gains columns; on Spark the "
    "list is written out from its real columns (portable.expand_columns)",
    "scores/user_scores.sql": "COLUMNS('^expected_purchases_'): one column per horizon; on "
    "Spark the list is written out from the prediction table (portable.expand_columns)",
    "exports/profile_rows.sql": "list_sort (exports run on DuckDB)",
}


# Folders that only ever run inside the DuckDB warehouse: its schema, and the
# HTML report's queries over the published tables.
DUCKDB_ONLY = ("warehouse", "report")


def _models() -> list[str]:
    return sorted(
        str(path.relative_to(SQL))
        for path in SQL.rglob("*.sql")
        if not path.name.endswith(".spark.sql")
        and path.relative_to(SQL).parts[0] not in DUCKDB_ONLY
    )


@pytest.mark.parametrize("name", _models())
def test_model_is_portable_or_listed(name):
    found = problems((SQL / name).read_text(encoding="utf-8"))
    if name in NOT_PORTABLE:
        assert found, f"{name} is portable now: take it off NOT_PORTABLE"
    else:
        assert not found, f"{name} leaves the portable subset: " + "; ".join(found)
        assert transpile((SQL / name).read_text(encoding="utf-8"))


def test_listed_files_exist():
    assert sorted(set(NOT_PORTABLE) - set(_models())) == []


@pytest.mark.parametrize("path", sorted(SQL.rglob("*.spark.sql")), ids=lambda p: p.name)
def test_spark_variants_parse_as_spark_sql(path):
    assert (path.with_name(path.name.replace(".spark.sql", ".sql"))).exists()
    assert sqlglot.parse(path.read_text(encoding="utf-8"), read="spark")


@pytest.mark.parametrize(
    ("sql", "finding"),
    [
        ("select hash(a) from t", "hash()"),
        ("select * exclude (a) from t", "EXCLUDE"),
        ("select ('0x' || md5(a))::bigint from t", "conv()"),
        ("select row_number() over (partition by a) from t", "without ORDER BY"),
        ("select rank() over w from t window w as (partition by a)", "without ORDER BY"),
        ("select epoch(t) from t", "epoch()"),
        ("select list_filter(l, lambda x: x > 1) from t", "lambdas"),
        ("select l[1] from t", "indexing"),
        ("select n / 3.0 from t", "decimal literal in a division (3.0)"),
        ("select n * 1.0 / m from t", "decimal literal in a division (1.0)"),
        ("select a / (2.5 * b + 1) from t", "decimal literal in a division (2.5)"),
    ],
)
def test_the_lint_finds(sql, finding):
    assert any(finding in text for text in problems(sql))


def test_ordered_windows_pass():
    sql = "select rank() over w, lag(a) over (order by b) from t window w as (order by a)"
    assert problems(sql) == []


def test_doubles_in_divisions_and_decimals_elsewhere_pass():
    # a double literal, a cast, a function's own type, and decimals outside a division
    sql = "select n / 3e0, cast(n as double) / 3, round(n, 1) / m, n * 1.5, n > 0.5 from t"
    assert problems(sql) == []


def test_columns_and_exclude_are_written_out_for_spark():
    # COLUMNS() searches every relation named; EXCLUDE drops names without case
    sql = "select a.k, columns('^x_'), b.* exclude (k, t) from a join b on a.k = b.k"
    spark = transpile(sql, {"a": ["k", "x_1"], "b": ["k", "T", "x_2", "y"]})
    listed = "a.k, `a`.`x_1`, `b`.`x_2`, `b`.`x_2`, `b`.`y`"
    assert spark == f"SELECT {listed} FROM a JOIN b ON a.k = b.k"


def test_user_scores_on_spark_names_every_horizon():
    purchase = ["product_id", "expected_purchases_30d", "expected_purchases_45d", "p_alive_in_45d"]
    spark = transpile(read_sql("scores/user_scores.sql"), {"purchase": purchase})
    assert "COLUMNS(" not in spark.upper()
    for name in purchase[1:]:
        assert f"`purchase`.`{name}`" in spark
