"""bot.phone: parsing what people type, lenient inbound senders, presentation, SMS segments."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import phone
from bot.phone import (
    PhoneNumberError,
    SegmentInfo,
    count_segments,
    country_name,
    country_of,
    format_international,
    mask,
    normalize_sender,
    number_type,
    parse_number,
    parse_recipients,
)

# -- parse_number: accepted ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "raw", "expected"),
    [
        # Netherlands: national, separators, 00 prefix, +31(0) habit, Slack's tel wrapping
        ("NL", "0612345678", "+31612345678"),
        ("NL", "06-12345678", "+31612345678"),
        ("NL", "+31612345678", "+31612345678"),
        ("NL", "0031612345678", "+31612345678"),
        ("NL", "+31(0)612345678", "+31612345678"),
        ("NL", "010-1234567", "+31101234567"),
        ("NL", "<tel:+31612345678|+31 6 1234 5678>", "+31612345678"),
        ("NL", "<tel:0612345678|06 1234 5678>", "+31612345678"),
        ("NL", "<TEL:+31612345678>", "+31612345678"),
        ("NL", "tel:+31612345678", "+31612345678"),
        ("NL", "  +31612345678  ", "+31612345678"),
        # United States: (), -, ., a leading 1, the 011 prefix, and 00 though it is not US usage
        ("US", "(201)555-0123", "+12015550123"),
        ("US", "201.555.0123", "+12015550123"),
        ("US", "1-201-555-0123", "+12015550123"),
        ("US", "+1-(415)-555.0100", "+14155550100"),
        ("US", "01131612345678", "+31612345678"),
        ("US", "0031612345678", "+31612345678"),
        ("US", "<tel:+14155550100|(415) 555-0100>", "+14155550100"),
        # United Kingdom
        ("GB", "07400123456", "+447400123456"),
        ("GB", "+44(0)7400123456", "+447400123456"),
        ("GB", "0121-234-5678", "+441212345678"),
        ("GB", "00447400123456", "+447400123456"),
        # Germany
        ("DE", "015123456789", "+4915123456789"),
        ("DE", "030-123456", "+4930123456"),
        ("DE", "0049-151-23456789", "+4915123456789"),
        # France
        ("FR", "0612345678", "+33612345678"),
        ("FR", "06.12.34.56.78", "+33612345678"),
        ("FR", "+33(0)612345678", "+33612345678"),
        # Belgium
        ("BE", "0470123456", "+32470123456"),
        ("BE", "0470.12.34.56", "+32470123456"),
        ("BE", "012-34-56-78", "+3212345678"),
        # India: with and without the trunk 0
        ("IN", "09123456789", "+919123456789"),
        ("IN", "9123456789", "+919123456789"),
        ("IN", "+91-91234-56789", "+919123456789"),
        ("IN", "0091-9123456789", "+919123456789"),
        # Brazil: area code in (), carrier-select prefix 0 + area code
        ("BR", "(11)96123-4567", "+5511961234567"),
        ("BR", "011961234567", "+5511961234567"),
        ("BR", "+55-11-96123-4567", "+5511961234567"),
        # Japan: its own international prefix 010
        ("JP", "090-1234-5678", "+819012345678"),
        ("JP", "03-1234-5678", "+81312345678"),
        ("JP", "010-31-6-12345678", "+31612345678"),
        ("JP", "+81-90-1234-5678", "+819012345678"),
        # a number with a country code ignores the default region
        ("JP", "+31612345678", "+31612345678"),
        ("nl", "0612345678", "+31612345678"),
        # digits from other scripts (full-width, Arabic-Indic) are still digits
        ("NL", "+３１６１２３４５６７８", "+31612345678"),
        ("NL", "+٣١٦١٢٣٤٥٦٧٨", "+31612345678"),
    ],
)
def test_parse_number_accepts(region: str, raw: str, expected: str) -> None:
    assert parse_number(raw, region) == expected


# -- parse_number: rejected, with a reason that says what to do ------------------------------


@pytest.mark.parametrize(
    ("region", "raw", "fragments"),
    [
        ("NL", "", ["No phone number", "+31612345678"]),
        ("NL", "   ", ["No phone number"]),
        ("NL", "<tel:|nothing>", ["No phone number"]),
        ("NL", "hello", ["hello is not a phone number", "only digits"]),
        ("NL", "0612abc678", ["not a phone number"]),
        ("NL", "1-800-FLOWERS", ["not a phone number"]),
        ("NL", "+31612345678;ext=1", ["not a phone number"]),
        ("NL", "31+612345678", ["not a phone number"]),
        ("NL", "<https://evil.example|x>", ["not a phone number"]),
        ("NL", "+31 6 12345678", ["has spaces", "without spaces"]),
        ("NL", "+", ["not a phone number"]),
        ("NL", "0", ["too short to be a phone number"]),
        ("NL", "+1", ["too short to be a phone number"]),
        ("NL", "1" * 30, ["too long to be a phone number"]),
        # too short / too long for the country, named with its code
        ("NL", "+3161234", ["+3161234", "+31 (Netherlands)", "too short", "no digit is missing"]),
        ("NL", "+316123456789", ["+31 (Netherlands)", "too long", "extra digit"]),
        ("GB", "+4474001234567", ["+44 (United Kingdom)", "too long"]),
        ("IN", "+91123", ["+91 (India)", "too short"]),
        # national numbers: the message says which country they were read in
        (
            "NL",
            "0612345",
            ["0612345 has no country code", "+31 (Netherlands)", "too short", "with + and"],
        ),
        (
            "US",
            "0612345678",
            ["has no country code", "+1 (United States)", "not a valid one", "+31612345678"],
        ),
        ("US", "5550100", ["local number", "area code"]),
        # possible (right length) but not valid: there is no such number
        ("US", "+11235550123", ["+1 (United States)", "not a valid one", "check the digits"]),
        ("NL", "+31212345678", ["+31 (Netherlands)", "not a valid one"]),
        # unknown country code
        ("NL", "+999123456", ["known country code", "31 in +31612345678"]),
        ("DE", "00999123456", ["known country code", "49 in +49"]),
        # no usable default region for a national number
        ("", "0612345678", ["no country code", "no default country"]),
        ("XX", "0612345678", ["no country code", "no default country"]),
    ],
)
def test_parse_number_rejects_with_reason(region: str, raw: str, fragments: list[str]) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        parse_number(raw, region)
    error = caught.value
    assert error.raw == raw
    assert str(error) == error.reason
    for fragment in fragments:
        assert fragment in error.reason
    assert error.reason.endswith(".")


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        parse_number("nope", "NL")


def test_premium_numbers_parse_and_are_typed_premium() -> None:
    # Valid numbers are accepted whatever they cost; the type lets a caller decide.
    assert number_type(parse_number("0900-1234567", "NL")) == "premium_rate"
    assert number_type(parse_number("09012345678", "GB")) == "premium_rate"


def test_a_long_raw_value_is_shortened_in_the_reason() -> None:
    raw = "x" * 500
    with pytest.raises(PhoneNumberError) as caught:
        parse_number(raw, "NL")
    assert caught.value.raw == raw
    assert len(caught.value.reason) < 200
    assert "…" in caught.value.reason


# -- parse_recipients ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "token", "expected"),
    [
        ("NL", "+31612345678", ["+31612345678"]),
        ("NL", "+31612345678,0687654321", ["+31612345678", "+31687654321"]),
        ("NL", "0687654321,+31612345678", ["+31687654321", "+31612345678"]),
        # duplicates in any spelling collapse, first position kept
        ("NL", "0612345678,+31612345678,06-12345678", ["+31612345678"]),
        ("NL", "0687654321,+31612345678,0687654321", ["+31687654321", "+31612345678"]),
        # Slack-wrapped pieces, also with a comma in the label
        (
            "NL",
            "<tel:+31612345678|+31 6 1234 5678>,<tel:+447400123456|+44, 7400>",
            ["+31612345678", "+447400123456"],
        ),
        # stray commas are ignored
        ("NL", "+31612345678,", ["+31612345678"]),
        ("NL", ",+31612345678,,0687654321", ["+31612345678", "+31687654321"]),
        ("US", "(201)555-0123,+44-7400-123456", ["+12015550123", "+447400123456"]),
    ],
)
def test_parse_recipients(region: str, token: str, expected: list[str]) -> None:
    assert parse_recipients(token, region) == expected


@pytest.mark.parametrize("token", ["", "  ", ",", " , ,"])
def test_parse_recipients_needs_a_number(token: str) -> None:
    with pytest.raises(PhoneNumberError, match="No phone number") as caught:
        parse_recipients(token, "NL")
    assert caught.value.raw == token


def test_parse_recipients_reports_the_first_bad_number() -> None:
    with pytest.raises(PhoneNumberError) as caught:
        parse_recipients("+31612345678,0612345,hello", "NL")
    assert caught.value.raw == "0612345"
    assert "too short" in caught.value.reason


def test_parse_recipients_limit() -> None:
    numbers = [f"+3161234{i:04d}" for i in range(11)]
    assert len(parse_recipients(",".join(numbers[:10]), "NL")) == 10
    with pytest.raises(PhoneNumberError, match=r"11 different numbers.*at most 10"):
        parse_recipients(",".join(numbers), "NL")
    # duplicates do not count against the limit
    assert parse_recipients(",".join(numbers[:3] * 5), "NL") == numbers[:3]
    with pytest.raises(PhoneNumberError, match="at most 2"):
        parse_recipients(",".join(numbers[:3]), "NL", max_recipients=2)


# -- normalize_sender (inbound: lenient, never raises) ---------------------------------------


@pytest.mark.parametrize(
    ("region", "raw", "expected"),
    [
        ("NL", "+31612345678", "+31612345678"),
        ("NL", " +31 6 1234 5678 ", "+31612345678"),
        ("NL", "0612345678", "+31612345678"),
        ("NL", "31612345678", "+31612345678"),
        ("NL", "0031612345678", "+31612345678"),
        ("US", "+1 (415) 555-0100", "+14155550100"),
        ("GB", "07400123456", "+447400123456"),
        ("JP", "+81-90-1234-5678", "+819012345678"),
        # possible though not valid: E.164 only drops formatting, so it is safe with a +
        ("NL", "+3161234", "+3161234"),
        # short codes keep their identity: no country code is invented for them
        ("NL", "+75973", "+75973"),
        ("NL", "75973", "75973"),
        ("US", "32665", "32665"),
        ("GB", " 60060 ", "60060"),
        # alphanumeric senders, also ones a vanity-number reading would turn into digits
        ("NL", "ACME", "ACME"),
        ("NL", " Bank24 ", "Bank24"),
        ("US", "1800FLOWERS", "1800FLOWERS"),
        ("NL", "VODAFONE1234567", "VODAFONE1234567"),
        ("NL", "", ""),
        ("", "0612345678", "0612345678"),
        ("XX", "+31612345678", "+31612345678"),
    ],
)
def test_normalize_sender(region: str, raw: str, expected: str) -> None:
    assert normalize_sender(raw, region) == expected


# -- presentation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+31612345678", "+31 6 12345678"),
        ("+12015550123", "+1 201-555-0123"),
        ("+447400123456", "+44 7400 123456"),
        ("+4915123456789", "+49 1512 3456789"),
        ("+33612345678", "+33 6 12 34 56 78"),
        ("+819012345678", "+81 90-1234-5678"),
        # short codes, alphanumerics and non-E.164 text come back unchanged
        ("+75973", "+75973"),
        ("75973", "75973"),
        ("ACME", "ACME"),
        ("0612345678", "0612345678"),
        ("", ""),
    ],
)
def test_format_international(number: str, expected: str) -> None:
    assert format_international(number) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+31612345678", "NL"),
        ("+12015550123", "US"),
        ("+14165550123", "CA"),
        ("+447400123456", "GB"),
        ("+5511961234567", "BR"),
        ("+80012345678", None),  # international freephone: no country
        ("+75973", None),
        ("ACME", None),
        ("0612345678", None),
    ],
)
def test_country_of(number: str, expected: str | None) -> None:
    assert country_of(number) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NL", "Netherlands"),
        ("nl", "Netherlands"),
        ("US", "United States"),
        ("GB", "United Kingdom"),
        ("DE", "Germany"),
        ("JP", "Japan"),
        ("CI", "Côte d'Ivoire"),
        ("XX", "XX"),
        ("001", "001"),
        ("", ""),
    ],
)
def test_country_name(code: str, expected: str) -> None:
    assert country_name(code) == expected


def test_region_names_match_the_geocoder() -> None:
    """bot/region_names.py is what scripts/gen_region_names.py makes from the installed
    phonenumbers; a release that renames a region fails here until the script is run again."""
    import runpy

    from phonenumbers import geocoder

    script = runpy.run_path(str(Path(__file__).parent.parent / "scripts" / "gen_region_names.py"))
    expected = script["region_names"]()
    assert len(expected) > 200
    from bot.region_names import REGION_NAMES

    assert expected == REGION_NAMES
    for region, name in expected.items():
        example = phonenumbers.example_number(region)
        assert geocoder.country_name_for_number(example, "en") == name == country_name(region)
    tree = (Path(__file__).parent.parent / "bot" / "region_names.py").read_text(encoding="utf-8")
    assert tree == script["render"](expected), "run scripts/gen_region_names.py"


def test_the_service_does_not_load_the_geocoder() -> None:
    """Importing the whole service must not pull in phonenumbers' 97 MB geocoding data."""
    code = "import sys, bot.web, bot.cli; print('phonenumbers.geodata' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+31612345678", "mobile"),
        ("+31101234567", "fixed_line"),
        ("+319001234567", "premium_rate"),  # NL 0900
        ("+319061234", "premium_rate"),  # NL 0906
        ("+449012345678", "premium_rate"),  # UK 090x
        ("+449098765432", "premium_rate"),
        ("+18002345678", "toll_free"),  # US 800
        ("+318001234", "toll_free"),  # NL 0800
        ("+448001234567", "toll_free"),
        ("+33884012345", "shared_cost"),
        ("+3278791234", "shared_cost"),
        ("+12015550123", "fixed_line_or_mobile"),
        ("+445612345678", "voip"),
        ("+11235550123", "unknown"),  # possible, not valid
        ("+75973", "unknown"),
        ("ACME", "unknown"),
    ],
)
def test_number_type(number: str, expected: str) -> None:
    assert number_type(number) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+31612345678", "+31******678"),
        ("+12015550123", "+12******123"),
        ("+75973", "******"),
        ("1234567", "123*567"),
        ("ACME", "****"),
        ("", ""),
    ],
)
def test_mask(number: str, expected: str) -> None:
    assert mask(number) == expected
    assert len(mask(number)) == len(number)


