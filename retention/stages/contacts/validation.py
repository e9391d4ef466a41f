"""Email and phone checks for the contacts stage, on distinct values.

These are the two steps of the contacts stage that SQL cannot do: the rules
for what makes an address valid live in the `email-validator` and
`phonenumbers` libraries. Callers pass each distinct value once (contact files
repeat values), and get back columns that DuckDB joins onto the rows. Nothing
here touches the network: email checks are syntax only
(`check_deliverability=False`).

The libraries cost 15-30 microseconds a call: about 40 s for a million
distinct contacts. So `check_emails` and `check_phones` answer the plainly
well-formed majority in bulk, with the libraries' own rules applied a column
at a time (ASCII dot-atom addresses here, phones in fast_phones.py), and call
the libraries only for the rest (a few percent of real contact files).
`library_check_emails` and
`library_check_phones` are the one-call-per-value path alone: the reference
that the bulk path must equal, value for value
(tests/stages/test_contact_check_fast_path.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import email_validator
import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email
from email_validator import syntax as email_syntax

from retention.stages.contacts.fast_phones import fast_phones

log = logging.getLogger(__name__)

NON_ASCII_LOCAL_PART = "non_ascii_local_part"
E164 = phonenumbers.PhoneNumberFormat.E164
REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
PHONE_TYPES = {
    value: name
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}
EMAIL_COLUMNS = ("email_text", "email", "email_key", "email_problem")
PHONE_COLUMNS = ("phone_text", "phone_region", "phone_e164", "phone_type")
ATEXT = r"A-Za-z0-9_!#$%&'*+/=?^`{|}~-"  # RFC 5322 atext, as in email_validator.rfc_constants
LABEL_MIDDLE = email_syntax.DNS_LABEL_LENGTH_LIMIT - 2
#: local@label.label...tld: an ASCII dot-atom local part, host-name labels of
#: at most 63 characters, and a last label that ends in a letter.
PLAIN_EMAIL = (
    rf"^[{ATEXT}]+(?:\.[{ATEXT}]+)*@"
    rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,{LABEL_MIDDLE}}}[A-Za-z0-9])?\.)+"
    rf"(?:[A-Za-z0-9][A-Za-z0-9-]{{0,{LABEL_MIDDLE}}})?[A-Za-z]$"
)
PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")

Pairs = Iterable[tuple[str, str | None]]


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


def check_emails(
    values: Iterable[str] | pa.Array | pa.ChunkedArray,
    allow_non_ascii_local: bool = True,
) -> pa.Table:
    """One row per value, in input order: email_text, email (normalized), email_key, email_problem.

    email_key is the whole address lower-cased: two spellings that differ only
    in case are one mailbox for de-duplication and shared-address checks.
    """
    texts = _strings(values)
    plain = _plain_emails(texts)
    emails, keys = _plain_addresses(texts, plain)
    asked = pa.array(~plain)
    checked = _check_email_list(texts.filter(asked).to_pylist(), allow_non_ascii_local)
    emails = pc.replace_with_mask(emails, asked, pa.array([e for e, _ in checked], pa.string()))
    keys = pc.replace_with_mask(keys, asked, pa.array([_key(e) for e, _ in checked], pa.string()))
    problems = pa.array([p for _, p in checked], pa.string())
    problems = pc.replace_with_mask(pa.nulls(len(texts), pa.string()), asked, problems)
    return _table(EMAIL_COLUMNS, (texts, emails, keys, problems))


def _plain_emails(texts: pa.Array) -> np.ndarray:
    """Addresses that validate_email(text, check_deliverability=False) accepts
    unchanged but for the domain's case: plain ASCII, one @-sign, no quotes
    and no IDN labels, within 254 characters, and none of the names the library
    treats specially. Every invalid address is left to the library, for its
    exact problem text."""
    if not _email_defaults_hold():
        return np.zeros(len(texts), dtype=bool)
    plain = pc.and_(
        pc.match_substring_regex(texts, PLAIN_EMAIL),
        pc.less_equal(pc.utf8_length(texts), email_syntax.EMAIL_MAX_LENGTH),
    )
    special = pc.match_substring_regex(texts, _special_names())
    return pc.fill_null(pc.and_not(plain, special), False).to_numpy(zero_copy_only=False)


def _email_defaults_hold() -> bool:
    """The shortcut assumes email-validator's default rules (a program may change them)."""
    names = [*_mailbox_names(), *email_validator.SPECIAL_USE_DOMAIN_NAMES]
    return (
        not email_validator.STRICT
        and email_validator.GLOBALLY_DELIVERABLE
        and all(PLAIN_NAME.fullmatch(name) for name in names)
    )


