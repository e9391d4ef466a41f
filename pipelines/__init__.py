"""Pipeline files; installed with the package so `retention demo` finds sample.toml."""
