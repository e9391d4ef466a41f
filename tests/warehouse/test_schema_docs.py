"""Every table, view and column of the warehouse has a stored comment, and
docs/warehouse.md is exactly what the stored comments render to."""

from pathlib import Path

import duckdb
import pytest

from retention.warehouse.docs import render_markdown
from tests.conftest import FIXTURES

DOCS = Path(__file__).parents[2] / "docs" / "warehouse.md"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from retention.config.pipeline_file import load_pipeline
    from retention.pipeline import run_pipeline
    from tests.conftest import pipeline_text

    folder = tmp_path_factory.mktemp("docs")
    path = folder / "pipeline.toml"
    path.write_text(pipeline_text(FIXTURES / "events_tiny.csv"))
    run_pipeline(load_pipeline(path))
    return folder / "out" / "retention.duckdb"


def test_every_object_and_column_is_commented(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        missing_objects = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE comment IS NULL AND NOT temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE comment IS NULL "
            "AND NOT internal AND NOT temporary"
        ).fetchall()
        missing_columns = con.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE comment IS NULL AND NOT internal ORDER BY 1"
        ).fetchall()
    assert missing_objects == []
    assert missing_columns == []


def test_docs_page_matches_the_stored_comments(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = render_markdown(con)
    assert DOCS.read_text(encoding="utf-8") == expected, (
        "docs/warehouse.md is out of date: run python -m retention.warehouse.docs"
    )
