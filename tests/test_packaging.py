"""The wheel ships the SQL models, the sample pipeline and data, and an
installed copy finds them from any working directory."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from retention.warehouse.sql_files import read_sql

REPO = Path(__file__).parent.parent
NOT_SHIPPED = (".git", ".venv*", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")
SQL_FILES = sorted(p.relative_to(REPO / "sql").as_posix() for p in (REPO / "sql").rglob("*.sql"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the checkout: setuptools leaves build/ where it builds."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "retention"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("retention-*.whl"))


def test_wheel_contains_every_sql_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in SQL_FILES if f"retention/sql/{f}" not in names]
    assert SQL_FILES and missing == []
    assert "retention/pipelines/sample.toml" in names
    assert "retention/data/sample/events.parquet" in names


def test_installed_wheel_finds_sql_from_another_directory(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from retention.warehouse.sql_files import read_sql;"
        "from retention.demo import bundled_pipeline_path;"
        "import retention; assert retention.__file__.startswith(sys.argv[1]), retention.__file__;"
        "print(len(read_sql('features/user_btyd.sql')), bundled_pipeline_path().is_file())"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", probe, str(site)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    length, pipeline_found = done.stdout.split()
    assert int(length) == len(read_sql("features/user_btyd.sql"))
    assert pipeline_found == "True"
