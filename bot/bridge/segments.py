"""What an SMS text will cost, in words a sender can act on: its segment count, its encoding,
and, when one character forced UCS-2, which one and what to type instead.

Pure functions over ``bot.phone.count_segments``; the Slack layer escapes what it shows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.phone import count_segments

# Characters that phones and word processors put in by themselves ("smart" punctuation) and
# the GSM-7 character that looks the same. Each one alone turns a whole SMS into UCS-2.
SUGGESTIONS: dict[str, str] = {
    "\u2019": "'",  # ’ right single quotation mark (it’s)
    "\u2018": "'",  # ‘
    "\u201a": "'",  # ‚
    "\u2032": "'",  # ′ prime
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u2033": '"',  # ″
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2212": "-",  # − minus sign
    "\u2026": "...",  # … ellipsis
    "\u00a0": " ",  # no-break space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
    "\u200b": "",  # zero-width space
}


@dataclass(frozen=True, slots=True)
class Preview:
    """How ``text`` goes out. ``hint`` is empty for GSM-7; for UCS-2 it names the character
    that forced it, where, what it costs, and (for common ones) what to type instead."""

    segments: int
    encoding: str
    hint: str

    def summary(self, recipients: int = 1) -> str:
        """``"1 SMS segment (GSM-7)"``, ``"3 SMS segments each (UCS-2)"``."""
        plural = "segment" if self.segments == 1 else "segments"
        each = " each" if recipients > 1 else ""
        return f"{self.segments} SMS {plural}{each} ({self.encoding})"


def _shown(char: str) -> str:
    """A character as a person can see it in a sentence (invisible ones by name)."""
    if char.isspace() or unicodedata.category(char) in {"Cf", "Zs"}:
        return unicodedata.name(char, "invisible character").lower()
    return char


def _word_with(text: str, char: str) -> str | None:
    """The word (run of non-space characters) where ``char`` first appears, if it is more
    than the character alone."""
    for word in re.split(r"\s+", text):
        if char in word and word != char:
            return word[:30]
    return None


def preview(text: str) -> Preview:
    """The segment count and encoding of ``text``, and a hint when UCS-2 was forced."""
    info = count_segments(text)
    if info.encoding == "GSM-7" or not info.forcing_chars:
        return Preview(info.segments, info.encoding, "")
    char = info.forcing_chars[0]
    where = _word_with(text, char)
    subject = f"the {_shown(char)}" + (f" in {where}" if where and not char.isspace() else "")
    fixable = [c for c in info.forcing_chars if c in SUGGESTIONS]
    fixed = text
    for c in fixable:
        fixed = fixed.replace(c, SUGGESTIONS[c])
    after = count_segments(fixed)
    if after.encoding == "GSM-7" and after.segments < info.segments:
        cost = (
            "doubles the cost"
            if info.segments == 2 * after.segments
            else f"makes it {info.segments} segments instead of {after.segments}"
        )
        effect = f"{subject} {cost}"
    else:
        effect = f"{subject} forces UCS-2 (70 characters a segment instead of 160)"
    if char in SUGGESTIONS:
        replacement = SUGGESTIONS[char]
        if not replacement:
            effect += "; remove it"
        elif not replacement.strip():
            effect += "; use a plain space instead"
        else:
            effect += f"; use {replacement} instead"
    others = [_shown(c) for c in info.forcing_chars[1:5]]
    if others:
        effect += f" (also not in GSM-7: {' '.join(others)})"
    return Preview(info.segments, info.encoding, effect)
