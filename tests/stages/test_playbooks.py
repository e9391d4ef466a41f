"""Playbook assignments and exports: every suppression reason, channel fall-
through, holdout stability and share, frequency caps across runs, re-export
idempotency, manifest checksums, file permissions."""

import csv
import datetime as dt
import hashlib
import json
import stat

import phonenumbers
import pytest

from retention.analysis.reexport import export_published
from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from tests.conftest import query


def valid_us_phones(count: int) -> list[str]:
    """Distinct numbers libphonenumber calls valid (shared numbers would link users)."""
    base = phonenumbers.example_number("US").national_number
    phones = []
    for offset in range(1000):
        number = phonenumbers.parse(f"+1{base + offset}")
        if phonenumbers.is_valid_number(number):
            phones.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        if len(phones) == count:
            return phones
    raise AssertionError("not enough valid example numbers")


PHONE_B, PHONE_C2, PHONE_C3 = valid_us_phones(3)
MAPPING = (
    '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
    'event_type = "event_type"\n'
)
PLAYBOOKS = """
[[playbooks]]
name = "calls"
tiers = ["active"]
filter = "user_id LIKE 'c%'"
channels = ["call"]
holdout_share = 0.0
priority = 10
offer = { perk = "VIP line", template_id = "t-1" }

[[playbooks]]
name = "mails"
tiers = ["active"]
channels = ["email", "sms"]
holdout_share = 0.0
offer = { offer_code = "'); DROP TABLE user_tiers; --" }

[exports]
max_contacts = 1
window_days = 7
"""
# user: (email, phone, email_opt_in, sms_opt_in); None = no contact row
CONTACTS = {
    "a_sent": ("a@example.com", "", "yes", "no"),
    "b_sms": ("b@example.com", PHONE_B, "no", "yes"),
    "d_invalid_email": ("john@", "", "yes", "yes"),
    "e_no_email_consent": ("e@example.com", "", "no", "yes"),
    "f_no_contact": None,
    "c1_invalid_phone": ("", "12345", "yes", "yes"),
    "c2_no_sms_consent": ("", PHONE_C2, "yes", "no"),
    "c3_call": ("", PHONE_C3, "yes", "yes"),
    "g1_shared": ("shared@example.com", "", "yes", "no"),
    "g2_shared": ("Shared@Example.com", "", "no", "no"),
}
EXPECTED = {
    "a_sent": ("mails", "email", None),
    "b_sms": ("mails", "sms", None),
    "d_invalid_email": ("mails", None, "invalid_email"),
    "e_no_email_consent": ("mails", None, "no_email_consent"),
    "f_no_contact": ("mails", None, "no_contact"),
    "c1_invalid_phone": ("calls", None, "invalid_phone"),
    "c2_no_sms_consent": ("calls", None, "no_sms_consent"),
    "c3_call": ("calls", "call", None),
    "g1_shared": ("mails", None, "no_email_consent"),
    "g2_shared": ("mails", None, "no_email_consent"),
    "newbie": (None, None, "no_playbook"),
    "bot": (None, None, "junk"),
}


def write_sources(folder, users=CONTACTS, days=("06-05", "06-12", "06-19", "06-26", "06-29")):
    rows = []
    for user in users:
        rows += [f"{user},2024-01-01 09:00:00,visit"]
        rows += [f"{user},2024-{day} 09:00:00,visit" for day in days]
    rows.append("newbie,2024-06-28 09:00:00,visit")
    rows += [f"bot,2024-06-10 09:00:{s:02d},page_view" for s in range(0, 60, 2)]
    events = folder / "events.csv"
    events.write_text("user_id,event_time,event_type\n" + "\n".join(rows) + "\n")
    with open(folder / "contacts.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "email", "phone", "country", "email_opt_in", "sms_opt_in"])
        for user, contact in users.items():
            if contact:
                email, phone, email_ok, sms_ok = contact
                writer.writerow([user, email, phone, "US", email_ok, sms_ok])
    return events


@pytest.fixture
def campaign(write_pipeline, tmp_path):
    events = write_sources(tmp_path)
    extra = '[source.contacts]\npath = "contacts.csv"\n' + PLAYBOOKS
    path = write_pipeline(events, mapping=MAPPING, extra=extra)
    result = run_pipeline(load_pipeline(path))
    return path, result


def test_every_suppression_reason_and_channel_fall_through(campaign):
    path, result = campaign
    rows = query(load_pipeline(path).run.warehouse, "SELECT * FROM latest_assignments")
    got = {
        r.user_id: (
            r.playbook,
            r.channel if r.suppressed_reason is None else None,
            r.suppressed_reason,
        )
        for r in rows.itertuples()
    }
    got = {user: tuple(None if v != v else v for v in values) for user, values in got.items()}
    assert got == EXPECTED


def test_export_files_hold_only_sent_users_with_offer_fields(campaign):
    path, result = campaign
    folder = result.export_dir
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {f["file"]: f for f in manifest["files"]}
    assert sorted(files) == ["calls__call.csv", "mails__email.csv", "mails__sms.csv"]
    with open(folder / "mails__email.csv", newline="") as handle:
        emails = list(csv.DictReader(handle))
    assert [(r["email"], r["user_id"]) for r in emails] == [("a@example.com", "a_sent")]
    assert emails[0]["offer_code"] == "'); DROP TABLE user_tiers; --"
    with open(folder / "calls__call.csv", newline="") as handle:
        calls = list(csv.DictReader(handle))
    assert [(r["phone_e164"], r["user_id"], r["perk"]) for r in calls] == [
        (PHONE_C3, "c3_call", "VIP line")
    ]
    assert manifest["users_by_outcome"]["sent"] == 3
    assert manifest["users_by_outcome"]["no_email_consent"] == 3
    for name, entry in files.items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["rows"] == data.count(b"\n") - 1


def test_export_files_are_owner_only(campaign):
    _, result = campaign
    folder = result.export_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (folder.parent / "LATEST").read_text().strip() == folder.name
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".tmp")]


