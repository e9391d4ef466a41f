"""Synthetic contacts file (``contacts.csv``) matching the sample's users.

Contact data in the wild is typed by people into forms and merged from several
systems, so the file is deliberately untidy in the ways a contact-cleaning step has
to handle: phones in national, international, E.164 and hand-typed formats (mostly
*valid* numbers for their country, built with ``phonenumbers``), some invalid or
missing phones and emails, mixed-case emails, consent flags spelled a dozen ways,
users with an older and a newer row (the newer row comes second in the file), and a
few pairs of users sharing one email or phone where one of the two opted out.

Phones are made fast enough for millions of users: for each country a pool of
number prefixes is validated once (every tested tail must give a valid number), and
each user gets a prefix plus a tail derived from a bijective scramble of the global
user index, so numbers never collide by accident.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from retention.sample.events import BOT

COLUMNS = ("user_id", "email", "phone", "country", "email_opt_in", "sms_opt_in")
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CN", "CA", "AU", "ES")
COUNTRY_P = np.array([0.34, 0.12, 0.10, 0.07, 0.12, 0.09, 0.06, 0.04, 0.03, 0.03])
COUNTRY_CDF = np.cumsum(COUNTRY_P).tolist()
DOMAINS = {
    "US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"),
    "GB": ("gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"),
    "DE": ("gmx.de", "web.de", "gmail.com", "t-online.de"),
    "FR": ("orange.fr", "free.fr", "gmail.com", "laposte.net"),
    "IN": ("gmail.com", "yahoo.co.in", "rediffmail.com"),
    "BR": ("gmail.com", "uol.com.br", "bol.com.br", "hotmail.com"),
    "CN": ("qq.com", "163.com", "126.com", "sina.com"),
    "CA": ("gmail.com", "yahoo.ca", "outlook.com"),
    "AU": ("gmail.com", "bigpond.com", "outlook.com"),
    "ES": ("gmail.com", "hotmail.es", "yahoo.es"),
}
FIRST = (
    "john",
    "mary",
    "wei",
    "priya",
    "lucas",
    "emma",
    "ahmed",
    "sofia",
    "li",
    "raj",
    "anna",
    "pierre",
    "maria",
    "james",
    "fatima",
    "chen",
    "olivia",
    "noah",
    "ana",
    "tom",
)
LAST = (
    "smith",
    "garcia",
    "wang",
    "patel",
    "silva",
    "muller",
    "martin",
    "kumar",
    "brown",
    "zhang",
    "jones",
    "dubois",
    "santos",
    "lopez",
    "singh",
    "taylor",
    "schmidt",
    "liu",
)
NON_ASCII_LOCAL = ("jürgen.müller", "josé.garcía", "françois.dupré", "用户", "søren", "zoë.ñ")
#: (true spelling, false spelling) pairs; each row picks one.
FLAG_STYLES = (
    ("true", "false"),
    ("TRUE", "FALSE"),
    ("True", "False"),
    ("yes", "no"),
    ("Yes", "No"),
    ("Y", "N"),
    ("y", "n"),
    ("1", "0"),
)
INVALID_PHONES = (
    "12345",
    "555-01",
    "n/a",
    "none",
    "call me",
    "+44 12",
    "0000000",
    "123456789012345678",
)
EMAIL_OPT_IN, SMS_OPT_IN = 0.62, 0.38
MISSING_CONTACT, TWO_ROWS, SHARED_PAIRS = 0.05, 0.02, 0.005
#: Phone spellings (see _templates): national, international, E.164, then hand-typed.
STYLE_CDF = np.cumsum([0.33, 0.28, 0.15, 0.08, 0.05, 0.06, 0.05]).tolist()
DRAWS_PER_ROW = 24  # upper bound on the uniforms one contact row consumes
TAIL = 5  # random trailing digits appended to a validated prefix
PREFIXES_PER_TYPE = {PhoneNumberType.MOBILE: 48, PhoneNumberType.FIXED_LINE: 16}


def _fill(template: str, tail: str) -> str:
    """Replace the last ``len(tail)`` digits of a formatted number with ``tail``."""
    chars, j = list(template), len(tail) - 1
    for i in range(len(chars) - 1, -1, -1):
        if j < 0:
            break
        if chars[i].isdigit():
            chars[i] = tail[j]
            j -= 1
    return "".join(chars)


def _templates(region: str, nsn: str) -> tuple[str, ...]:
    """National, international, E.164 and four hand-typed spellings of one number."""
    num = phonenumbers.parse(nsn, region)
    nat = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)
    intl = phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL)
    e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
    digits = "".join(ch for ch in nat if ch.isdigit())
    dotted = nat.replace("(", "").replace(")", "").replace(" ", ".").replace("-", ".")
    messy = (intl.replace(" ", "-"), "00" + e164[1:], digits, dotted)
    # A hand-typed spelling that does not parse in this country (e.g. "00" in the US,
    # whose international prefix is 011) would be an accidental invalid: use E.164.
    return (nat, intl, e164, *(m if _valid(region, m) else e164 for m in messy))


def _valid(region: str, nsn: str) -> bool:
    try:
        return phonenumbers.is_valid_number_for_region(phonenumbers.parse(nsn, region), region)
    except phonenumbers.NumberParseException:
        return False


def _prefixes(rng: np.random.Generator, region: str, kind: int, count: int) -> list[str]:
    """Random prefixes next to the example number whose every tested tail is valid."""
    example = str(phonenumbers.example_number_for_type(region, kind).national_number)
    body, keep = len(example) - TAIL, 1 if len(example) >= 10 else 2
    found: list[str] = []
    for _ in range(count * 60):
        prefix = example[:keep] + "".join(map(str, rng.integers(0, 10, body - keep)))
        tails = ["0" * TAIL, "9" * TAIL] + [f"{t:0{TAIL}d}" for t in rng.integers(0, 10**TAIL, 8)]
        if prefix not in found and all(_valid(region, prefix + t) for t in tails):
            found.append(prefix)
            if len(found) == count:
                break
    return found


@dataclass(frozen=True)
class PhoneBook:
    """Validated phone prefixes and their format templates, per country."""

    templates: dict[str, tuple[tuple[str, ...], ...]]

    @classmethod
    def build(cls, seed: int) -> PhoneBook:
        """Deterministic for a seed; takes well under a second."""
        rng = np.random.default_rng([seed, 7])
        out = {}
        for region in COUNTRIES:
            prefixes = [
                p for kind, n in PREFIXES_PER_TYPE.items() for p in _prefixes(rng, region, kind, n)
            ]
            out[region] = tuple(_templates(region, p + "0" * TAIL) for p in prefixes)
        return cls(out)

    def number(self, region: str, person: int, style: int) -> str:
        """The phone of global user ``person`` in format ``style`` (index into templates)."""
        pool = self.templates[region]
        space = len(pool) * 10**TAIL
        key = (person * 7_368_787 + 1_299_709) % space
        return _fill(pool[key // 10**TAIL][style], f"{key % 10**TAIL:0{TAIL}d}")


def _tag(person: int) -> int:
    """A number unique per user (a scramble of its index) that keeps emails unique."""
    return (person * 7_919 + 4_243) % 1_000_000 if person < 1_000_000 else person


Draws = Iterator[float]  # pre-drawn uniforms: one numpy call per batch, not per field


def _pick(d: Draws, seq: Sequence[str]) -> str:
    return seq[int(next(d) * len(seq))]


def _email(d: Draws, person: int, country: str, alt: bool = False) -> str:
    """A valid (if untidy) email; the user's tag keeps it unique across users."""
    first, last, tag = _pick(d, FIRST), _pick(d, LAST), _tag(person)
    domain = "aol.com" if alt else _pick(d, DOMAINS[country])
    pattern = 4 if alt else int(next(d) * 4)
    local = (
        f"{first}.{last}{tag}",
        f"{first}{last[0]}{tag}",
        f"{first[0]}{last}{tag}",
        f"{first}_{tag}",
        f"{last}.{first}.{tag}",
    )[pattern]
    case = next(d)
    if case < 0.12:
        local, domain = local.title(), domain.capitalize()
    elif case < 0.15:
        local, domain = local.upper(), domain.upper()
    return f"{local}@{domain}"


