"""Phone numbers and SMS segments: pure functions, no I/O.

Numbers are parsed and validated by ``phonenumbers`` (Google's libphonenumber metadata);
this module only peels off what Slack and people wrap around a number (``<tel:...|...>``,
``-().`` separators, a ``00`` prefix) and turns libphonenumber's verdicts into sentences a
Slack user can act on.

Segment counting follows 3GPP TS 23.038 (the GSM 7-bit default alphabet) and the SMS
concatenation limits of 3GPP TS 23.040 (a 6-octet user data header per part).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)

from bot.region_names import REGION_NAMES

__all__ = [
    "PhoneNumberError",
    "SegmentInfo",
    "count_segments",
    "country_name",
    "country_of",
    "format_international",
    "mask",
    "normalize_sender",
    "number_type",
    "parse_number",
    "parse_recipients",
]

# Characters people put between digits. Spaces are deliberately not among them: `/sms` splits
# the number from the message at the first space, so a space inside a number is a mistake.
_SEPARATORS = str.maketrans("", "", "-().")
# Inbound senders come from a carrier, not a person; there spaces are only formatting.
_INBOUND_SEPARATORS = str.maketrans("", "", "-(). \t")
# A raw value is echoed in error messages; cap it so a pasted paragraph stays readable.
_SHOWN_MAX = 40
# Used in hints when the default region has no example number of its own.
_FALLBACK_EXAMPLE = "+31612345678"


class PhoneNumberError(ValueError):
    """A number that cannot be texted.

    ``raw`` is the text as given; ``reason`` is a whole English sentence (or two) saying what
    is wrong and how to fix it, meant to be shown to the Slack user as it is.
    """

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw
        self.reason = reason


# -- parsing -------------------------------------------------------------------------------


def _unwrap(raw: str) -> str:
    """The number inside Slack's ``<tel:NUMBER|label>`` (or a bare ``tel:NUMBER``), stripped.

    The label is what Slack displays and may be reformatted (spaces); the ``tel:`` target is
    what Slack recognised, so that is the one we read.
    """
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        inner = text[1:-1]
        if inner[:4].lower() == "tel:":
            text = inner.partition("|")[0]
    if text[:4].lower() == "tel:":
        text = text[4:]
    return text.strip()


def _shown(text: str) -> str:
    """``text`` as quoted back in an error message."""
    text = text.strip()
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def _ascii_digits(body: str) -> str | None:
    """``body`` with every Unicode decimal digit (full-width ``３``, Arabic-Indic ``٣``...) as
    ASCII, or None when something else is in it. Normalising here means libphonenumber only
    ever sees ASCII, whatever keyboard the user has."""
    if not body or not all(ch.isdecimal() for ch in body):
        return None
    return "".join(str(unicodedata.decimal(ch)) for ch in body)


def _example_for(region: str) -> str:
    """An E.164 mobile number of ``region`` to show in hints (the user's own format)."""
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        return _FALLBACK_EXAMPLE
    return phonenumbers.format_number(example, PhoneNumberFormat.E164)


def _calling_code_name(country_code: int | None) -> str:
    """``+31 (Netherlands)``: the code with the name of its main region, for messages.

    Phrased as "a +31 (Netherlands) number" so no article is ever needed before a country name.
    """
    if not country_code:  # parse() always sets it; the type stubs allow None
        return "+?"
    main_region = phonenumbers.region_code_for_country_code(country_code)
    name = country_name(main_region) if main_region not in ("ZZ", "001") else ""
    return f"+{country_code} ({name})" if name and name != main_region else f"+{country_code}"


def _length_verdict(number: PhoneNumber) -> int:
    """TOO_SHORT / TOO_LONG when the number has the wrong length for both mobile and fixed-line
    numbers of its country, else IS_POSSIBLE.

    libphonenumber's plain possibility check accepts any length used by *some* kind of number
    (NL has 5-digit numbers, so ``+3161234`` is "possible"); comparing with the lengths of
    ordinary numbers is what tells the user the mistake is a missing or extra digit.
    """
    verdicts = {
        phonenumbers.is_possible_number_for_type_with_reason(number, kind)
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
    }
    # INVALID_LENGTH here means "no data for this kind, or a length in between": no opinion.
    verdicts.discard(ValidationResult.INVALID_LENGTH)
    if not verdicts:
        verdicts = {phonenumbers.is_possible_number_with_reason(number)}
    if verdicts == {ValidationResult.TOO_SHORT}:
        return ValidationResult.TOO_SHORT
    if verdicts == {ValidationResult.TOO_LONG}:
        return ValidationResult.TOO_LONG
    return ValidationResult.IS_POSSIBLE


def _invalid_reason(raw: str, number: PhoneNumber, *, national: bool, region: str) -> str:
    """Why a number that libphonenumber could parse is still not a valid one.

    ``national``: the country code came from the default region, not from the user; then the
    message says so, because a foreign number typed without its country code is the usual
    mistake.
    """
    shown = _shown(raw)
    code = _calling_code_name(number.country_code)
    reason = phonenumbers.is_possible_number_with_reason(number)
    if national and reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return (
            f"{shown} looks like a local number without its area code: write the whole "
            f"number, ideally with + and the country code, like {_example_for(region)}."
        )
    length = _length_verdict(number)
    if length == ValidationResult.TOO_SHORT:
        problem = "too short for one: check that no digit is missing."
    elif length == ValidationResult.TOO_LONG:
        problem = "too long for one: check for an extra digit."
    else:
        problem = "not a valid one: check the digits."
    if national:
        return (
            f"{shown} has no country code, so it was read as a {code} number, and it is "
            f"{problem} If it is a number in another country, write it with + and the "
            f"country code, like {_FALLBACK_EXAMPLE}."
        )
    return f"{shown} was read as a {code} number, and it is {problem}"


def _exception_reason(raw: str, error: NumberParseException, *, plus: bool, region: str) -> str:
    """Why libphonenumber could not read ``raw`` at all."""
    shown = _shown(raw)
    kind = error.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if plus:
            example = _example_for(region)
            code = phonenumbers.parse(example).country_code
            return (
                f"{shown} does not start with a known country code: after the + comes the "
                f"country code ({code} in {example})."
            )
        return (
            f"{shown} has no country code and there is no default country to read it in: "
            f"write it with + and the country code, like {_FALLBACK_EXAMPLE}."
        )
    if kind == NumberParseException.TOO_LONG:
        return f"{shown} is too long to be a phone number: check for extra digits."
    # NOT_A_NUMBER, TOO_SHORT_NSN and TOO_SHORT_AFTER_IDD all mean: far too few digits.
    return (
        f"{shown} is too short to be a phone number: write the whole number, like "
        f"{_example_for(region)}."
    )


def parse_number(raw: str, region: str) -> str:
    """Read one phone number a person typed and return it in E.164 (``+31612345678``).

    ``raw``: the number as typed: E.164, the national format of ``region`` (``0612345678``),
    with ``-().`` between digits (not spaces), with a ``00`` international prefix, or wrapped
    by Slack as ``<tel:+31612345678|+31 6 1234 5678>``.
    ``region``: ISO 3166 code (``NL``) of the country whose national format is assumed for
    numbers written without a country code.

    Raises :class:`PhoneNumberError` (its ``reason`` is for the user) unless libphonenumber
    says the number is valid (merely *possible* is not enough: such numbers are not in use).
    """
    region = region.strip().upper()
    text = _unwrap(raw)
    shown = text or raw
    if not text:
        raise PhoneNumberError(
            raw, f"No phone number was given: write it like {_example_for(region)}."
        )
    if any(ch.isspace() for ch in text):
        raise PhoneNumberError(
            raw,
            f"{_shown(text)} has spaces in it: write the number without spaces, like "
            f"{_example_for(region)} (- ( ) and . may separate the digits).",
        )
    cleaned = text.translate(_SEPARATORS)
    plus = cleaned.startswith("+")
    digits = _ascii_digits(cleaned[1:] if plus else cleaned)
    if digits is None:
        raise PhoneNumberError(
            raw,
            f"{_shown(text)} is not a phone number: use only digits, with + and the country "
            f"code in front, like {_example_for(region)}.",
        )
    # Interpretations to try, in order. libphonenumber already understands the default
    # region's own international prefix (00 in NL, 011 in the US); "00" is also accepted
    # everywhere else because that is how most of the world writes it.
    attempts = ["+" + digits] if plus else [digits]
    if not plus and digits.startswith("00"):
        attempts.append("+" + digits[2:])
    reason = ""
    for attempt in attempts:
        international = attempt.startswith("+")
        try:
            number = phonenumbers.parse(attempt, region or None)
        except NumberParseException as error:
            reason = _exception_reason(shown, error, plus=international, region=region)
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
        # "National" = read in the default region, not via a prefix the user typed.
        national = not international and (
            number.country_code == phonenumbers.country_code_for_region(region)
        )
        reason = _invalid_reason(shown, number, national=national, region=region)
    raise PhoneNumberError(raw, reason)


def _split_commas(token: str) -> list[str]:
    """``token`` split at commas that are outside ``<...>``: a Slack ``<tel:..|label>`` is one
    piece even if its label has a comma."""
    pieces: list[str] = []
    current: list[str] = []
    inside = False
    for ch in token:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        if ch == "," and not inside:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    pieces.append("".join(current))
    return pieces


def parse_recipients(token: str, region: str, *, max_recipients: int = 10) -> list[str]:
    """The recipients of ``/sms`` as E.164 numbers, in the order written, without duplicates.

    ``token``: the first word of the command: one number or several separated by commas
    (``+31612345678,0687654321``); each may be Slack-wrapped (``<tel:...|...>``). Empty pieces
    from a stray comma (``a,,b`` or a trailing ``,``) are ignored.
    ``region``: default country for numbers without a country code (see :func:`parse_number`).
    ``max_recipients``: the most distinct numbers one command may text.

    Raises :class:`PhoneNumberError` for an empty token, for the first number that is not
    valid, or when there are more than ``max_recipients`` distinct numbers.
    """
    pieces = [piece for piece in _split_commas(token) if piece.strip()]
    if not pieces:
        raise PhoneNumberError(
            token,
            "No phone number was given: write it first, like "
            f"{_example_for(region.strip().upper())} (several: separate them with commas).",
        )
    numbers: list[str] = []
    for piece in pieces:
        number = parse_number(piece, region)
        if number not in numbers:
            numbers.append(number)
    if len(numbers) > max_recipients:
        raise PhoneNumberError(
            token,
            f"That is {len(numbers)} different numbers, and one message can go to at most "
            f"{max_recipients}. Send it in smaller groups.",
        )
    return numbers


def normalize_sender(raw: str, region: str) -> str:
    """The sender of an INBOUND SMS in a stable form, for threading. Never raises.

    ``raw``: the sender as the carrier gave it; ``region``: default country for senders
    without a country code.

    Returns E.164 when ``raw`` is a number libphonenumber accepts, else ``raw`` stripped:
    short codes (``+75973``) and alphanumeric senders (``ACME``) do send SMS and must keep
    their identity. With a ``+`` (or ``00``) a *possible* number is enough, since E.164 only
    removes formatting; without one, the country code would come from ``region``, so the
    number must be *valid* there or a short code like ``75973`` would become ``+3175973``.
    Anything with letters is returned as is: libphonenumber would read ``1800FLOWERS``
    as a vanity number, and an alphanumeric sender is not one.
    """
    text = raw.strip()
    cleaned = _unwrap(text).translate(_INBOUND_SEPARATORS)
    plus = cleaned.startswith("+")
    digits = _ascii_digits(cleaned[1:] if plus else cleaned)
    if digits is None:
        return text
    if not plus and digits.startswith("00"):
        digits, plus = digits[2:], True
    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, region.strip().upper() or None)
    except NumberParseException:
        return text
    if phonenumbers.is_valid_number(number) or (plus and phonenumbers.is_possible_number(number)):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return text


