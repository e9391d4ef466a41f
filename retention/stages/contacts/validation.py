"""Email and phone checks for the contacts stage, on distinct values.

These are the two steps of the contacts stage that SQL cannot do: the rules
for what makes an address valid live in the `email-validator` and
`phonenumbers` libraries. Callers pass each distinct value once (contact files
repeat values, and the libraries cost 15-20 microseconds a call), and get back
columns that DuckDB joins onto the rows. Nothing here touches the network:
email checks are syntax only (`check_deliverability=False`).
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
import pyarrow as pa
from email_validator import EmailNotValidError, validate_email

NON_ASCII_LOCAL_PART = "non_ascii_local_part"
E164 = phonenumbers.PhoneNumberFormat.E164
REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
PHONE_TYPES = {
    value: name
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}


def check_email(text: str, allow_non_ascii_local: bool = True) -> tuple[str | None, str | None]:
    """(normalized address, None) for a valid address, else (None, problem).

    The library normalizes the local part (Unicode NFC, case kept: it can matter
    to the receiving server) and the domain (IDNA); the domain is lower-cased
    again here so that the stored address is the same whatever case was typed.
    Some email tools refuse non-ASCII local parts, hence the option.
    """
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    if not allow_non_ascii_local and not result.local_part.isascii():
        return None, NON_ASCII_LOCAL_PART
    local, _, domain = result.normalized.rpartition("@")
    return f"{local}@{domain.lower()}", None


def check_emails(values: Iterable[str], allow_non_ascii_local: bool = True) -> pa.Table:
    """One row per value: email_text, email (normalized), email_key, email_problem.

    email_key is the whole address lower-cased: two spellings that differ only
    in case are one mailbox for de-duplication and shared-address checks.
    """
    texts, emails, keys, problems = [], [], [], []
    for text in values:
        email, problem = check_email(text, allow_non_ascii_local)
        texts.append(text)
        emails.append(email)
        keys.append(None if email is None else email.lower())
        problems.append(problem)
    return pa.table(
        {"email_text": texts, "email": emails, "email_key": keys, "email_problem": problems},
        schema=pa.schema(
            [(name, pa.string()) for name in ("email_text", "email", "email_key", "email_problem")]
        ),
    )


def phone_e164(text: str, region: str | None) -> str | None:
    """The E.164 form of a valid number, else None.

    `region` (an ISO country code) is the default for numbers written without
    a country code; an unknown or missing region leaves only international
    spellings parseable. A leading "00" is tried as "+" when the number does
    not parse otherwise: people write it whatever their country's real
    international prefix is (011 in the US).
    """
    number = _parse_phone(text, region)
    return None if number is None else phonenumbers.format_number(number, E164)


def phone_check(text: str, region: str | None) -> tuple[str | None, str | None]:
    """(E.164 form, line type such as MOBILE or FIXED_LINE) of a valid number, else (None, None).

    The line type is phonenumbers' own: FIXED_LINE_OR_MOBILE where a country's
    numbering plan cannot tell the two apart (the US), so such numbers stay
    reachable by SMS.
    """
    number = _parse_phone(text, region)
    if number is None:
        return None, None
    kind = phonenumbers.number_type(number)
    return phonenumbers.format_number(number, E164), PHONE_TYPES.get(kind, "UNKNOWN")


def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    region = region.upper() if region and region.upper() in REGIONS else None
    number = _valid_number(text, region)
    stripped = text.strip()
    if number is None and stripped.startswith("00"):
        number = _valid_number("+" + stripped[2:], None)
    return number


def _valid_number(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def check_phones(pairs: Iterable[tuple[str, str | None]]) -> pa.Table:
    """One row per (phone_text, phone_region) pair: phone_e164 and phone_type (NULL if invalid)."""
    texts, regions, numbers, kinds = [], [], [], []
    for text, region in pairs:
        texts.append(text)
        regions.append(region)
        number, kind = phone_check(text, region)
        numbers.append(number)
        kinds.append(kind)
    columns = ("phone_text", "phone_region", "phone_e164", "phone_type")
    return pa.table(
        dict(zip(columns, (texts, regions, numbers, kinds), strict=True)),
        schema=pa.schema([(name, pa.string()) for name in columns]),
    )
