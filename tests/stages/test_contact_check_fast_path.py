"""The bulk email and phone checks give the libraries' answer for every value.

check_emails and check_phones answer most values a column at a time and ask
email-validator and phonenumbers only about the rest; library_check_emails
and library_check_phones ask the libraries about every value. Each test
compares the two outputs row for row on a seeded, varied set: the sample
generator's untidy contacts, hand-written edge cases, and numbers of every
region phonenumbers knows, in national, international and mistyped forms.
A test also checks that the bulk path answered most values itself, so that
the comparison is not the library against itself.
"""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import phonenumbers
import pyarrow as pa
import pytest
from phonenumbers import PhoneMetadata, PhoneNumberFormat

from retention.sample import contacts as sample_contacts
from retention.stages.contacts import validation
from retention.stages.contacts.fast_phones import fast_phones
from retention.stages.contacts.validation import (
    PHONE_TYPES,
    check_emails,
    check_phones,
    library_check_emails,
    library_check_phones,
)

SEED = 20_240_601


def address_of_length(length: int, case=str) -> str:
    """A plain address of `length` characters: 254 is email-validator's limit."""
    domain = "d" * 60 + "." + "e" * 60 + "." + "f" * 60 + ".com"
    return case("l" * (length - len(domain) - 1) + "@" + domain)