# -- presenting ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse_e164(number: str) -> PhoneNumber | None:
    """``number`` parsed when it is an E.164-like string of a possible number, else None.

    Remembered for the last 4,096 numbers: one ``/sms`` asks about its number four times
    (country, type, and twice to show it), and libphonenumber's parse is the costly part.
    Callers only read the result."""
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def format_international(e164: str) -> str:
    """``e164`` for people: ``+31612345678`` → ``+31 6 12345678``.

    ``e164``: a number as stored. Short codes, alphanumeric senders and anything else that is
    not a possible number are returned unchanged.
    """
    parsed = _parse_e164(e164)
    if parsed is None:
        return e164
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def country_of(e164: str) -> str | None:
    """The ISO region code (``NL``) that the E.164 number ``e164`` belongs to.

    None for short codes, alphanumerics, numbers libphonenumber cannot place, and
    non-geographic numbers (``+800`` freephone and the like, libphonenumber's ``001``).
    """
    parsed = _parse_e164(e164)
    if parsed is None:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region not in ("ZZ", "001") else None


def country_name(region_code: str) -> str:
    """The English name of a region: ``NL`` → ``Netherlands``.

    ``region_code``: ISO 3166 alpha-2 code, any case. The names are libphonenumber's own (its
    geocoder's name for the region of its example number), generated into
    ``bot/region_names.py`` by ``scripts/gen_region_names.py`` because importing the geocoder
    costs ~97 MB of memory. Unknown codes, and regions without numbering data, return
    ``region_code`` as given.
    """
    return REGION_NAMES.get(region_code.strip().upper(), region_code)


