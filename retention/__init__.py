"""retention: user-lifecycle segmentation and retention engine.

Raw events -> staged events -> user features (DuckDB SQL) -> scores -> tiers ->
playbooks -> exports. See DESIGN in the README for the data flow.
"""

from retention.version import __version__

__all__ = ["__version__"]