EMAIL_CASES = [
    "Zhang.Li@AOL.COM",
    "MARY@hotmail.co.uk",
    "A@B.CO",
    "anna@münchen.de",
    "anna@MÜNCHEN.DE",
    "anna@xn--mnchen-3ya.de",
    "a@b.xn--p1ai",
    "a@ab--cd.com",
    "a@xn--abc.com",
    '"john doe"@gmail.com',
    '"john"@gmail.com',
    '"a\\"b"@x.com',
    "a@b.com.",
    ".a@b.com",
    "a.@b.com",
    "a..b@c.com",
    "a@b..com",
    "a@.b.com",
    "a@-b.com",
    "a@b-.com",
    "a@b.-com",
    "a@b.com-",
    "-a@b.com",
    "a-@b.com",
    "a@b_c.com",
    "a@b.c",
    "a@b.c1",
    "a@b.1c",
    "a@123.com",
    "a@x.123",
    "a@1.2.3.4",
    "a@[1.2.3.4]",
    "a@[IPv6:::1]",
    "a@localhost",
    "a@x.localhost",
    "a@x.local",
    "a@x.LOCAL",
    "a@x.test",
    "a@test",
    "a@x.invalid",
    "a@x.onion",
    "a@x.arpa",
    "a@in-addr.arpa",
    "a@example.com",
    "a@x.example",
    "a@notlocal.com",
    "a@local.com",
    "info@company.com",
    "INFO@company.com",
    "Postmaster@x.org",
    "infos@company.com",
    "a+tag@gmail.com",
    "o'brien@x.ie",
    "a/b=c?d^e`f{g|h}i~j@x.org",
    "#!$%&*@x.org",
    "a@b@c.com",
    "a@@b.com",
    "@b.com",
    "a@",
    "@",
    "a",
    "Name <a@b.com>",
    "<a@b.com>",
    "a@b.com>",
    " a@b.com",
    "a@b.com ",
    "a@b.com\n",
    "a@b.com\x0b",
    "a @b.com",
    "a@b .com",
    "a\tb@c.com",
    "a\u200b@b.com",
    "a@b\u200b.com",
    "e\u0301@x.com",
    "\u0301e@x.com",
    "ﬁ@x.com",
    "a@ＥＸＡＭＰＬＥ.com",
    "a@b。com",
    "ａ@b.com",
    "jürgen.müller@web.de",
    "JÜRGEN@WEB.DE",
    "用户@qq.com",
    "søren@x.dk",
    "İ@x.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@b." + "c" * 63,
    "a@b." + "c" * 64,
    "x" * 64 + "@gmail.com",
    "x" * 65 + "@gmail.com",
    "x" * 200 + "@gmail.com",
    *(address_of_length(length, case) for length in (253, 254, 255) for case in (str, str.upper)),
]
PHONE_CASES = [
    ("+1 (201) 555-0123", None),
    ("2015550123", "US"),
    ("1 201 555 0123", "US"),
    ("1-201-555-0123", "CA"),
    ("+12015550123", "GB"),
    ("0044 7400 123456", "GB"),
    ("0044 7400 123456", "US"),
    ("0044 7400 123456", None),
    ("00 44 7400 123456", "US"),
    ("00-44-7400-123456", "DE"),
    ("011 44 7400 123456", "US"),
    ("07400 123456", "GB"),
    ("7400 123456", "GB"),
    ("07400 123456", "gb"),
    ("07400 123456", "Gb"),
    ("07400 123456", " GB"),
    ("07400 123456", "UK"),
    ("07400 123456", "ZZ"),
    ("07400 123456", "001"),
    ("07400 123456", ""),
    ("07400 123456", None),
    ("07400 123456", "ß"),
    ("+44 (0) 7400 123456", None),
    ("+44 07400 123456", None),
    ("+ 44 7400 123456", None),
    ("++44 7400 123456", None),
    ("(+44) 7400 123456", None),
    ("+44 7400 123456 ext. 12", None),
    ("+44 7400 123456 x12", None),
    ("+44 7400 123456#", None),
    ("+44-7400-123456.", None),
    ("+44\u00a07400 123456", None),
    ("+44 ７４００ 123456", None),
    ("٠٧٤٠٠١٢٣٤٥٦", "GB"),
    ("tel:+44-7400-123456", None),
    ("+44 7400 123456;phone-context=+44", None),
    (" +44 7400 123456 ", None),
    ("7400.123.456", "GB"),
    ("020 7946 0000", "GB"),
    ("020 7946 000", "GB"),
    ("+1 800 555 0123", None),
    ("1-800-FLOWERS", "US"),
    ("+800 1234 5678", None),
    ("+7 912 345 67 89", None),
    ("8 912 345 67 89", "RU"),
    ("8 (7172) 12 34 56", "KZ"),
    ("+39 06 1234 5678", None),
    ("06 1234 5678", "IT"),
    ("+61 4 1234 5678", None),
    ("0412 345 678", "AU"),
    ("1831 0412 345 678", "AU"),
    ("+86 138 0013 8000", None),
    ("010 1234 5678", "CN"),
    ("+55 11 96123-4567", None),
    ("(11) 96123-4567", "BR"),
    ("0 11 96123 4567", "BR"),
    ("(55) 99123-4567", "BR"),
    ("+54 9 11 1234-5678", None),
    ("011 15-1234-5678", "AR"),
    ("+81 90-1234-5678", None),
    ("090-1234-5678", "JP"),
    ("+1 268 464 1234", None),
    ("268 464 1234", "AG"),
    ("+44 1481 123456", None),
    ("01481 123456", "GG"),
    ("91 81234 56789", "IN"),
    ("+91 81234 56789", None),
    ("+113101234", None),  # 1 is the US national prefix, but 7 digits are local only
    ("+0 123 4567", None),
    ("+999 1234 5678", "US"),
    ("+", None),
    ("00", "GB"),
    ("0", "GB"),
    ("12", "US"),
    ("1-2", "US"),
    ("123", "US"),
    ("+12", None),
    ("0012", None),
    ("00123", None),
    ("call me", "US"),
    ("n/a", "GB"),
    ("0" * 300, "US"),
    ("1" * 40, "US"),
    ("+" + "4" * 20, None),
    ("(", "US"),
    ("()-. ", "US"),
]


def differences(fast: pa.Table, library: pa.Table) -> list[dict]:
    """The rows on which the two outputs differ (the first 10)."""
    assert fast.schema == library.schema and fast.num_rows == library.num_rows
    pairs = zip(fast.to_pylist(), library.to_pylist(), strict=True)
    return [{"fast": a, "library": b} for a, b in pairs if a != b][:10]


@pytest.fixture(scope="module")
def sample_rows() -> list[dict[str, str]]:
    """Untidy contact rows from the project's generator (seeded)."""
    people = 8_000
    handle = io.StringIO()
    sample_contacts.write_batch(
        sample_contacts.header(handle),
        np.random.default_rng(SEED),
        sample_contacts.PhoneBook.build(SEED),
        0,
        np.array([f"u{i}" for i in range(people)]),
        np.zeros(people, dtype=np.int64),
    )
    return list(csv.DictReader(io.StringIO(handle.getvalue())))