# -- property tests --------------------------------------------------------------------------

_NUMBERISH = st.text(alphabet="+0123456789-().,<>|tel: ", max_size=40)


@given(st.one_of(st.text(max_size=60), _NUMBERISH), st.sampled_from(["NL", "US", "GB", "JP", ""]))
def test_parse_recipients_returns_valid_e164_or_raises_phone_number_error(
    token: str, region: str
) -> None:
    try:
        numbers = parse_recipients(token, region)
    except PhoneNumberError as error:
        reason = error.reason
        assert reason
        return
    assert numbers
    assert len(numbers) == len(set(numbers)) <= 10
    for number in numbers:
        assert number.startswith("+")
        assert number[1:].isascii() and number[1:].isdigit()
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number


@given(st.one_of(st.text(max_size=60), _NUMBERISH), st.sampled_from(["NL", "US", "IN", "", "XX"]))
def test_normalize_sender_never_raises(raw: str, region: str) -> None:
    result = normalize_sender(raw, region)
    assert result == raw.strip() or result.startswith("+")


@given(st.text(max_size=40))
def test_presentation_never_raises(text: str) -> None:
    format_international(text)
    country_of(text)
    number_type(text)
    assert len(mask(text)) == len(text)


# -- SMS segments ----------------------------------------------------------------------------


