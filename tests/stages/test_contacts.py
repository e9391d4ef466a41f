"""The contacts stage: checked emails and phones, parsed consent, one row per user,
and shared addresses suppressed when one of their users opted out."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from retention.config.pipeline_file import CONTACT_COLUMNS, SourceSettings
from retention.stages.contacts.loading import ContactCounts, load_contacts
from retention.stages.contacts.validation import NON_ASCII_LOCAL_PART, check_email, phone_e164

FIXTURES = Path(__file__).parents[1] / "fixtures"
SAMPLE = Path(__file__).parents[2] / "data" / "sample" / "contacts.csv"


def settings(path: Path, columns: tuple[str, ...] = CONTACT_COLUMNS) -> SourceSettings:
    return SourceSettings(
        path=str(path),
        format="auto",
        columns={name: name for name in columns},
        section="[source.contacts]",
    )


def load(
    path: Path, columns: tuple[str, ...] = CONTACT_COLUMNS, **kwargs
) -> tuple[ContactCounts, dict[str, dict]]:
    """Load a file into a fresh in-memory warehouse; rows of `contacts` by user_id."""
    con = duckdb.connect()
    counts = load_contacts(con, settings(path, columns), run_id=7, **kwargs)
    frame = con.execute("SELECT * FROM contacts ORDER BY user_id").df()
    rows = {row["user_id"]: row for row in frame.to_dict("records")}
    assert set(frame["run_id"]) == {7}
    return counts, rows


CONSENT = {
    "u_true": True,
    "u_yes": True,
    "u_y": True,
    "u_1": True,
    "u_t": True,
    "u_on": True,
    "u_false": False,
    "u_no": False,
    "u_n": False,
    "u_0": False,
    "u_f": False,
    "u_off": False,
    "u_missing": False,
    "u_maybe": False,
    "u_2": False,
}


def test_consent_spellings_parse_case_insensitively_and_unknown_ones_are_counted():
    counts, rows = load(
        FIXTURES / "contacts_consent_spellings.csv", ("user_id", "email_opt_in", "sms_opt_in")
    )
    assert {user: row["email_opt_in"] for user, row in rows.items()} == CONSENT
    assert {user: row["sms_opt_in"] for user, row in rows.items()} == CONSENT
    # maybe, si, 2, "yes please"; empty values are missing, not unparsed
    assert counts.unparsed_consent_values == 4
    assert rows["u_missing"]["email_status"] == "missing"
    assert rows["u_missing"]["phone_status"] == "missing"


PHONES = {
    "us_national": "+12015550123",
    "us_dotted": "+12015550123",
    "gb_mobile": "+447400123456",
    "gb_landline_lower_country": "+441212345678",
    "de_landline": "+4930123456",
    "fr_mobile": "+33612345678",
    "in_mobile": "+918123456789",
    "br_mobile": "+5511961234567",
    "jp_mobile": "+819012345678",
    "intl_other_country": "+447400123456",
    "intl_no_country": "+33612345678",
    "e164_unknown_country": "+819012345678",
    "double_zero_gb": "+447400123456",
    "double_zero_us": "+4930123456",
    "double_zero_no_country": "+33612345678",
    "invalid_short": None,
    "invalid_text": None,
    "invalid_truncated": None,
    "invalid_wrong_country": None,
    "national_unknown_country": None,
    "national_no_country": None,
    "missing": None,
}


def test_phones_become_e164_with_the_row_country_as_default_region():
    counts, rows = load(FIXTURES / "contacts_phones.csv", ("user_id", "phone", "country"))
    assert {user: row["phone_e164"] for user, row in rows.items()} == PHONES
    status = {user: row["phone_status"] for user, row in rows.items()}
    assert status["missing"] == "missing"
    assert status["invalid_text"] == status["national_no_country"] == "invalid"
    assert rows["invalid_text"]["phone_raw"] == "n/a"
    assert rows["missing"]["phone_raw"] is None
    assert rows["gb_landline_lower_country"]["country"] == "GB"
    assert (counts.valid_phones, counts.invalid_phones) == (15, 6)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+1 (201) 555-0123", None, "+12015550123"),
        ("020 7946 000", "GB", None),  # one digit short
        ("0044 7400 123456", "gb", "+447400123456"),
        ("00 44 7400 123456", "US", "+447400123456"),
        ("call me", "US", None),
        ("0" * 300, "US", None),  # past phonenumbers' input length limit
    ],
)
def test_phone_e164_edge_cases(text, region, expected):
    assert phone_e164(text, region) == expected


def test_emails_are_normalised_and_keyed_case_insensitively():
    counts, rows = load(FIXTURES / "contacts_emails.csv", ("user_id", "email"))
    padded = rows["padded_mixed_case"]
    assert (padded["email"], padded["email_key"]) == ("Zhang.Li@aol.com", "zhang.li@aol.com")
    assert rows["upper"]["email"] == "MARY@hotmail.co.uk"
    assert rows["non_ascii_local"]["email"] == "jürgen.müller@web.de"
    assert rows["idn_domain"]["email"] == "anna@münchen.de"
    assert rows["no_domain"]["email_problem"] == "There must be something after the @-sign."
    assert rows["no_at"]["email_problem"] == "An email address must have an @-sign."
    invalid = {"no_domain", "no_tld", "no_at", "two_at", "space_inside"}
    assert {u for u, row in rows.items() if row["email_status"] == "invalid"} == invalid
    assert all(rows[u]["email"] is None and rows[u]["email_problem"] for u in invalid)
    assert rows["missing"]["email_status"] == "missing"
    assert rows["missing"]["email_problem"] is None
    assert (counts.valid_emails, counts.invalid_emails) == (4, 5)


def test_non_ascii_local_parts_can_be_refused():
    counts, rows = load(
        FIXTURES / "contacts_emails.csv", ("user_id", "email"), allow_non_ascii_local=False
    )
    refused = rows["non_ascii_local"]
    assert (refused["email"], refused["email_status"]) == (None, "invalid")
    assert refused["email_problem"] == NON_ASCII_LOCAL_PART
    assert rows["idn_domain"]["email"] == "anna@münchen.de"  # only the local part counts
    assert counts.valid_emails == 3
    assert check_email("用户@qq.com", allow_non_ascii_local=False) == (None, NON_ASCII_LOCAL_PART)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_newest_row_gives_the_address_and_any_opt_out_withdraws_consent(tmp_path, fmt):
    path = FIXTURES / "contacts_two_rows.csv"
    if fmt != "csv":
        path = tmp_path / f"contacts.{fmt}"
        copy = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT json)"
        source = FIXTURES / "contacts_two_rows.csv"
        duckdb.execute(f"COPY (FROM read_csv('{source}', all_varchar=true)) TO '{path}' {copy}")
    counts, rows = load(path)
    moved = rows["moved"]
    assert (moved["email"], moved["phone_e164"], moved["country"]) == (
        "new.address@gmail.com",
        "+4930123456",
        "DE",
    )
    assert (moved["email_opt_in"], moved["sms_opt_in"], moved["source_rows"]) == (True, True, 2)
    withdrew = rows["withdrew"]
    assert (withdrew["email_opt_in"], withdrew["sms_opt_in"]) == (False, False)
    assert withdrew["email_shared_opt_out"] is False  # one user's own rows are not "shared"
    assert rows["resubscribed"]["email_opt_in"] is False
    assert rows["resubscribed"]["email"] == "second@gmail.com"
    assert (rows["went_quiet"]["email_opt_in"], rows["went_quiet"]["sms_opt_in"]) == (False, False)
    assert rows["single"]["source_rows"] == 1
    assert (counts.rows_read, counts.users) == (9, 5)


def test_file_order_survives_a_connection_that_does_not_preserve_it():
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    load_contacts(con, settings(FIXTURES / "contacts_two_rows.csv"), run_id=1)
    email = con.execute("SELECT email FROM contacts WHERE user_id = 'moved'").fetchall()
    assert email == [("new.address@gmail.com",)]
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [
        (False,)
    ]


def test_a_shared_address_is_suppressed_for_all_when_one_user_opted_out():
    counts, rows = load(FIXTURES / "contacts_shared_addresses.csv")
    emails = {u for u, row in rows.items() if row["email_shared_opt_out"]}
    phones = {u for u, row in rows.items() if row["phone_shared_opt_out"]}
    assert emails == {"parent", "child", "unknown_consent"}  # Family@ = family@
    # 07400 123456 in GB = +44 7400 123456: the parent said no to SMS, so the
    # child cannot be texted on it; the parent's own no is their own consent
    assert phones == {"child"}
    assert rows["parent"]["sms_opt_in"] is False
    assert rows["parent"]["email_opt_in"] is True  # own consent is kept apart
    assert rows["flatmate_a"]["email_key"] == rows["flatmate_b"]["email_key"]
    assert counts.shared_opt_out_addresses == 2


def test_junk_values_shared_by_many_users_link_nobody():
    _, rows = load(FIXTURES / "contacts_shared_addresses.csv")
    junk = [rows[f"junk_{i}"] for i in (1, 2, 3)]
    assert all(row["email_status"] == row["phone_status"] == "invalid" for row in junk)
    assert not any(row["email_shared_opt_out"] or row["phone_shared_opt_out"] for row in junk)


def test_loading_a_run_twice_replaces_its_rows_and_leaves_no_temp_tables():
    con = duckdb.connect()
    source = settings(FIXTURES / "contacts_two_rows.csv")
    load_contacts(con, source, run_id=1)
    load_contacts(con, source, run_id=1)
    load_contacts(con, source, run_id=2)
    per_run = con.execute("SELECT run_id, count(*) FROM contacts GROUP BY 1 ORDER BY 1").fetchall()
    assert per_run == [(1, 5), (2, 5)]
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    assert tables == []


def test_the_bundled_sample_contacts():
    counts, rows = load(SAMPLE)
    assert counts == ContactCounts(
        rows_read=19_179,
        malformed_rows=0,
        rows_without_user_id=0,
        users=18_812,  # 367 users have an older and a newer row
        valid_emails=17_361,
        invalid_emails=514,
        valid_phones=16_800,
        invalid_phones=679,
        not_mobile_phones=2_693,  # landlines by phonenumbers: never texted
        unparsed_consent_values=0,
        shared_opt_out_addresses=90,  # 94 shared pairs; 4 of them share an invalid value
        suppressed_list_addresses=0,
    )
    assert sum(row["source_rows"] == 2 for row in rows.values()) == 367
    # of each pair sharing an address, the one who did not opt out is flagged
    assert sum(row["email_shared_opt_out"] for row in rows.values()) == 45
    assert sum(row["phone_shared_opt_out"] for row in rows.values()) == 45
    newer = rows["u_def363"]  # the older row (an aol.com address) comes first in the file
    assert (newer["email"], newer["email_opt_in"], newer["sms_opt_in"]) == (
        "ana.zhang20081@btinternet.com",
        False,
        False,
    )
    assert rows["0035079"]["email"] == "jliu612593@gmail.com"  # leading zeros kept


def test_rows_without_a_user_and_malformed_lines_suppress_their_addresses(caplog):
    con = duckdb.connect()
    counts = load_contacts(
        con, settings(FIXTURES / "contacts_malformed_and_anonymous_rows.csv"), run_id=7
    )
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT user_id, email_shared_opt_out, has_malformed_row FROM contacts"
        ).fetchall()
    }
    assert rows == {"kept": (True, False), "also_kept": (False, False)}
    # the row naming nobody opted out of kept@gmail.com: nobody gets it
    assert (counts.rows_read, counts.malformed_rows, counts.rows_without_user_id) == (4, 1, 1)
    rejects = con.execute("SELECT source_line, reason, detail, source_text FROM contact_rejects")
    assert rejects.fetchall() == [
        (
            4,
            "malformed_contact_row",
            "7 fields where the header has 6",
            "too,many,fields,here,a,b,c",
        )
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        "1 lines could not be read; every address they name is suppressed" in w for w in warnings
    )


def test_a_broken_json_line_costs_that_line_and_suppresses_what_it_names(tmp_path):
    # one line cut off mid-object names a user who said yes elsewhere: DuckDB's
    # reader would refuse the file (or drop the line unseen); here the line is
    # kept with its text and everything it names is suppressed
    path = tmp_path / "contacts.jsonl"
    path.write_text(
        '{"user_id": "kept", "email": "kept@gmail.com", "phone": 4930123456, "country": "DE", '
        '"email_opt_in": "yes", "sms_opt_in": true}\n'
        "\n"
        '{"user_id": "broken", "email": "Broken@Gmail.com", "email_opt_in": "no"\n'
        '["not", "an", "object"]\n'
        '{"user_id": "broken", "email": "broken@gmail.com", "email_opt_in": "yes"}\n',
        encoding="utf-8",
    )
    con = duckdb.connect()
    counts = load_contacts(con, settings(path), run_id=7)
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT user_id, email, phone_e164, email_opt_in, sms_opt_in, has_malformed_row "
            "FROM contacts"
        ).fetchall()
    }
    assert rows["kept"] == ("kept@gmail.com", "+4930123456", True, True, False)
    assert rows["broken"][-1] is True  # named on a broken line: suppressed on every channel
    assert (counts.rows_read, counts.malformed_rows) == (4, 2)
    rejects = con.execute(
        "SELECT source_line, reason, detail FROM contact_rejects ORDER BY source_line"
    ).fetchall()
    assert rejects == [
        (3, "malformed_contact_row", "not valid JSON"),
        (4, "malformed_contact_row", "not a JSON object"),
    ]
    suppressed = con.execute(
        "SELECT DISTINCT address FROM contact_suppressions WHERE reason = 'malformed_contact_row'"
    ).fetchall()
    assert ("broken@gmail.com",) in suppressed


def test_a_json_array_that_does_not_parse_suppresses_every_line(tmp_path):
    path = tmp_path / "contacts.json"
    path.write_text(
        '[\n{"user_id": "a", "email": "a@gmail.com", "email_opt_in": "yes"},\n'
        '{"user_id": "b", "email": "b@gmail.com", "email_opt_in": "yes"\n]\n',
        encoding="utf-8",
    )
    con = duckdb.connect()
    counts = load_contacts(con, settings(path), run_id=7)
    assert counts.malformed_rows == 2
    allowed = con.execute(
        "SELECT count(*) FROM contacts WHERE email_opt_in AND NOT has_malformed_row"
    ).fetchall()
    assert allowed == [(0,)]
