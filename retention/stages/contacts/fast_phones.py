"""Phone checks in bulk: phonenumbers' own rules, applied a column at a time.

phonenumbers parses, validates and types one number per call, in Python, at
about 27 microseconds a number. Its answer comes from the numbering-plan
metadata it ships: prefixes and regular expressions per region. For numbers
typed plainly (digits, an optional leading +, spaces, dots, dashes and
parentheses) the same answer follows from applying those patterns to a whole
column with Arrow's RE2 engine, grouped by region and country code, step by
step as `parse`, `is_valid_number` and `number_type` do (written against
phonenumbers 9.0; the docstrings name the library function each step
mirrors). RE2 and Python's `re` agree on these patterns: they use only
digits, classes, groups, alternation, `?`, counted repeats and, in a few
national prefixes, `$`; and RE2 makes Python's leftmost-first choice among
alternatives.

Whatever is not certain goes back to the library: other characters (letters,
extensions, non-ASCII digits), a national prefix with a rewrite rule
(Argentina's 15, Brazil's carrier codes), a national number that may start
with its own country code, no known country code after a +, non-geographic
codes such as +800, and any pattern RE2 cannot compile.
tests/stages/test_contact_check_fast_path.py compares both paths value for
value, across every region, so a library upgrade that changes a rule fails
that test instead of changing results.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers import phonenumberutil as phone_util

#: An optional leading plus, then digits and the separators people type. For
#: such text with three digits or more (fewer: not a viable number, unless
#: two without separators) phonenumbers' answer depends only on the plus, the
#: digits and the default region: its extraction, extension and letter rules
#: need other characters.
PLAIN_PHONE = r"^\+?[0-9().-](?:[0-9 ().-]*[0-9().-])?$"
MAX_PLAIN_PHONE, MIN_DIGITS = 40, 3
MIN_NSN, MAX_NSN = 2, 17  # phonenumbers' bounds on a national significant number
INVALID, VALID, ASK = 0, 1, 2  # VALID: not refused so far
UNKNOWN = PhoneNumberType.UNKNOWN
TYPE_DESCS = (  # the order in which phonenumbers' _number_type_helper tries them
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


class Unsupported(Exception):
    """A metadata pattern RE2 cannot compile: the rows concerned go to the library."""


def fast_phones(
    texts: pa.Array, regions: pa.Array, type_names: dict[int, str]
) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """(answered, phone_e164, phone_type) per (text, region), as validation.phone_check gives.

    An answered row is parsed as `phonenumbers.parse(text, region)` would,
    then, if the text starts with 00 and is not valid so, as "+" and the rest,
    as validation._parse_phone does. Invalid numbers are answered too (both
    NULL). `type_names` names phonenumbers' type numbers.
    """
    n = len(texts)
    status = np.full(n, ASK, dtype=np.int8)
    e164, kinds = pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    rows = np.flatnonzero(_plain_phones(texts, regions))
    if not len(rows) or not callable(getattr(phone_util, "_test_number_length", None)):
        return status != ASK, e164, kinds
    text = texts.take(rows)
    digits = pc.replace_substring_regex(text, r"[^0-9]", "")
    region = pc.ascii_upper(regions.take(rows))  # str.upper() for ASCII
    region = pc.if_else(pc.is_in(region, value_set=_supported_regions()), region, None)
    found, numbers, types = _attempt(digits, _bools(pc.starts_with(text, "+")), region)
    again = np.flatnonzero((found == INVALID) & _bools(pc.starts_with(text, "00")))
    if len(again):
        after_00 = pc.utf8_slice_codeunits(digits.take(again), 2)
        plus, no_region = np.ones(len(again), dtype=bool), pa.nulls(len(again), pa.string())
        retry = _attempt(after_00, plus, no_region)
        found[again], types[again] = retry[0], retry[2]
        numbers = _put(numbers, again, retry[1])
    found[_ints(pc.utf8_length(digits)) < MIN_DIGITS] = ASK
    status[rows] = found
    valid = rows[found == VALID]
    names = pa.array([type_names.get(kind, "UNKNOWN") for kind in range(UNKNOWN + 1)])
    e164 = _put(e164, valid, numbers.filter(pa.array(found == VALID)))
    kinds = _put(kinds, valid, pc.take(names, pa.array(types[found == VALID])))
    return status != ASK, e164, kinds


def _plain_phones(texts: pa.Array, regions: pa.Array) -> np.ndarray:
    """Plain text, and an ASCII region or none (str.upper() maps "ß" to "SS", a region)."""
    plain = pc.and_(
        pc.match_substring_regex(texts, PLAIN_PHONE),
        pc.less_equal(pc.utf8_length(texts), MAX_PLAIN_PHONE),
    )
    return _bools(pc.and_(plain, pc.or_kleene(pc.is_null(regions), pc.string_is_ascii(regions))))


@cache
def _supported_regions() -> pa.Array:
    return pa.array(sorted(phonenumbers.SUPPORTED_REGIONS))


def _attempt(digits: pa.Array, plus: np.ndarray, region: pa.Array) -> tuple:
    """(status, E.164 text, phonenumbers type) of one parse per row: INVALID,
    VALID (a valid number) or ASK."""
    parsed = _parse(digits, plus, region)
    nsn = _national_significant_numbers(parsed)
    kinds = _number_types(parsed, nsn)
    pending = parsed.status == VALID
    parsed.status[pending & (kinds == UNKNOWN)] = INVALID
    e164 = pc.binary_join_element_wise("+", parsed.country_code, nsn, "")
    return parsed.status, e164, kinds


# -- country calling code and national number -----------------------------------


@dataclass
class Parsed:
    """Per row: how far it got, its country code (text), its national number
    and the region whose national prefix rules apply."""

    status: np.ndarray
    country_code: pa.Array
    national: pa.Array
    metadata_region: pa.Array


class Parts:
    """Values for some rows of a column, put together once at the end."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        self.values: list[pa.Array] = [pa.array([], pa.string())]

    def add(self, rows: np.ndarray, values: pa.Array | str) -> None:
        if isinstance(values, str):
            values = pa.repeat(pa.scalar(values), len(rows))
        self.rows.append(rows)
        self.values.append(values)

    def build(self, n: int) -> pa.Array:
        """A column of n rows: the values given, NULL elsewhere."""
        rows, values = np.concatenate(self.rows), pa.concat_arrays(self.values)
        return _put(pa.nulls(n, pa.string()), rows, values)


