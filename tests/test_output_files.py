"""--out and the engine's own small files never destroy or leak data."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from retention.cli import main
from retention.errors import RetentionError
from retention.output_files import check_target, write_text_atomically
from tests.conftest import FIXTURES
from tests.stages.test_playbooks import MAPPING, PLAYBOOKS, write_sources

QUERY = "SELECT user_id FROM latest_features"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args] + ["--quiet"])


@pytest.fixture
def ran(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    assert invoke("run", pipeline).exit_code == 0
    return pipeline, pipeline.parent / "out" / "retention.duckdb"


def test_sql_out_refuses_the_warehouse_and_its_companions(ran):
    _, warehouse = ran
    before = warehouse.read_bytes()
    for target in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        result = invoke("sql", warehouse, QUERY, "--format", "csv", "--out", target)
        assert result.exit_code == 1
        assert "refusing to write over" in result.stderr
    assert warehouse.read_bytes() == before


def test_sql_out_never_replaces_a_file_it_did_not_write_unless_told(ran, tmp_path):
    _, warehouse = ran
    target = tmp_path / "result.csv"
    target.write_text("someone else's\n")
    refused = invoke("sql", warehouse, QUERY, "--format", "csv", "--out", target)
    assert refused.exit_code == 1
    assert "the file exists and was not written by this command" in refused.stderr
    assert target.read_text() == "someone else's\n"
    done = invoke("sql", warehouse, QUERY, "--format", "csv", "--out", target, "--overwrite")
    assert done.exit_code == 0, done.output
    assert target.read_text().startswith('"user_id"')
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # results may hold contact data


def test_sql_out_refuses_a_symlink_and_any_duckdb_file(ran, tmp_path):
    _, warehouse = ran
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    result = invoke("sql", warehouse, QUERY, "--format", "csv", "--out", link, "--overwrite")
    assert result.exit_code == 1 and victim.read_text() == "keep me\n"
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    result = invoke("sql", warehouse, QUERY, "--format", "json", "--out", copy, "--overwrite")
    assert result.exit_code == 1 and "is a DuckDB database" in result.stderr


def test_report_out_refuses_the_pipeline_and_sources_but_rewrites_its_own(ran, tmp_path):
    pipeline, warehouse = ran
    for target in (pipeline, warehouse):
        result = invoke("report", pipeline, "--out", target)
        assert result.exit_code == 1 and "refusing to write over" in result.stderr, target
    assert invoke("report", pipeline).exit_code == 0
    assert invoke("report", pipeline).exit_code == 0  # its own earlier report: replaced
    report = warehouse.with_name("report.html")
    assert stat.S_IMODE(report.stat().st_mode) == 0o644  # aggregates only, to be shared


def test_planted_symlinks_are_never_written_through(write_pipeline, tmp_path):
    events = write_sources(tmp_path)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    pipeline = write_pipeline(events, mapping=MAPPING, extra=extra)
    exports = tmp_path / "out" / "exports"
    exports.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    for name in (".LATEST.tmp", "LATEST"):
        (exports / name).symlink_to(victim)
    (tmp_path / "out" / "report.html.partial").symlink_to(victim)
    assert invoke("run", pipeline).exit_code == 0
    assert invoke("report", pipeline).exit_code == 0
    assert victim.read_text() == "keep me\n"
    assert (exports / "LATEST").read_text() == "run-1\n"  # the link itself was replaced


def test_write_text_atomically_leaves_no_partial_file_on_failure(tmp_path):
    target = tmp_path / "folder-that-is-not-there" / "x.txt"
    with pytest.raises(RetentionError, match="cannot write"):
        write_text_atomically(target, "x")
    assert not target.parent.exists()
    os.chmod(tmp_path, 0o500)
    try:
        if os.access(tmp_path, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(RetentionError, match="cannot write"):
            write_text_atomically(tmp_path / "y.txt", "y")
    finally:
        os.chmod(tmp_path, 0o700)


def test_check_target_refuses_a_folder(tmp_path):
    with pytest.raises(RetentionError, match="is a folder"):
        check_target(tmp_path, "--out")
