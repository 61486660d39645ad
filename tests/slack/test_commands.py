"""The /sms text parser: what it asks for, and that no text can make it misbehave."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.commands import CommandError, SendSms, SetOptOut, ShowHelp, parse_sms_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ShowHelp()),
        ("help", ShowHelp()),
        ("+31612345678 hi", SendSms(["+31612345678"], "hi")),
        ("+31612345678   hi\nthere", SendSms(["+31612345678"], "hi\nthere")),
        ("+31612345678, 0687654321 hi", SendSms(["+31612345678", "+31687654321"], "hi")),
        ("<tel:+31612345678|+31 6 1234 5678> hi", SendSms(["+31612345678"], "hi")),
        ("+31612345678 fish &amp; chips", SendSms(["+31612345678"], "fish & chips")),
        ("optout +31612345678", SetOptOut("+31612345678", opted_out=True)),
        ("OPTIN 0612345678", SetOptOut("+31612345678", opted_out=False)),
    ],
)
def test_what_the_command_asks_for(text: str, expected: object) -> None:
    assert parse_sms_command(text, region="NL") == expected


def test_a_bad_number_that_looks_like_markup_is_shown_inert() -> None:
    parsed = parse_sms_command("<!channel> hi", region="NL")
    assert isinstance(parsed, CommandError)
    assert "<!channel>" not in parsed.message


@given(st.text(max_size=200))
def test_any_text_gets_an_answer_never_an_exception(text: str) -> None:
    parsed = parse_sms_command(text, region="NL")
    assert isinstance(parsed, ShowHelp | SendSms | SetOptOut | CommandError)
    if isinstance(parsed, SendSms):
        assert parsed.recipients and parsed.text.strip()
        assert all(n.startswith("+") and n[1:].isdigit() for n in parsed.recipients)
    if isinstance(parsed, CommandError):
        assert "<!" not in parsed.message and "<@" not in parsed.message