def _parse(digits: pa.Array, plus: np.ndarray, region: pa.Array) -> Parsed:
    """Country code and national number, as parse() finds them."""
    n = len(digits)
    status = np.full(n, VALID, dtype=np.int8)
    code, national, metadata_region, international = Parts(), Parts(), Parts(), Parts()
    with_plus = np.flatnonzero(plus)
    international.add(with_plus, digits.take(with_plus))
    for name, rows in _groups(region, np.flatnonzero(~plus)):
        if name is None:
            status[rows] = INVALID  # no plus and no region: parse() refuses it
            continue
        metadata = PhoneMetadata.metadata_for_region(name)
        group = digits.take(rows)
        try:
            stripped, rest = _strip_idd(group, metadata.international_prefix)
        except Unsupported:
            status[rows] = ASK
            continue
        own_code = str(metadata.country_code)
        ask = ~stripped & _bools(pc.starts_with(group, own_code))  # the code without +?
        status[rows[ask]] = ASK
        international.add(rows[stripped & ~ask], rest.filter(pa.array(stripped & ~ask)))
        home = ~stripped & ~ask
        code.add(rows[home], own_code)
        national.add(rows[home], group.filter(pa.array(home)))
        metadata_region.add(rows[home], name)
    rows = np.concatenate(international.rows)
    found, *columns = _international(pa.concat_arrays(international.values))
    status[rows] = found
    for parts, values in zip((code, national, metadata_region), columns, strict=True):
        parts.add(rows[found == VALID], values.filter(pa.array(found == VALID)))
    return Parsed(status, code.build(n), national.build(n), metadata_region.build(n))


def _strip_idd(digits: pa.Array, idd: str | None) -> tuple[np.ndarray, pa.Array]:
    """(stripped, rest): _parse_prefix_as_idd with the region's international prefix."""
    if not idd:
        return np.zeros(len(digits), dtype=bool), digits
    matched, rest = _after_prefix(digits, idd)
    # a 0 right after the prefix cannot start a country code: not an IDD then
    return matched & ~_bools(pc.starts_with(rest, "0")), rest


