"""[run] memory_limit is the run's budget: DuckDB gets three quarters of it, the rest is
headroom for what DuckDB allocates outside its buffer pool and for the Python side."""

import duckdb
import pytest

from retention.warehouse.publish import DEFAULT_STORAGE_VERSION, duckdb_share, open_warehouse


@pytest.mark.parametrize(
    ("given", "duckdb_gets"),
    [("4GB", "3GB"), ("2GB", "1.5GB"), ("512MB", "384MB"), ("1.5GIB", "1.125GIB"), ("80%", "60%")],
)
def test_duckdb_gets_three_quarters(given, duckdb_gets):
    assert duckdb_share(given) == duckdb_gets


def test_the_warehouse_connection_uses_the_share(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb", 1, "2GB", DEFAULT_STORAGE_VERSION) as con:
        used = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    reference = duckdb.connect()
    reference.execute("SET memory_limit = '1.5GB'")
    assert used == reference.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
