"""Where the data lives: files (CSV, Parquet, JSON lines), globs and folders."""
