"""`retention export` re-reads the contacts and the suppression list: it can only drop people."""

from __future__ import annotations

import csv
import json

from retention.analysis.reexport import export_published
from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import query
from tests.stages.test_playbooks import MAPPING, PLAYBOOKS, write_sources

SUPPRESSIONS = '[source.suppressions]\npath = "suppressions.csv"\n'


def emailed(folder) -> list[str]:
    path = folder / "mails__email.csv"
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [row["user_id"] for row in csv.DictReader(handle)]


def campaign(write_pipeline, tmp_path):
    events = write_sources(tmp_path)
    (tmp_path / "suppressions.csv").write_text("address,channel,reason\n")
    extra = '[source.contacts]\npath = "contacts.csv"\n' + SUPPRESSIONS + PLAYBOOKS
    path = write_pipeline(events, mapping=MAPPING, extra=extra)
    return path, run_pipeline(load_pipeline(path))


def test_an_opt_out_added_after_the_run_is_honoured_by_the_re_export(write_pipeline, tmp_path):
    path, result = campaign(write_pipeline, tmp_path)
    assert emailed(result.export_dir) == ["a_sent"]
    with open(tmp_path / "contacts.csv", "a", newline="") as out:
        csv.writer(out).writerow(["a_sent", "a@example.com", "", "US", "no", "no"])
    exported = export_published(load_pipeline(path))
    assert emailed(exported.folder) == []
    drops = exported.manifest["dropped_since_run"]
    assert drops == [
        {"playbook": "mails", "channel": "email", "reason": "no_email_consent", "users": 1}
    ]
    on_disk = json.loads((exported.folder / "manifest.json").read_text())
    assert on_disk["dropped_since_run"] == drops
    sends = query(
        load_pipeline(path).run.warehouse,
        "SELECT user_id FROM sends WHERE playbook = 'mails' AND channel = 'email'",
    )
    assert list(sends.user_id) == []  # the sends follow the files
    leftovers = query(
        load_pipeline(path).run.warehouse, "SELECT count(*) AS n FROM contacts WHERE run_id < 0"
    )
    assert leftovers.n[0] == 0


def test_a_new_suppression_list_entry_drops_the_address_at_re_export(write_pipeline, tmp_path):
    path, result = campaign(write_pipeline, tmp_path)
    (tmp_path / "suppressions.csv").write_text("address,channel,reason\nA@EXAMPLE.COM,,bounced\n")
    exported = export_published(load_pipeline(path))
    assert emailed(exported.folder) == []
    assert exported.manifest["dropped_since_run"][0]["reason"] == "suppressed_list"


def test_a_listed_address_is_never_assigned(write_pipeline, tmp_path):
    events = write_sources(tmp_path)
    (tmp_path / "suppressions.csv").write_text("address\na@example.com\n")
    extra = '[source.contacts]\npath = "contacts.csv"\n' + SUPPRESSIONS + PLAYBOOKS
    path = write_pipeline(events, mapping=MAPPING, extra=extra)
    result = run_pipeline(load_pipeline(path))
    reasons = query(
        result.warehouse,
        "SELECT suppressed_reason FROM latest_assignments WHERE user_id = 'a_sent'",
    )
    assert list(reasons.suppressed_reason) == ["suppressed_list"]
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    assert manifest["users_by_outcome"]["suppressed_list"] == 1