def test_gsm7_tables_match_3gpp_ts_23_038() -> None:
    table = phone._GSM7_BASIC_TABLE
    assert len(table) == 128
    # spot checks against the spec's table, by septet value
    assert table[0x00] == "@"
    assert table[0x02] == "$"
    assert table[0x09] == "Ç"
    assert table[0x0A] == "\n"
    assert table[0x0D] == "\r"
    assert table[0x1B] == "\x1b"
    assert table[0x24] == "¤"
    assert table[0x40] == "¡"
    assert table[0x5F] == "§"
    assert table[0x60] == "¿"
    assert table[0x7F] == "à"
    greek = table[0x10] + table[0x12:0x1B]
    assert [unicodedata.name(ch) for ch in greek] == [
        f"GREEK CAPITAL LETTER {name}"
        for name in ("DELTA", "PHI", "GAMMA", "LAMDA", "OMEGA", "PI", "PSI", "SIGMA", "THETA", "XI")
    ]
    assert set(phone._GSM7_EXTENSION_TABLE.values()) == set("\f^{}\\[~]|€")


def test_empty_text_is_no_segments() -> None:
    assert count_segments("") == SegmentInfo("GSM-7", 0, 0, ())


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("a", "GSM-7", 1, 1),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 153 * 2, "GSM-7", 2, 306),
        ("a" * (153 * 2 + 1), "GSM-7", 3, 307),
        ("a" * 153 * 3, "GSM-7", 3, 459),
        # the whole basic table, and each extension character counting two
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ ¤¡§¿ÄÖÑÜäöñüà", "GSM-7", 1, 45),
        ("^{}\\[~]|€\f", "GSM-7", 1, 20),
        ("€" * 80, "GSM-7", 1, 160),
        ("€" * 81, "GSM-7", 2, 162),
        # 158 + a 2-septet € = 160 septets: still one segment
        ("a" * 158 + "€", "GSM-7", 1, 160),
        ("a" * 159 + "€", "GSM-7", 2, 161),
        # 152 septets then €: the pair does not fit in part one (153) and moves whole,
        # so part one is 152 and part two holds the pair
        ("a" * 152 + "€" + "a" * 7, "GSM-7", 2, 161),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3, 306),
        ("a" * 153 + "€" + "a" * 151, "GSM-7", 2, 306),
        # UCS-2
        ("é" * 69 + "ç", "UCS-2", 1, 70),
        ("ç" * 70, "UCS-2", 1, 70),
        ("ç" * 71, "UCS-2", 2, 71),
        ("ç" * 67 * 2, "UCS-2", 2, 134),
        ("ç" * (67 * 2 + 1), "UCS-2", 3, 135),
        # emoji beyond U+FFFF are surrogate pairs: two units that must stay together
        ("😀" * 35, "UCS-2", 1, 70),
        ("😀" * 36, "UCS-2", 2, 72),
        ("ç" * 66 + "😀" + "ç" * 4, "UCS-2", 2, 72),
        ("ç" * 66 + "😀" + "ç" * 66, "UCS-2", 3, 134),
        ("ç" * 65 + "😀" + "ç" * 67, "UCS-2", 2, 134),
        ("x" * 69 + "😀", "UCS-2", 2, 71),
    ],
)
def test_count_segments(text: str, encoding: str, segments: int, units: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


def test_curly_apostrophe_forces_ucs2_and_is_reported() -> None:
    info = count_segments("Don’t forget: it’s at 10")
    assert info.encoding == "UCS-2"
    assert info.forcing_chars == ("’",)
    assert info.units == 24
    assert count_segments("Don't forget").encoding == "GSM-7"


def test_forcing_chars_are_distinct_in_order_of_appearance() -> None:
    info = count_segments("ç😀aç’😀é")
    assert info.forcing_chars == ("ç", "😀", "’")
    assert count_segments("plain text {with} €").forcing_chars == ()


@pytest.mark.parametrize("char", ["\x1b", "\t", "ç", "\u2126", "\u2206", "`", "\u00a0"])
def test_characters_outside_gsm7(char: str) -> None:
    # ESC is the extension escape, not a character; Ω (OHM SIGN) and ∆ (INCREMENT) only
    # look like the GSM Greek capitals; lower-case ç and the backtick are not in the tables.
    info = count_segments("a" + char)
    assert info.encoding == "UCS-2"
    assert info.forcing_chars == (char,)


@given(st.text(max_size=400))
def test_segment_counts_are_consistent(text: str) -> None:
    info = count_segments(text)
    if info.encoding == "GSM-7":
        single, part = 160, 153
        assert not info.forcing_chars
    else:
        single, part = 70, 67
        assert info.forcing_chars
        assert info.units == len(text.encode("utf-16-le")) // 2
    if not text:
        assert info.segments == 0
    elif info.units <= single:
        assert info.segments == 1
    else:
        # never fewer parts than the payload needs; at most one extra per part for a
        # character that had to move whole to the next part
        assert -(-info.units // part) <= info.segments <= -(-info.units // (part - 1))