def number_type(e164: str) -> str:
    """What kind of number ``e164`` is, as libphonenumber's ``PhoneNumberType`` in lower case:
    ``mobile``, ``fixed_line``, ``fixed_line_or_mobile``, ``toll_free``, ``premium_rate``,
    ``shared_cost``, ``voip``, ``personal_number``, ``pager``, ``uan``, ``voicemail`` or
    ``unknown`` (also for invalid numbers, short codes and alphanumerics).
    """
    parsed = _parse_e164(e164)
    if parsed is None:
        return "unknown"
    return PhoneNumberType.to_string(phonenumbers.number_type(parsed)).lower()


def mask(number: str) -> str:
    """``number`` for logs, where full numbers are personal data: the first 3 and last 3
    characters kept, the rest ``*`` (``+31612345678`` → ``+31******678``). Six characters or
    fewer would be shown whole that way, so they become all ``*``; the length is always kept.
    """
    if len(number) <= 6:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 6) + number[-3:]


# -- SMS segments ----------------------------------------------------------------------------

# The GSM 7-bit default alphabet, 3GPP TS 23.038 §6.2.1, in septet order (index = code).
# Written row by row as in the spec's table; the Greek capitals are escapes so that no
# look-alike (OHM SIGN, INCREMENT, ...) can slip in. 0x1B is ESC, the escape to the extension
# table, not a character: a literal ESC in a message cannot be sent in GSM-7.
_GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F (0x09 is capital Ç, as in the spec's table)
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1bÆæßÉ"  # 0x10-0x1F
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F (0x24 is ¤, not $: $ is 0x02)
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)
# The default alphabet extension table, 3GPP TS 23.038 §6.2.1.1: each is sent as ESC plus one
# septet, so it costs two. (0x0D and 0x1B of that table are reserved, not characters.)
_GSM7_EXTENSION_TABLE = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_GSM7_BASIC = frozenset(_GSM7_BASIC_TABLE) - {"\x1b"}
_GSM7_EXTENSION = frozenset(_GSM7_EXTENSION_TABLE.values())

