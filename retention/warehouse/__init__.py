"""The DuckDB file: copy-on-write publish, run ledger, SQL files, schema, queries."""
