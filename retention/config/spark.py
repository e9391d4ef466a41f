"""The `[spark]` section: where a run with `[run] engine = "spark"` sends its per-user work.

Only read when the engine is Spark; a DuckDB pipeline may still carry the
section (switching engines is one line, and a warehouse file of the new
engine's own: warehouse/lake_views.py). The settings are plain values: the
session itself is built by retention/engines/spark/, which imports pyspark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retention.config.fields import Field, check_table, text
from retention.errors import ConfigError

ENGINES = ("duckdb", "spark")


def _conf(value: Any) -> dict[str, str]:
    """Spark settings as text (TOML numbers and booleans are written the way Spark reads them)."""
    if not isinstance(value, dict):
        raise ValueError('a table of Spark settings, e.g. { "spark.executor.memory" = "4g" }')
    conf = {}
    for key, setting in value.items():
        if isinstance(setting, bool):
            setting = "true" if setting else "false"
        if not isinstance(setting, str | int | float):
            raise ValueError(f"a text, number or boolean for {key}")
        conf[str(key)] = str(setting)
    return conf


SPARK_FIELDS = {
    "master": Field(text, default="local[*]"),
    "conf": Field(_conf, default={}),
    "lake": Field(text, default=None),
}


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[*]"
    conf: dict[str, str] = field(default_factory=dict)
    lake: Path | None = None  # None: "lake" beside the warehouse file

    def lake_dir(self, warehouse: Path) -> Path:
        """The folder of the per-user Parquet tables, one subfolder per run."""
        return self.lake if self.lake is not None else warehouse.parent / "lake"


def parse_spark(top: dict[str, Any], name: str, base: Path) -> SparkSettings:
    """The [spark] section, paths relative to the pipeline file's folder."""
    table = check_table(top.get("spark", {}), SPARK_FIELDS, f"{name}: [spark]")
    lake = table["lake"]
    if lake is not None and "://" in lake:
        raise ConfigError(
            f'{name}: [spark] lake = "{lake}": a local or shared folder path for now '
            "(object-store lakes are not supported yet)"
        )
    return SparkSettings(
        master=table["master"],
        conf=table["conf"],
        lake=(base / lake).resolve() if lake is not None else None,
    )