@pytest.fixture(scope="module")
def emails(sample_rows) -> list[str]:
    found = {row["email"] for row in sample_rows} | {row["email"].strip() for row in sample_rows}
    return sorted(found - {""}) + EMAIL_CASES


@pytest.fixture(scope="module")
def phones(sample_rows) -> list[tuple[str, str | None]]:
    """Sample phones with their row's country, with none and with another
    (malformed rows are tried in every country), then every region's numbers."""
    rng = random.Random(SEED)
    countries = sorted({row["country"] for row in sample_rows})
    found = set()
    for row in sample_rows:
        if row["phone"]:
            found |= {(row["phone"], row["country"]), (row["phone"], None)}
            found.add((row["phone"], rng.choice(countries)))
    return sorted(found, key=str) + region_numbers(rng) + PHONE_CASES


def region_numbers(rng: random.Random) -> list[tuple[str, str | None]]:
    """Example numbers of every region and type, in each format, one digit off
    or not, with the region's prefixes and without, under assorted regions."""
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    out = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        for kind in range(11):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for style in (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL):
                text = mistype(rng, phonenumbers.format_number(example, style))
                default = rng.choice([region, region, region.lower(), None, rng.choice(regions)])
                out.append((text, default))
                if text.startswith("+"):
                    out += [("00" + text[1:], default), (text[1:], region)]
                    if (metadata.international_prefix or "").isdigit():
                        out.append((metadata.international_prefix + text[1:], region))
                else:
                    out += [((metadata.national_prefix or "") + text, default)]
                    out.append((str(metadata.country_code) + text, region))
                    out.append((f"+{metadata.country_code} {text}", None))
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 18)))
        out.append((rng.choice(["", "+", "00", "0", "1"]) + digits, rng.choice([region, None])))
    return out


def mistype(rng: random.Random, text: str) -> str:
    """Half of the time one digit changed, dropped or doubled."""
    places = [i for i, char in enumerate(text) if char.isdigit()]
    if rng.random() < 0.5 or not places:
        return text
    i, digit = rng.choice(places), rng.choice("0123456789")
    return rng.choice(
        [text[:i] + digit + text[i + 1 :], text[:i] + text[i + 1 :], text[:i] + digit + text[i:]]
    )


@pytest.mark.parametrize("allow_non_ascii_local", [True, False])
def test_emails_match_the_library(emails, allow_non_ascii_local):
    fast = check_emails(emails, allow_non_ascii_local)
    library = library_check_emails(emails, allow_non_ascii_local)
    assert differences(fast, library) == []


def test_phones_match_the_library(phones):
    assert differences(check_phones(phones), library_check_phones(phones)) == []


def test_the_bulk_path_answers_most_values_itself(emails, phones):
    # otherwise the comparisons above would test the library against itself
    plain = validation._plain_emails(pa.array(emails))
    assert plain.mean() > 0.9
    texts, regions = zip(*phones, strict=True)
    answered, e164, _ = fast_phones(pa.array(texts), pa.array(regions, pa.string()), PHONE_TYPES)
    assert answered.mean() > 0.8
    assert 0.2 < np.mean([x is not None for x in e164.to_pylist()]) < 0.9  # valid and invalid


def test_the_comparison_notices_a_wrong_bulk_answer(emails, monkeypatch):
    right = validation._plain_addresses

    def local_part_lower_cased(texts, plain):
        emails, keys = right(texts, plain)
        return keys, keys

    monkeypatch.setattr(validation, "_plain_addresses", local_part_lower_cased)
    assert differences(check_emails(emails), library_check_emails(emails)) != []


def test_changed_library_rules_turn_the_email_shortcut_off(monkeypatch):
    import email_validator

    monkeypatch.setattr(email_validator, "STRICT", True)  # 64-character local parts then
    long_local = ["x" * 65 + "@gmail.com"]
    assert check_emails(long_local).column("email").to_pylist() == [None]


def test_arrow_input_gives_the_same_table(emails, phones):
    assert check_emails(pa.chunked_array([emails[:10], emails[10:]])).equals(check_emails(emails))
    texts, regions = zip(*phones[:2000], strict=True)
    table = pa.table({"phone_text": texts, "phone_region": pa.array(regions, pa.string())})
    assert check_phones(table).equals(check_phones(phones[:2000]))
