"""The segment preview a sender sees: count, encoding, and what forced UCS-2."""

from __future__ import annotations

import pytest

from bot.bridge.segments import SUGGESTIONS, preview
from bot.phone import count_segments


@pytest.mark.parametrize(
    ("text", "summary", "hint"),
    [
        ("See you at 5", "1 SMS segment (GSM-7)", ""),
        ("x" * 161, "2 SMS segments (GSM-7)", ""),
        ("it’s fine", "1 SMS segment (UCS-2)", "the ’ in it’s forces UCS-2"),
        ("it’s " + "y" * 95, "2 SMS segments (UCS-2)", "the ’ in it’s doubles the cost; use '"),
        ("it’s " + "y" * 150, "3 SMS segments (UCS-2)", "makes it 3 segments instead of 1"),
        ("“Hi” there", "1 SMS segment (UCS-2)", 'use " instead (also not in GSM-7: ”)'),
        ("wait – what", "1 SMS segment (UCS-2)", "the – forces UCS-2"),
        ("so… ok", "1 SMS segment (UCS-2)", "use ... instead"),
        ("a\u00a0b", "1 SMS segment (UCS-2)", "the no-break space forces"),
        ("zero\u200bwidth", "1 SMS segment (UCS-2)", "remove it"),
        ("party 🎉", "1 SMS segment (UCS-2)", "the 🎉 forces UCS-2"),
    ],
)
def test_the_preview_names_what_forced_ucs2(text: str, summary: str, hint: str) -> None:
    result = preview(text)
    assert result.summary() == summary
    assert hint in result.hint
    if not hint:
        assert result.hint == ""


def test_several_recipients_are_each_charged() -> None:
    assert preview("hi").summary(recipients=3) == "1 SMS segment each (GSM-7)"


def test_every_suggestion_is_gsm7() -> None:
    for char, replacement in SUGGESTIONS.items():
        assert count_segments(char).encoding == "UCS-2", repr(char)
        assert count_segments(replacement or "x").encoding == "GSM-7", repr(char)