# Payload per segment: 140 octets = 160 septets or 70 UCS-2 units alone; a concatenated part
# spends 6 octets on its user data header (3GPP TS 23.040 §9.2.3.24.1), leaving 153 / 67.
_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How an SMS text goes over the air.

    ``encoding``: ``GSM-7`` when every character is in the GSM 03.38 tables, else ``UCS-2``.
    ``segments``: SMS parts it is sent as (what the operator bills); 0 for empty text.
    ``units``: septets for GSM-7 (extension characters count two), UTF-16 code units for
    UCS-2 (characters beyond U+FFFF, like most emoji, count two).
    ``forcing_chars``: the distinct characters (code points), in order of first appearance,
    that are in neither GSM-7 table and so forced UCS-2; empty for GSM-7.
    """

    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int
    forcing_chars: tuple[str, ...]


def _pack(sizes: list[int], single: int, part: int) -> int:
    """Segments for characters of the given sizes in units. Fits in one segment of ``single``
    units, else parts of ``part`` units where a character is never split across two parts
    (an ESC pair or a surrogate pair cut in half would arrive as garbage)."""
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return segments


def count_segments(text: str) -> SegmentInfo:
    """The encoding, segment count and size of SMS ``text`` (the message body as sent)."""
    forcing = tuple(
        dict.fromkeys(ch for ch in text if ch not in _GSM7_BASIC and ch not in _GSM7_EXTENSION)
    )
    if not forcing:
        sizes = [2 if ch in _GSM7_EXTENSION else 1 for ch in text]
        return SegmentInfo("GSM-7", _pack(sizes, _GSM7_SINGLE, _GSM7_PART), sum(sizes), ())
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SegmentInfo("UCS-2", _pack(sizes, _UCS2_SINGLE, _UCS2_PART), sum(sizes), forcing)
