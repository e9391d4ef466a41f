"""Engines other than the built-in DuckDB one (see the README, "Past one machine")."""
