"""Export CSVs are formula-safe: a cell that a spreadsheet would run gets a leading '."""

from __future__ import annotations

import csv
import json

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.stages.test_playbooks import MAPPING, valid_us_phones, write_sources

PHONE = valid_us_phones(1)[0]
PLAYBOOKS = """
[[playbooks]]
name = "mails"
tiers = ["active"]
channels = ["email", "sms"]
holdout_share = 0.0
offer = { offer_code = "@SUM(A1)", note = "-10% today" }

[exports]
max_contacts = 0
profiles = ["generic", "klaviyo", "customerio"]
"""
USERS = {
    "=1+1": ("=1+1@example.com", "", "yes", "no"),
    "+cmd": ("", PHONE, "no", "yes"),
    "plain": ("plain@example.com", "", "yes", "no"),
}


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_formula_cells_get_a_leading_quote_but_e164_phones_do_not(write_pipeline, tmp_path):
    events = write_sources(tmp_path, users=USERS)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    result = run_pipeline(load_pipeline(write_pipeline(events, mapping=MAPPING, extra=extra)))
    emails = {r["user_id"]: r for r in rows(result.export_dir / "mails__email.csv")}
    assert set(emails) == {"'=1+1", "plain"}
    assert emails["'=1+1"]["email"] == "'=1+1@example.com"
    assert emails["plain"]["email"] == "plain@example.com"
    assert emails["plain"]["offer_code"] == "'@SUM(A1)"
    assert emails["plain"]["note"] == "'-10% today"
    (texted,) = rows(result.export_dir / "mails__sms.csv")
    assert (texted["user_id"], texted["phone_e164"]) == ("'+cmd", PHONE)
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    assert manifest["csv_formula_escaping"].startswith("text cells starting with = + - @")


def test_tool_files_refuse_formula_like_keys_and_escape_other_cells(write_pipeline, tmp_path):
    """A tool matches people on the key column, so a key a spreadsheet would run
    is refused (a ' would change the address); other text cells are escaped."""
    events = write_sources(tmp_path, users=USERS)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    result = run_pipeline(load_pipeline(write_pipeline(events, mapping=MAPPING, extra=extra)))
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    files = {entry["file"]: entry for entry in manifest["files"]}
    assert [r["Email Address"] for r in rows(result.export_dir / "klaviyo" / "email.csv")] == [
        "plain@example.com"
    ]
    assert files["klaviyo/email.csv"]["refused"] == [
        {"address": "=1+1@example.com", "user_ids": ["=1+1"], "reason": "formula_like_address"}
    ]
    (texted,) = rows(result.export_dir / "klaviyo" / "sms.csv")
    assert (texted["Phone Number"], texted["External ID"]) == (PHONE, "'+cmd")
    assert "customerio/sms.csv" not in files  # its key is the user id "+cmd"
    refused = manifest["profiles"]["customerio"]["channels"]["sms"]["refused_by_reason"]
    assert refused == {"formula_like_user_id": 1}