def _messy_email(d: Draws, person: int, country: str) -> str:
    """Missing, invalid or non-ASCII emails for a share of users."""
    u = next(d)
    if u < 0.05:
        return ""
    if u < 0.055:
        local = NON_ASCII_LOCAL[person % len(NON_ASCII_LOCAL)]
        return f"{local}{_tag(person)}@{DOMAINS[country][0]}"
    if u < 0.085:
        local, domain = _email(d, person, country).split("@")
        return _pick(
            d,
            (
                f"{local}@",
                f"{local}{domain}",
                "a@b",
                f"{local.replace('.', ' ')}@{domain}",
                f"{local}@@{domain}",
                f"{local}@{domain.split('.')[0]}",
            ),
        )
    email = _email(d, person, country)
    return f" {email} " if u < 0.095 else email


def _phone(d: Draws, book: PhoneBook, person: int, country: str) -> str:
    """Mostly valid numbers in mixed formats; some invalid, wrong-country or missing."""
    u = next(d)
    if u < 0.07:
        return ""
    if u < 0.10:
        return _pick(d, INVALID_PHONES)
    if u < 0.11:  # a valid number of another country, typed in that country's format
        return book.number(_pick(d, [c for c in COUNTRIES if c != country]), person, 0)
    style = bisect.bisect_right(STYLE_CDF, next(d))
    return book.number(country, person, min(style, len(STYLE_CDF) - 1))