def test_frequency_cap_across_runs_and_reexport_does_not_double_count(campaign):
    path, first = campaign
    warehouse = load_pipeline(path).run.warehouse
    sends = query(warehouse, "SELECT count(*) AS n FROM sends").n[0]
    assert sends == 3
    export_published(load_pipeline(path))  # re-export the same run
    assert query(warehouse, "SELECT count(*) AS n FROM sends").n[0] == 3
    second = run_pipeline(load_pipeline(path).with_overrides(as_of=dt.date(2024, 7, 2)))
    rows = query(
        warehouse,
        "SELECT user_id, suppressed_reason FROM playbook_assignments WHERE run_id = $run",
        {"run": second.run_id},
    )
    capped = set(rows.user_id[rows.suppressed_reason == "frequency_cap"])
    assert capped == {"a_sent", "b_sms", "c3_call"}  # one contact on 06-30, cap 1 in 7 days


def test_rerun_of_the_same_day_is_not_capped_by_itself_and_exports_identical_files(campaign):
    path, first = campaign
    second = run_pipeline(load_pipeline(path))
    assert second.assignments == first.assignments
    for name in ("mails__email.csv", "mails__sms.csv", "calls__call.csv"):
        assert (first.export_dir.parent / f"run-{second.run_id}" / name).read_bytes() == (
            first.export_dir / name
        ).read_bytes()


def test_holdout_is_stable_across_runs_and_near_its_share(write_pipeline, tmp_path):
    users = {f"u{i:04d}": (f"u{i}@example.com", "", "yes", "no") for i in range(2000)}
    events = write_sources(tmp_path, users=users)
    extra = (
        '[source.contacts]\npath = "contacts.csv"\n[[playbooks]]\nname = "mails"\n'
        'tiers = ["active"]\nchannels = ["email"]\nholdout_share = 0.2\n'
        "[exports]\nmax_contacts = 0\n"
    )
    path = write_pipeline(events, mapping=MAPPING, extra=extra)
    first = run_pipeline(load_pipeline(path))
    second = run_pipeline(load_pipeline(path).with_overrides(as_of=dt.date(2024, 7, 1)))
    warehouse = load_pipeline(path).run.warehouse
    held = query(
        warehouse,
        "SELECT run_id, list(user_id ORDER BY user_id) AS users FROM playbook_assignments "
        "WHERE holdout GROUP BY run_id ORDER BY run_id",
    )
    assert list(held.run_id) == [first.run_id, second.run_id]
    assert list(held.users[0]) == list(held.users[1])
    assert 0.17 < len(held.users[0]) / 2000 < 0.23
    sent = first.assignments["mails"]["sent"]
    assert sent + first.assignments["mails"]["holdout"] == 2000


def test_large_exports_are_split_into_parts_listed_in_the_manifest(write_pipeline, tmp_path):
    users = {f"u{i:04d}": (f"u{i}@example.com", "", "yes", "no") for i in range(5000)}
    events = write_sources(tmp_path, users=users)
    extra = (
        '[source.contacts]\npath = "contacts.csv"\n[[playbooks]]\nname = "mails"\n'
        'tiers = ["active"]\nchannels = ["email"]\nholdout_share = 0.0\n'
        "[exports]\nmax_file_mb = 0.1\nmax_contacts = 0\n"
    )
    result = run_pipeline(load_pipeline(write_pipeline(events, mapping=MAPPING, extra=extra)))
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    names = [entry["file"] for entry in manifest["files"]]
    assert len(names) > 1 and names[0] == "mails__email.part-0001.csv"
    assert sum(entry["rows"] for entry in manifest["files"]) == 5000
    for entry in manifest["files"]:
        # DuckDB checks the size after each block of 2,048 rows, so a part may
        # pass the limit by at most one block (~150 bytes a row here)
        assert entry["bytes"] < 0.1 * 1024 * 1024 + 2048 * 150
        with open(result.export_dir / entry["file"], newline="") as handle:
            assert next(csv.reader(handle))[0] == "email"  # every part has its header
