"""Phone numbers (parsed by ``phonenumbers``) and SMS segment counting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

# Slack wraps numbers it recognises: <tel:+31612345678|+31 6 1234 5678>.
_TEL_WRAPPER = re.compile(r"^<tel:([^|>]*)(?:\|[^>]*)?>$", re.IGNORECASE)
# Separators people put between digits. Spaces are not among them: /sms splits on spaces.
_SEPARATORS = re.compile(r"[-().]")
_ALLOWED = re.compile(r"^\+?[0-9]+$")


class PhoneNumberError(ValueError):
    """A number that cannot be texted; ``reason`` tells a person how to fix it."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw
        self.reason = reason


def _region_name(region: str) -> str:
    return country_name(region) or region


def parse_number(raw: str, region: str) -> str:
    """``raw`` as E.164. National numbers are read in ``region`` (like ``NL``)."""
    text = raw.strip()
    wrapped = _TEL_WRAPPER.match(text)
    if wrapped:
        text = wrapped.group(1).strip()
    text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    shown = raw.strip() or "(empty)"
    if not text or not _ALLOWED.match(text):
        raise PhoneNumberError(
            raw,
            f"{shown} is not a phone number: use digits, optionally starting with + and a "
            "country code",
        )
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        raise PhoneNumberError(
            raw, f"{shown} is not a phone number I can read; write it like +31612345678"
        ) from None
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    where = phonenumbers.region_code_for_number(parsed) or region
    place = _region_name(where)
    if possible == ValidationResult.TOO_SHORT:
        raise PhoneNumberError(raw, f"{shown} is too short for a number in {place}")
    if possible == ValidationResult.TOO_LONG:
        raise PhoneNumberError(raw, f"{shown} is too long for a number in {place}")
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        raise PhoneNumberError(raw, f"{shown} does not start with a known country code")
    if not phonenumbers.is_valid_number(parsed):
        hint = (
            ""
            if text.startswith("+")
            else f" (numbers without a country code are read as numbers in {_region_name(region)};"
            " add + and the country code for another country)"
        )
        raise PhoneNumberError(raw, f"{shown} is not a valid number in {place}{hint}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_recipients(token: str, region: str, *, max_recipients: int = 10) -> list[str]:
    """The recipients of ``/sms``: one or more numbers separated by commas, as E.164, without
    duplicates, in the order written."""
    pieces = [piece.strip() for piece in token.split(",")]
    if not token.strip() or not all(pieces):
        raise PhoneNumberError(
            token, "write the phone number first, like +31612345678 (several: separate by commas)"
        )
    numbers: list[str] = []
    for piece in pieces:
        number = parse_number(piece, region)
        if number not in numbers:
            numbers.append(number)
    if len(numbers) > max_recipients:
        raise PhoneNumberError(
            token, f"{len(numbers)} numbers is more than the {max_recipients} one message may go to"
        )
    return numbers


def normalize_sender(raw: str, region: str) -> str:
    """The sender of an inbound SMS: E.164 when it reads as a number, else as given (short
    codes like ``+75973`` and alphanumeric senders like ``ACME`` do send SMS). Never raises."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        return text
    if phonenumbers.is_valid_number(parsed) or phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return text


def _parse_e164(number: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def format_international(number: str) -> str:
    """``+31612345678`` → ``+31 6 12345678``; short codes and names are returned as given."""
    parsed = _parse_e164(number)
    if parsed is None:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def country_of(number: str) -> str | None:
    """The region code (``NL``) of an E.164 number, if it has one."""
    parsed = _parse_e164(number)
    if parsed is None:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region != "ZZ" else None


def country_name(region_code: str) -> str:
    """The English name of a region (``NL`` → ``Netherlands``), from phonenumbers' data."""
    example = phonenumbers.example_number(region_code.upper())
    if example is None:
        return region_code
    from phonenumbers import geocoder

    return geocoder.country_name_for_number(example, "en") or region_code


def number_type(number: str) -> str:
    """The kind of number: ``mobile``, ``fixed_line``, ``premium_rate``, ``toll_free``, ..."""
    parsed = _parse_e164(number)
    if parsed is None:
        return "unknown"
    kind = phonenumbers.number_type(parsed)
    for name in dir(PhoneNumberType):
        if not name.startswith("_") and getattr(PhoneNumberType, name) == kind:
            return name.lower()
    return "unknown"


def mask(number: str) -> str:
    """A number for logs: first 3 and last 3 characters kept (``+31******678``)."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 6) + number[-3:]


# -- SMS segments (3GPP TS 23.038: the GSM 7-bit default alphabet and its extension table) --

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    forcing_chars: tuple[str, ...]  # characters outside GSM-7 that forced UCS-2


def _pack(sizes: list[int], single: int, part: int) -> int:
    """Segments needed for characters of the given unit sizes; a character never splits."""
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
    """How many SMS segments ``text`` takes and in which encoding."""
    forcing = tuple(
        dict.fromkeys(c for c in text if c not in _GSM_BASIC and c not in _GSM_EXTENSION)
    )
    if not forcing:
        sizes = [2 if c in _GSM_EXTENSION else 1 for c in text]
        return SegmentInfo("GSM-7", _pack(sizes, 160, 153), sum(sizes), ())
    sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SegmentInfo("UCS-2", _pack(sizes, 70, 67), sum(sizes), forcing)
