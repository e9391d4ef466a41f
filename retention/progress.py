"""Stage progress as log records: what the pipeline tells whoever is watching.

The engine never prints. When a run starts and when each stage starts and
ends, it logs one record carrying the facts in `record.progress`; the
command line shows them as a live bar on a terminal and as plain lines
elsewhere (`retention/report/progress.py`). An API caller sees plain logging.
"""

from __future__ import annotations

import logging

log = logging.getLogger("retention.pipeline")


def run_started(stages: tuple[str, ...]) -> None:
    """For a live display (its bar's length); plain lines leave this record out."""
    log.info("stages: %s", ", ".join(stages), extra={"progress": ("run", stages)})


def stage_started(name: str) -> None:
    log.info("%s ...", name, extra={"progress": ("start", name)})


def stage_done(name: str, rows: int | None, seconds: float) -> None:
    counted = f", {rows:,} rows" if rows is not None else ""
    log.info(
        "%s done in %.1f s%s", name, seconds, counted, extra={"progress": ("done", name, rows)}
    )