def _mailbox_names() -> list[str]:
    """RFC 2142 names (info, sales, ...), from the list validate_email itself reads."""
    return list(validate_email.__globals__["CASE_INSENSITIVE_MAILBOX_NAMES"])


def _special_names() -> str:
    """RFC 2142 mailboxes (lower-cased by the library), special-use domains
    (refused) and "--" after the @-sign (R-LDH and Punycode labels)."""
    mailboxes = "|".join(sorted(set(_mailbox_names())))
    reserved = "|".join(re.escape(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
    return rf"(?i)^(?:{mailboxes})@|[@.](?:{reserved})$|@.*--"


def _plain_addresses(texts: pa.Array, plain: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(email, email_key) of the plain addresses (NULL elsewhere): the domain
    lower-cased, and the whole address lower-cased."""
    rows = pa.array(plain)
    subset = texts.filter(rows)
    local_and_domain = pc.split_pattern(subset, "@", max_splits=1)
    emails = pc.binary_join_element_wise(
        pc.list_element(local_and_domain, 0),
        pc.utf8_lower(pc.list_element(local_and_domain, 1)),
        "@",
    )
    nothing = pa.nulls(len(texts), pa.string())
    keys = pc.utf8_lower(subset)
    return pc.replace_with_mask(nothing, rows, emails), pc.replace_with_mask(nothing, rows, keys)


def library_check_emails(values: Iterable[str], allow_non_ascii_local: bool = True) -> pa.Table:
    """check_emails with one library call per value: the reference for the bulk path."""
    texts = list(values)
    checked = _check_email_list(texts, allow_non_ascii_local)
    return _table(
        EMAIL_COLUMNS,
        (texts, [e for e, _ in checked], [_key(e) for e, _ in checked], [p for _, p in checked]),
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


def check_phones(pairs: Pairs | pa.Table) -> pa.Table:
    """One row per (phone_text, phone_region) pair, in input order: phone_e164 and
    phone_type (NULL if invalid).

    `pairs` may be an Arrow table whose first two columns are text and region.
    """
    texts, regions = _phone_columns(pairs)
    answered, numbers, kinds = fast_phones(texts, regions, PHONE_TYPES)
    asked = pa.array(~answered)
    others = zip(texts.filter(asked).to_pylist(), regions.filter(asked).to_pylist(), strict=True)
    checked = _check_phone_list(list(others))
    numbers = pc.replace_with_mask(numbers, asked, pa.array([e for e, _ in checked], pa.string()))
    kinds = pc.replace_with_mask(kinds, asked, pa.array([k for _, k in checked], pa.string()))
    return _table(PHONE_COLUMNS, (texts, regions, numbers, kinds))


def library_check_phones(pairs: Pairs) -> pa.Table:
    """check_phones with one library call per pair: the reference for the bulk path."""
    pairs = list(pairs)
    checked = _check_phone_list(pairs)
    return _table(
        PHONE_COLUMNS,
        (
            [text for text, _ in pairs],
            [region for _, region in pairs],
            [e for e, _ in checked],
            [k for _, k in checked],
        ),
    )


def _check_email_list(
    texts: list[str], allow_non_ascii_local: bool = True
) -> list[tuple[str | None, str | None]]:
    return [check_email(text, allow_non_ascii_local) for text in texts]


def _check_phone_list(pairs: list[tuple[str, str | None]]) -> list[tuple[str | None, str | None]]:
    return [phone_check(text, region) for text, region in pairs]


def _key(email: str | None) -> str | None:
    return None if email is None else email.lower()


def _strings(values: Iterable[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.string())
    return pa.array(list(values), pa.string())


def _phone_columns(pairs: Pairs | pa.Table) -> tuple[pa.Array, pa.Array]:
    if isinstance(pairs, pa.Table):
        return _strings(pairs.column(0)), _strings(pairs.column(1))
    pairs = list(pairs)
    return _strings(text for text, _ in pairs), _strings(region for _, region in pairs)


def _table(names: tuple[str, ...], columns: tuple) -> pa.Table:
    return pa.table(
        dict(zip(names, columns, strict=True)),
        schema=pa.schema([(name, pa.string()) for name in names]),
    )
