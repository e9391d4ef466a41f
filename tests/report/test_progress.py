"""Progress: a live bar on a terminal, plain lines in a log file, only warnings with --quiet.

The terminal case runs the real command with its stderr on a pseudo-terminal
(what a person at a shell has), so rich sees a TTY exactly as it would there.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

from tests.conftest import FIXTURES

COMMAND = [sys.executable, "-c", "from retention.cli import main; main()"]
BAR = "━"  # rich's bar character


def run_with_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal; returns (exit code, stdout, tty text)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        COMMAND + args, stdout=subprocess.PIPE, stderr=follower, env=env, text=True
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the command closed its end
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    stdout = process.stdout.read()
    code = process.wait()
    os.close(leader)
    return code, stdout, seen.decode("utf-8", "replace")


def test_a_terminal_shows_a_bar_over_the_stages_with_rows_and_time(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    code, stdout, terminal = run_with_terminal(["run", str(pipeline)])
    assert code == 0, terminal
    assert BAR in terminal and "8/8" in terminal  # the bar over all eight stages, finished
    for stage in ("staging", "features", "scores", "tiers", "contacts", "exports"):
        assert stage in terminal
    assert " rows" in terminal and "0:00:0" in terminal  # rows and elapsed time per stage
    assert stdout.startswith("run 1 published")  # the result itself stays on stdout


def test_a_log_file_gets_plain_lines_and_quiet_gets_none(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    logged = subprocess.run(COMMAND + ["run", str(pipeline)], capture_output=True, text=True)
    assert logged.returncode == 0, logged.stderr
    assert BAR not in logged.stderr and "\x1b[" not in logged.stderr
    assert "staging ...\nstaging done in " in logged.stderr
    assert "stages:" not in logged.stderr  # the bar's bookkeeping is not a log line
    quiet = subprocess.run(
        COMMAND + ["run", str(pipeline), "--quiet"], capture_output=True, text=True
    )
    assert quiet.returncode == 0 and "staging" not in quiet.stderr  # warnings only
    code, _, terminal = run_with_terminal(["run", str(pipeline), "--json"])
    assert code == 0 and BAR not in terminal and "staging done in" in terminal


def test_internals_appear_only_with_verbose(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    plain = subprocess.run(COMMAND + ["run", str(pipeline)], capture_output=True, text=True)
    verbose = subprocess.run(
        COMMAND + ["run", str(pipeline), "--verbose"], capture_output=True, text=True
    )
    assert "feature model" not in plain.stderr
    assert "feature model user_days" in verbose.stderr
