"""Where runs write: export files stay inside the exports folder whatever the
playbook names, a folder another warehouse wrote is never replaced, and the
files holding contact data are owner-only also while a run writes them."""

import json

import pytest

from retention.config.pipeline_file import load_pipeline
from retention.errors import RetentionError
from retention.pipeline import run_pipeline
from tests.conftest import query
from tests.snapshots import hidden_entries, is_owner_only, visible_files
from tests.stages.test_playbooks import MAPPING, PLAYBOOKS, write_sources

CONTACTS = '[source.contacts]\npath = "contacts.csv"\n'


def all_files(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_playbook_names_cannot_put_files_outside_the_run_folder(write_pipeline, tmp_path):
    events = write_sources(tmp_path)
    playbooks = PLAYBOOKS.replace('name = "calls"', 'name = "/etc/calls"').replace(
        'name = "mails"', 'name = "../../../mails"'
    )
    before = all_files(tmp_path)
    result = run_pipeline(
        load_pipeline(write_pipeline(events, mapping=MAPPING, extra=CONTACTS + playbooks))
    )
    written = all_files(tmp_path) - before - {"pipeline.toml"}
    assert {name.split("/")[0] for name in written} == {"out"}, written
    assert sorted(visible_files(result.export_dir)) == [
        "etc_calls__call.csv",
        "mails__email.csv",
        "mails__sms.csv",
        "manifest.json",
    ]
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    assert {f["playbook"] for f in manifest["files"]} == {"/etc/calls", "../../../mails"}


def test_a_folder_another_warehouse_wrote_is_never_replaced(write_pipeline, tmp_path):
    """Two pipelines pointed at one exports folder both count runs from 1."""
    events = write_sources(tmp_path)
    first = run_pipeline(
        load_pipeline(write_pipeline(events, mapping=MAPPING, extra=CONTACTS + PLAYBOOKS))
    )
    files = visible_files(first.export_dir.parent)
    other = write_pipeline(events, name="other.toml", mapping=MAPPING, extra=CONTACTS + PLAYBOOKS)
    other.write_text(other.read_text().replace("out/retention.duckdb", "out/other.duckdb"))
    with pytest.raises(RetentionError) as error:
        run_pipeline(load_pipeline(other))
    assert str(error.value) == (
        f"export folder {first.export_dir} already exists and was not written by this "
        "warehouse; move it away or set another [run] exports folder"
    )
    assert visible_files(first.export_dir.parent) == files
    assert hidden_entries(first.export_dir.parent) == []
    runs = query(tmp_path / "out" / "other.duckdb", "SELECT status, error FROM runs")
    assert list(runs.status) == ["failed"] and runs.error[0] == str(error.value)


def test_contact_data_is_owner_only_while_a_run_writes_it(write_pipeline, tmp_path, monkeypatch):
    """The run's copy of the warehouse, its write-ahead log and spill files live
    in an owner-only folder; the exports folder and its run folders are too."""
    import retention.pipeline

    events = write_sources(tmp_path)
    pipeline = load_pipeline(write_pipeline(events, mapping=MAPPING, extra=CONTACTS + PLAYBOOKS))
    run_pipeline(pipeline)  # the second run copies a warehouse that holds contacts
    private = pipeline.run.warehouse.with_name(pipeline.run.warehouse.name + ".building")
    seen = {}
    real = retention.pipeline.build_assignments

    def look(*args, **kwargs):
        seen["private"] = is_owner_only(private)
        seen["inside"] = sorted(p.name for p in private.iterdir())
        return real(*args, **kwargs)

    monkeypatch.setattr(retention.pipeline, "build_assignments", look)
    result = run_pipeline(pipeline)
    assert seen == {"private": True, "inside": ["retention.duckdb", "retention.duckdb.wal"]}
    assert not private.exists()
    assert is_owner_only(pipeline.run.warehouse)
    assert is_owner_only(pipeline.run.exports) and is_owner_only(result.export_dir)
