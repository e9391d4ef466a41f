"""Consent fails closed: the cases that once let opted-out people through, one test each,
the suppression list, SMS only to mobiles, and a property test over random contact files.

Arrange a contacts file, load it as the contacts stage does, and read
channel_problems (the model that decides both assignments and re-exports):
a user may be written on a channel only where the problem is NULL.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.config.pipeline_file import CONTACT_COLUMNS, SourceSettings
from retention.stages.contacts.loading import load_contacts
from retention.warehouse.sql_files import run_sql

HEADER = "user_id,email,phone,country,email_opt_in,sms_opt_in"
GB_MOBILE = "07400 123456"  # +447400123456
GB_LANDLINE = "0121 234 5678"  # +441212345678


def source(path: Path, section: str = "[source.contacts]", columns=CONTACT_COLUMNS):
    return SourceSettings(
        path=str(path), format="auto", columns={c: c for c in columns}, section=section
    )


def problems(
    tmp_path: Path, contacts: str, suppressions: str | None = None, name: str = "contacts.csv"
) -> dict[tuple[str, str], str | None]:
    """(user_id, channel) -> why the user cannot be reached (None: they can)."""
    path = tmp_path / name
    path.write_bytes(contacts.encode("utf-8"))
    listed = None
    if suppressions is not None:
        (tmp_path / "suppressions.csv").write_text(suppressions, encoding="utf-8")
        listed = source(
            tmp_path / "suppressions.csv", "[source.suppressions]", ("address", "channel", "reason")
        )
    con = duckdb.connect()
    load_contacts(con, source(path), run_id=1, suppressions=listed)
    rows = run_sql(con, "contacts/channel_problems.sql", {"contacts_run_id": 1}).fetchall()
    return {(user, channel): problem for user, channel, problem in rows}


# Case 1: an opt-out row with a field too many or too few is not skipped.
@pytest.mark.parametrize(
    "line",
    ["u,u@example.com,,GB,no,no,EXTRA", "u,u@example.com,,GB,no"],
    ids=["one_field_too_many", "one_field_too_few"],
)
def test_a_malformed_opt_out_row_still_suppresses_its_address(tmp_path, line):
    contacts = f"{HEADER}\nu,u@example.com,{GB_MOBILE},GB,yes,yes\n{line}\n"
    found = problems(tmp_path, contacts)
    assert found[("u", "email")] == "malformed_contact_row"
    assert found[("u", "sms")] == "malformed_contact_row"


def test_a_layout_that_broke_the_csv_sniffer_costs_the_line_not_the_file(tmp_path):
    # semicolons, CRLF and LF mixed, a stray quote, a short line: read, not failed
    contacts = (
        "user_id;email;phone;country;email_opt_in;sms_opt_in\r\n"
        "a;a@example.com;;GB;yes;yes\r\n"
        'b;"b@example.com;;GB;yes;yes\n'
        "c;c@example.com;;GB;yes\n"
        "d;d@example.com;;GB;yes;yes\r\n"
    )
    found = problems(tmp_path, contacts)
    assert found[("a", "email")] is None
    assert found[("d", "email")] is None
    # b and c appear only on broken lines: they are nobody's contact, and
    # their addresses are suppressed for anyone else who has them
    assert ("b", "email") not in found and ("c", "email") not in found


def test_a_stray_quote_suppresses_the_addresses_it_names(tmp_path):
    contacts = f'{HEADER}\nb,b@example.com,,GB,yes,yes\nb,"b@example.com,,GB,yes,yes\n'
    assert problems(tmp_path, contacts)[("b", "email")] == "malformed_contact_row"


# Case 2: an opt-out row without a user_id suppresses its address for its owner.
def test_an_opt_out_without_a_user_id_suppresses_the_address_for_everyone(tmp_path):
    contacts = f"{HEADER}\nowner,Someone@WEB.de,,DE,yes,yes\n,someone@web.de,,GB,no,no\n"
    assert problems(tmp_path, contacts)[("owner", "email")] == "no_email_consent"


# Case 3: only an explicit yes grants; an older unreadable value withdraws.
@pytest.mark.parametrize("older", ["unsubscribed", "no\u00a0", "0.0", "false.", "", "maybe"])
def test_an_older_unreadable_consent_value_withdraws_a_newer_yes(tmp_path, older):
    contacts = f"{HEADER}\nu,u@example.com,,GB,{older},yes\nu,u@example.com,,GB,yes,yes\n"
    assert problems(tmp_path, contacts)[("u", "email")] == "no_email_consent"


@pytest.mark.parametrize("spelling", ["yes", "YES", " Yes\u00a0", "\u2003true", "1", "on", "T"])
def test_explicit_yes_spellings_grant_after_unicode_trimming(tmp_path, spelling):
    contacts = f"{HEADER}\nu,u@example.com,,GB,{spelling},no\n"
    assert problems(tmp_path, contacts)[("u", "email")] is None


# Case 5: SMS only to numbers that can receive it; calls may ring a landline.
def test_landlines_get_no_sms_but_may_be_called(tmp_path):
    contacts = f"{HEADER}\nland,,{GB_LANDLINE},GB,no,yes\nmobile,,{GB_MOBILE},GB,no,yes\n"
    found = problems(tmp_path, contacts)
    assert found[("land", "sms")] == "not_mobile"
    assert found[("land", "call")] is None
    assert found[("mobile", "sms")] is None


def test_the_suppression_list_matches_case_idna_and_national_phones(tmp_path):
    contacts = (
        f"{HEADER}\n"
        "anna,Anna@xn--mnchen-3ya.de,,DE,yes,yes\n"
        f"ben,ben@example.com,{GB_MOBILE},GB,yes,yes\n"
        f"cara,cara@example.com,{GB_MOBILE.replace('6', '7')},GB,yes,yes\n"
    )
    suppressions = (
        "address,channel,reason\n"
        "ANNA@münchen.de,email,unsubscribed\n"
        "+44 7400 123456,sms,complaint\n"
        "07400 123457,,bounced\n"
    )
    found = problems(tmp_path, contacts, suppressions)
    assert found[("anna", "email")] == "suppressed_list"
    assert found[("ben", "sms")] == "suppressed_list"
    assert found[("ben", "call")] is None  # listed for sms only
    assert found[("ben", "email")] is None
    assert found[("cara", "sms")] == found[("cara", "call")] == "suppressed_list"


def test_a_broken_suppression_line_suppresses_every_field(tmp_path):
    contacts = f"{HEADER}\nu,u@example.com,,GB,yes,yes\n"
    suppressions = 'address,channel,reason\n"u@example.com,email\n'
    assert problems(tmp_path, contacts, suppressions)[("u", "email")] == "suppressed_list"


# --- the property: nobody who opted out, or is listed, is ever reachable ---------

EMAILS = ["a@example.com", "b@example.com", "c@example.org"]
PHONES = {"+447400123456": "07400 123456", "+447400123457": "07400 123457"}
YES = ["yes", "Y", "true", "1", " on "]
OTHER = ["no", "N", "0", "", "unsubscribed", "0.0", "no\u00a0", "maybe"]


def _email(draw) -> str:
    base = draw(st.sampled_from(EMAILS))
    return "".join(c.upper() if draw(st.booleans()) else c for c in base)


@st.composite
def contact_files(draw):
    """Rows (user, email, phone, email consent, sms consent, field-count change),
    suppression entries (address, channel)."""
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        user = draw(st.sampled_from(["u1", "u2", "u3", ""]))
        email = draw(st.sampled_from(["", _email(draw)]))
        phone_key = draw(st.sampled_from(["", *PHONES]))
        phone = "" if not phone_key else draw(st.sampled_from([phone_key, PHONES[phone_key]]))
        consent = st.sampled_from(YES + OTHER)
        rows.append((user, email, phone, draw(consent), draw(consent), draw(st.integers(-1, 1))))
    entries = draw(
        st.lists(
            st.tuples(
                st.sampled_from(EMAILS + list(PHONES) + list(PHONES.values())),
                st.sampled_from(["", "all", "email", "sms", "call", "fax"]),
            ),
            max_size=3,
        )
    )
    return rows, entries


def _key(address: str) -> str:
    address = address.strip()
    if "@" in address:
        return address.lower()
    return next((key for key, national in PHONES.items() if address in (key, national)), address)


def _allowed(rows, entries, user: str, channel: str) -> bool:
    """The oracle, straight from the rules: may `user` be reached on `channel`?"""
    kind = 1 if channel == "email" else 2
    consent = 3 if channel == "email" else 4
    good = [r for r in rows if r[5] == 0]
    broken = [r for r in rows if r[5] != 0]
    mine = [r for r in good if r[0] == user]
    if not mine or any(user in r[:3] for r in broken):
        return False
    address = mine[-1][kind]
    if not address:
        return False
    key = _key(address)
    if any(_key(r[kind]) == key for r in broken if r[kind]):
        return False
    if any(r[consent].strip().lower() not in ("yes", "y", "true", "1", "on") for r in mine):
        return False
    if any(
        r[consent].strip().lower() not in ("yes", "y", "true", "1", "on")
        for r in good
        if r[kind] and _key(r[kind]) == key
    ):
        return False
    listed = [
        entry_channel for address_listed, entry_channel in entries if _key(address_listed) == key
    ]
    phone_channels = ("sms", "call")
    return not any(
        c == channel or c not in (phone_channels if kind == 2 else ("email",)) for c in listed
    )


def _line(row) -> str:
    user, email, phone, email_ok, sms_ok, change = row
    fields = [user, email, phone, "GB", email_ok, sms_ok]
    if change < 0:
        fields = fields[:-1]
    elif change > 0:
        fields = [*fields, "extra"]
    return ",".join(fields)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=contact_files())
def test_no_reachable_address_belongs_to_anyone_who_opted_out_or_is_listed(tmp_path, data):
    rows, entries = data
    contacts = HEADER + "\n" + "\n".join(_line(row) for row in rows) + "\n"
    suppressions = "address,channel\n" + "\n".join(f"{a},{c}" for a, c in entries) + "\n"
    found = problems(tmp_path, contacts, suppressions)
    for (user, channel), problem in found.items():
        if problem is None:
            assert _allowed(rows, entries, user, channel), (user, channel, contacts, entries)
