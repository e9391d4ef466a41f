"""Progress on a terminal: a bar over the run's stages, each with its rows and time.

The pipeline logs a record when a run starts and when a stage starts and
ends (`retention/progress.py`). On a terminal these drive a live `rich`
display: one line per stage with a spinner, then its rows and elapsed time,
and a bar over all stages; other messages print above it. Elsewhere, or
with --quiet or --json, the same records are the plain log lines a
scheduler's log file wants.
"""

from __future__ import annotations

import logging
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class TerminalProgress(logging.Handler):
    """A live display of the stages on a terminal; other messages print above it."""

    def __init__(self, stream: IO[str]):
        super().__init__()
        self.console = Console(file=stream)
        self.bar = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description:<12}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:>14}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.overall = None
        self.tasks: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "progress", None)
        if event is None:
            self.console.print(record.getMessage(), markup=False, highlight=False)
        elif event[0] == "run":
            self._begin(len(event[1]))
        elif event[0] == "start":
            if self.overall is None:
                self._begin(None)
            self.tasks[event[1]] = self.bar.add_task(event[1], total=1, rows="")
        elif event[0] == "done" and event[1] in self.tasks:
            rows = f"{event[2]:,} rows" if event[2] is not None else ""
            self.bar.update(self.tasks[event[1]], completed=1, rows=rows)
            self.bar.advance(self.overall)
            if self.bar.tasks[self.overall].finished:
                self.bar.stop()  # the last stage: the result prints below a still display

    def _begin(self, stages: int | None) -> None:
        for task in list(self.bar.task_ids):
            self.bar.remove_task(task)
        self.tasks.clear()
        self.bar.start()
        self.overall = self.bar.add_task("run", total=stages, rows="")

    def close(self) -> None:
        self.bar.stop()
        super().close()


def progress_handler(stream: IO[str], live: bool) -> logging.Handler:
    """The live display when `live` and `stream` is a terminal, else plain lines."""
    if live and stream.isatty():
        return TerminalProgress(stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda record: getattr(record, "progress", ("",))[0] != "run")
    return handler