def _flags(d: Draws) -> tuple[str, str]:
    yes, no = FLAG_STYLES[int(next(d) * len(FLAG_STYLES))]
    email = "" if next(d) < 0.03 else (yes if next(d) < EMAIL_OPT_IN else no)
    sms = "" if next(d) < 0.04 else (yes if next(d) < SMS_OPT_IN else no)
    return email, sms


def _contact(d: Draws, book: PhoneBook, person: int, uid: str) -> list[str]:
    country = COUNTRIES[min(bisect.bisect_right(COUNTRY_CDF, next(d)), len(COUNTRIES) - 1)]
    return [
        uid,
        _messy_email(d, person, country),
        _phone(d, book, person, country),
        country,
        *_flags(d),
    ]


def _older(d: Draws, book: PhoneBook, person: int, row: list[str]) -> list[str]:
    """An earlier contact of the same user: an old address, maybe another phone."""
    old = list(row)
    old[1] = _email(d, person, old[3], alt=True)
    if next(d) < 0.5:
        old[2] = book.number(old[3], person + 10**9, 0)
    old[4], old[5] = _flags(d)
    return old


def _share(d: Draws, rows: list[list[str]], i: int, j: int) -> None:
    """Make row j share row i's email or phone (family, shared device); one opts out."""
    col, flag = (1, 4) if next(d) < 0.5 else (2, 5)
    if not rows[i][col]:
        rows[i][col] = rows[j][col] or "shared@example.com"
    rows[j][col] = rows[i][col]
    rows[j][3] = rows[i][3] if col == 2 else rows[j][3]
    yes, no = FLAG_STYLES[int(next(d) * len(FLAG_STYLES))]
    out = i if next(d) < 0.5 else j
    rows[out][flag], rows[i + j - out][flag] = no, yes


def header(fh: TextIO) -> Any:
    """Start the CSV: a header row, minimal quoting, UTF-8 text."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(COLUMNS)
    return writer


def write_batch(
    writer: Any,
    rng: np.random.Generator,
    book: PhoneBook,
    first: int,
    person_uid: np.ndarray,
    person_kind: np.ndarray,
) -> int:
    """Write the contacts of one batch of persons; returns the number of rows written.

    Bots and test accounts get no contact; 5% of real users have none either.
    """
    people = np.flatnonzero((person_kind < BOT) & (rng.random(person_kind.size) >= MISSING_CONTACT))
    draws = iter(rng.random(people.size * DRAWS_PER_ROW).tolist())
    rows = [_contact(draws, book, first + int(i), str(person_uid[i])) for i in people]
    extra = iter(rng.random(len(rows) + 16).tolist())  # plenty: pairs and older rows are rare
    n_pairs = int(round(len(rows) * SHARED_PAIRS))
    picks = rng.choice(len(rows), size=min(2 * n_pairs, len(rows) // 2 * 2), replace=False)
    for i, j in picks.reshape(-1, 2):
        _share(extra, rows, int(i), int(j))
    two = rng.random(len(rows)) < TWO_ROWS
    out: list[list[str]] = []
    for k, row in enumerate(rows):
        if two[k]:
            out.append(_older(extra, book, first + int(people[k]), row))
        out.append(row)
    writer.writerows(out)
    return len(out)
