"""Time one command as its own process: wall seconds and peak resident memory.

The command runs under GNU `/usr/bin/time -v` (wall clock and "Maximum
resident set size" parsed from its report). Where GNU time is missing (macOS,
slim CI images) the same two numbers come from `os.wait4` on the child.
A command that overruns its timeout is killed with its whole process group.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")
WALL_RE = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")
RSS_RE = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
MAJOR_FAULTS_RE = re.compile(r"Major \(requiring I/O\) page faults: (\d+)")


class CommandFailed(RuntimeError):
    """A measured command exited non-zero or ran out of time."""


@dataclass(frozen=True)
class Measurement:
    wall_seconds: float
    max_rss_bytes: int
    major_faults: int  # pages read back from disk: many mean the machine ran short of memory
    stdout: str
    method: str  # "gnu-time" or "wait4"

    def figures(self) -> dict:
        """The numbers a result file keeps of every measured run."""
        return {
            "wall_seconds": self.wall_seconds,
            "max_rss_bytes": self.max_rss_bytes,
            "major_faults": self.major_faults,
            "method": self.method,
        }


def measure(
    command: Sequence[str], timeout: float | None = None, cwd: Path | None = None
) -> Measurement:
    """Run `command`, return its wall time and peak RSS; raise CommandFailed on failure."""
    if GNU_TIME.exists():
        return _measure_gnu_time(command, timeout, cwd)
    return _measure_wait4(command, timeout, cwd)


def _measure_gnu_time(command, timeout, cwd) -> Measurement:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "time.txt"
        run = _spawn([str(GNU_TIME), "-v", "-o", str(report), *command], timeout, cwd)
        text = report.read_text() if report.exists() else ""
    _check(command, run)
    wall, rss = WALL_RE.search(text), RSS_RE.search(text)
    if not wall or not rss:
        raise CommandFailed(f"cannot read /usr/bin/time's report for {command[0]}: {text!r}")
    faults = MAJOR_FAULTS_RE.search(text)
    return Measurement(
        parse_clock(wall.group(1)),
        int(rss.group(1)) * 1024,
        int(faults.group(1)) if faults else run.major_faults,
        run.stdout,
        "gnu-time",
    )


def _measure_wait4(command, timeout, cwd) -> Measurement:
    run = _spawn(list(command), timeout, cwd)
    _check(command, run)
    return Measurement(run.wall_seconds, run.max_rss_bytes, run.major_faults, run.stdout, "wait4")


@dataclass(frozen=True)
class _Finished:
    stdout: str
    stderr: str
    exit_code: int
    wall_seconds: float
    max_rss_bytes: int
    major_faults: int
    timed_out: bool


def _spawn(command: list[str], timeout: float | None, cwd: Path | None) -> _Finished:
    """Run in its own process group; output goes through files so wait4 can reap it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        fired = threading.Event()
        timer = threading.Timer(timeout or 0, _kill_group, (proc.pid, fired))
        if timeout:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return _Finished(
            stdout=out.read(),
            stderr=err.read(),
            exit_code=proc.returncode,
            wall_seconds=wall,
            max_rss_bytes=usage.ru_maxrss * 1024,
            major_faults=usage.ru_majflt,
            timed_out=fired.is_set(),
        )


def _kill_group(pid: int, fired: threading.Event) -> None:
    fired.set()
    os.killpg(pid, signal.SIGKILL)


def _check(command: Sequence[str], run: _Finished) -> None:
    if run.timed_out:
        raise CommandFailed(f"timed out after {run.wall_seconds:.0f} s: {' '.join(command)}")
    if run.exit_code:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        raise CommandFailed(f"{' '.join(command)} exited with {run.exit_code}:\n{tail}")


def parse_clock(text: str) -> float:
    """'1:02:03.5' / '2:03.45' / '3.2' -> seconds."""
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
