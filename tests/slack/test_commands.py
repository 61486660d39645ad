"""The /sms text parser: what it asks for, and that no text can make it misbehave."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.commands import (
    CommandError,
    SendSms,
    SetOptOut,
    SetSignature,
    ShowHelp,
    parse_sms_command,
)
from bot.slack.directory_commands import DirectoryCommand


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
        ("from:+442079460958 0612345678 hi", SendSms(["+31612345678"], "hi", "+442079460958")),
        (
            "FROM:<tel:+442079460958|+44 20 7946 0958> +31612345678 hi",
            SendSms(["+31612345678"], "hi", "+442079460958"),
        ),
        ('signature "— Anna, Acme"', SetSignature("— Anna, Acme")),
        ("signature “Anna”", SetSignature("Anna")),
        ("signature off", SetSignature("")),
        ("signature", SetSignature(None)),
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
    assert isinstance(
        parsed, ShowHelp | SendSms | SetOptOut | SetSignature | CommandError | DirectoryCommand
    )
    if isinstance(parsed, SendSms):
        assert parsed.recipients and parsed.text.strip()
        assert all(n.startswith("+") and n[1:].isdigit() for n in parsed.recipients)
    if isinstance(parsed, CommandError):
        assert "<!" not in parsed.message and "<@" not in parsed.message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("from:+44 0612345678 hi", "from: +44 is too short"),
        ("from:+442079460958 0612345678", "no text"),
        ("from:+442079460958 help", "After from:<number>"),
        ("signature " + "x" * 101, "keep it to 100"),
    ],
)
def test_from_and_signature_mistakes_are_explained(text: str, says: str) -> None:
    parsed = parse_sms_command(text, region="NL")
    assert isinstance(parsed, CommandError)
    assert says.lower() in parsed.message.lower()
