"""The pipeline file: loading, checking, and the built-in defaults."""
