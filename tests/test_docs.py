"""The README stays true: its API example runs, and every command is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from retention.cli import main
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    start = README.index(f"## {heading}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def test_the_readme_api_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", _section("Python API"), flags=re.S)
    assert len(blocks) == 1
    script = tmp_path / "example.py"
    script.write_text(blocks[0], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0].split(" ", 2)
    assert first[0] == "1" and int(first[1]) > 400_000 and "'core':" in first[2]
    alive = done.stdout.splitlines()[-1].split()
    assert float(alive[0]) == pytest.approx(float(alive[1]), rel=1e-9)  # lifetimes agrees


def test_every_command_has_help_with_an_example_and_a_readme_line():
    commands = _section("Commands")
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "-h"])
        assert result.exit_code == 0, name
        assert command.help and "Example:" in command.help, name
        assert f"retention {name} " in commands, name


def test_commands_that_print_results_take_json_and_document_exit_codes():
    for name in ("run", "evaluate", "export", "uplift"):
        text = CliRunner().invoke(main, [name, "--help"]).output
        assert "--json" in text, name
        assert "Exit codes: 0 success; 1 a user or data error; 3 another run" in " ".join(
            text.split()
        ), name


def test_the_documented_shell_completion_works():
    import os
    import subprocess
    import sys

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "_RETENTION_COMPLETE=bash_source retention" in readme
    script = subprocess.run(
        [sys.executable, "-c", "from retention.cli import main; main(prog_name='retention')"],
        env={**os.environ, "_RETENTION_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
    )
    assert "_retention_completion()" in script.stdout
    assert "complete -o nosort -F _retention_completion retention" in script.stdout