def _international(digits: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array, pa.Array]:
    """(status, country code, national number, its main region) of digits after
    + or an IDD: the shortest known code among the first 1-3 digits
    (_extract_country_code)."""
    code = pa.nulls(len(digits), pa.string())
    for size in (3, 2, 1):
        prefix = pc.utf8_slice_codeunits(digits, 0, size)
        code = pc.if_else(pc.is_in(prefix, value_set=_geographic_codes()), prefix, code)
    width = _ints(pc.utf8_length(pc.fill_null(code, "")))
    national = digits
    for size in (1, 2, 3):
        rest = pc.utf8_slice_codeunits(digits, size)
        national = pc.if_else(pa.array(width == size), rest, national)
    # too short: parse() raises TOO_SHORT_AFTER_IDD; no known code (or a 0
    # first): parse() tries again without the plus, so ask
    too_short = _ints(pc.utf8_length(digits)) <= MIN_NSN
    status = np.where(too_short, INVALID, np.where(width > 0, VALID, ASK)).astype(np.int8)
    main = pc.take(_main_regions(), pc.index_in(code, value_set=_geographic_codes()))
    return status, code, national, main


@cache
def _geographic_codes() -> pa.Array:
    """Country calling codes of geographic regions as text (the others, such as 800, are asked)."""
    return pa.array(
        [
            str(code)
            for code, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items())
            if regions[0] != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
        ]
    )


@cache
def _main_regions() -> pa.Array:
    """The main region of each of _geographic_codes (US for 1, GB for 44)."""
    codes = _geographic_codes().to_pylist()
    return pa.array([phonenumbers.region_code_for_country_code(int(code)) for code in codes])


# -- national prefix ------------------------------------------------------------


def _national_significant_numbers(parsed: Parsed) -> pa.Array:
    """The national number after parse() strips a national (trunk) prefix such
    as 0, then its length bounds (TOO_SHORT_NSN, TOO_LONG)."""
    n = len(parsed.status)
    short = _ints(pc.utf8_length(pc.fill_null(parsed.national, ""))) < MIN_NSN
    parsed.status[(parsed.status == VALID) & short] = INVALID  # TOO_SHORT_NSN
    nsn = Parts()
    for name, rows in _groups(parsed.metadata_region, np.flatnonzero(parsed.status == VALID)):
        national = parsed.national.take(rows)
        try:
            stripped, ask = _strip_national_prefix(
                national, PhoneMetadata.metadata_for_region(name)
            )
        except Unsupported:
            stripped, ask = national, np.ones(len(rows), dtype=bool)
        parsed.status[rows[ask]] = ASK
        nsn.add(rows, stripped)
    numbers = nsn.build(n)
    lengths = _ints(pc.utf8_length(pc.fill_null(numbers, "")))
    parsed.status[(parsed.status == VALID) & ((lengths < MIN_NSN) | (lengths > MAX_NSN))] = INVALID
    return numbers


def _strip_national_prefix(national: pa.Array, metadata: PhoneMetadata) -> tuple:
    """(national significant number, ask): _maybe_strip_national_prefix_carrier_code,
    then parse() keeps the stripped number only if its length test allows.

    A prefix with a rewrite rule (Brazil's carrier codes, Argentina's 15) is asked.
    """
    rule = metadata.national_prefix_for_parsing
    if not rule:
        return national, np.zeros(len(national), dtype=bool)
    matched, candidate = _after_prefix(national, rule)
    if metadata.national_prefix_transform_rule:
        return national, matched
    general = metadata.general_desc
    refused = _matches_pattern(national, general) & ~_matches_pattern(candidate, general)
    lengths = _ints(pc.utf8_length(candidate))
    kept = np.isin(lengths, _lengths_kept_after_prefix(metadata.id))
    strip = matched & ~refused & kept
    return pc.if_else(pa.array(strip), candidate, national), np.zeros(len(national), dtype=bool)


def _after_prefix(texts: pa.Array, pattern: str) -> tuple[np.ndarray, pa.Array]:
    """(matched, rest) of Python's re.match(pattern, text) per text.

    RE2 picks the same leftmost-first match as Python's re (Perl semantics),
    so removing its match at the start leaves text[match.end():].
    """
    matched = _bools(_regex(texts, f"^(?:{pattern})"))
    try:
        rest = pc.replace_substring_regex(texts, f"^(?:{pattern})", "", max_replacements=1)
    except pa.ArrowInvalid as exc:
        raise Unsupported(pattern) from exc
    return matched, rest


