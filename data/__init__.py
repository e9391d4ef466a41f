"""Bundled sample data; installed with the package so `retention demo` runs anywhere."""
