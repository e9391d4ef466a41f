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
    assert manifest["csv_formula_escaping"].startswith("cells starting with = + - @")