@cache
def _lengths_kept_after_prefix(region: str) -> list[int]:
    """Lengths whose _test_number_length result lets parse() keep a stripped
    number (that test looks at the length only)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    refused = {
        phone_util.ValidationResult.TOO_SHORT,
        phone_util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        phone_util.ValidationResult.INVALID_LENGTH,
    }
    return [
        length
        for length in range(MAX_PLAIN_PHONE + 1)
        if phone_util._test_number_length("0" * length, metadata) not in refused
    ]


# -- validity and type ------------------------------------------------------------


def _number_types(parsed: Parsed, nsn: pa.Array) -> np.ndarray:
    """phonenumbers.number_type per row (UNKNOWN: not a valid number)."""
    kinds = np.full(len(nsn), UNKNOWN, dtype=np.int64)
    for code, rows in _groups(parsed.country_code, np.flatnonzero(parsed.status == VALID)):
        try:
            kinds[rows] = _types_for_code(int(code), nsn.take(rows))
        except Unsupported:
            parsed.status[rows] = ASK
    return kinds


def _types_for_code(code: int, nsn: pa.Array) -> np.ndarray:
    """region_code_for_number (the first region of the code whose leading
    digits or patterns fit), then number_type in that region."""
    kinds = np.full(len(nsn), UNKNOWN, dtype=np.int64)
    open_rows = np.arange(len(nsn))
    for name in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        metadata = PhoneMetadata.metadata_for_region(name)
        if not len(open_rows) or metadata is None:
            continue
        candidates = nsn.take(open_rows)
        if metadata.leading_digits is not None:
            hit = _bools(_regex(candidates, f"^(?:{metadata.leading_digits})"))
            kinds[open_rows[hit]] = _type_helper(candidates.filter(pa.array(hit)), metadata)
        else:
            found = _type_helper(candidates, metadata)
            hit = found != UNKNOWN
            kinds[open_rows[hit]] = found[hit]
        open_rows = open_rows[~hit]
    return kinds


def _type_helper(nsn: pa.Array, metadata: PhoneMetadata) -> np.ndarray:
    """phonenumbers' _number_type_helper for numbers of one region."""
    kinds = np.full(len(nsn), UNKNOWN, dtype=np.int64)
    lengths = _ints(pc.utf8_length(nsn))
    open_rows = _matches_desc(nsn, lengths, metadata.general_desc)
    for attribute, kind in TYPE_DESCS:
        hit = open_rows & _matches_desc(nsn, lengths, getattr(metadata, attribute))
        kinds[hit] = kind
        open_rows &= ~hit
    fixed = open_rows & _matches_desc(nsn, lengths, metadata.fixed_line)
    if metadata.same_mobile_and_fixed_line_pattern:
        kinds[fixed] = PhoneNumberType.FIXED_LINE_OR_MOBILE
        return kinds
    mobile = open_rows & _matches_desc(nsn, lengths, metadata.mobile)
    kinds[fixed] = PhoneNumberType.FIXED_LINE
    kinds[fixed & mobile] = PhoneNumberType.FIXED_LINE_OR_MOBILE
    kinds[~fixed & mobile] = PhoneNumberType.MOBILE
    return kinds


def _matches_desc(nsn: pa.Array, lengths: np.ndarray, desc) -> np.ndarray:
    """_is_number_matching_desc: a possible length, then the whole pattern."""
    if desc is None:
        return np.zeros(len(nsn), dtype=bool)
    fits = np.isin(lengths, desc.possible_length) if desc.possible_length else True
    return fits & _matches_pattern(nsn, desc)


def _matches_pattern(nsn: pa.Array, desc) -> np.ndarray:
    """_match_national_number without prefix matches: the whole text fits the pattern."""
    pattern = None if desc is None else desc.national_number_pattern
    if not pattern:
        return np.zeros(len(nsn), dtype=bool)
    return _bools(_regex(nsn, f"^(?:{pattern})$"))


# -- Arrow helpers ------------------------------------------------------------------


def _regex(texts: pa.Array, pattern: str) -> pa.Array:
    try:
        return pc.match_substring_regex(texts, pattern)
    except pa.ArrowInvalid as exc:
        raise Unsupported(pattern) from exc


def _groups(keys: pa.Array, rows: np.ndarray) -> Iterator[tuple[str | None, np.ndarray]]:
    """(key, its row numbers in increasing order) for each distinct key among `rows`."""
    if not len(rows):
        return
    encoded = keys.take(rows).dictionary_encode()
    codes = pc.fill_null(encoded.indices, -1).to_numpy()
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.diff(codes[order], prepend=-2))
    for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
        code = codes[order[start]]
        key = None if code < 0 else encoded.dictionary[code].as_py()
        yield key, rows[order[start:end]]


def _put(target: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """`target` with values[i] at position rows[i]."""
    if not len(rows):
        return target
    if np.any(np.diff(rows) < 0):
        order = np.argsort(rows, kind="stable")
        rows, values = rows[order], values.take(order)
    if len(rows) == len(target):
        return values
    mask = np.zeros(len(target), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(target, pa.array(mask), values)


def _bools(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _ints(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)
