"""Slack message text in both directions: escaping what we post, decoding what people type.

Slack's message text has exactly three control characters, ``&``, ``<`` and ``>``
(https://api.slack.com/reference/surfaces/formatting#escaping). Every mention, broadcast
(``<!channel>``), user-group ping and link is a ``<...>`` span, so text with those three
escaped cannot ping, link or impersonate anything: that is how SMS text is made safe to post.

The other way, a message event carries Slack's encoded form (``<@U123>``, ``&lt;``...), which
:func:`to_plain_text` turns back into what the person saw, to send as SMS.

Pure functions; no Slack API calls (the caller looks up display names first, see
:func:`mentioned_user_ids`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import emoji

__all__ = ["escape", "mentioned_user_ids", "to_plain_text"]

# One Slack span. Inside Slack-encoded text a literal < or > is always escaped, so a span
# cannot nest and never contains either; anything unmatched is left as text.
_SPAN = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}
# Slack's emoji names are lower case letters, digits and _ + - (":+1:", ":man-shrugging:").
_SHORTCODE = re.compile(r":([a-z0-9_+\-]+):")
# Slack sends a skin tone as its own code after the emoji: ":wave::skin-tone-3:". Tones 2-6
# are the five Fitzpatrick modifiers U+1F3FB..U+1F3FF (Unicode TR51 §2.4).
_SKIN_TONE = re.compile(r"skin-tone-([2-6])")
# Slack names flags "flag-" plus the ISO code (":flag-nl:"); the emoji is the pair of
# regional indicator symbols for the two letters (Unicode TR51 Annex B).
_FLAG = re.compile(r"flag-([a-z]{2})")
# Slack-only names of standard emoji, mapped to the name the emoji package uses.
_SLACK_ALIASES = {"simple_smile": "slightly_smiling_face", "the_horns": "sign_of_the_horns"}


def escape(text: str) -> str:
    """``text`` made inert for a Slack message: ``&`` → ``&amp;``, ``<`` → ``&lt;``,
    ``>`` → ``&gt;``, nothing else.

    ``text``: literal text from outside (an SMS, a phone number, an error) to show verbatim.
    ``&`` goes first so the entities the other two produce are not escaped again. The result
    never contains ``<`` or ``>``, so ``<!channel>``, ``<@U123>``, ``<!subteam^S1>`` and
    ``<https://evil|https://bank>`` are all shown as typed instead of acting.

    Not idempotent, on purpose: an SMS that says ``&lt;`` must show ``&lt;`` in Slack, so
    its ``&`` is escaped to ``&amp;lt;``. Treating ``&lt;`` as "already escaped" would show
    ``<`` instead, and would let a sender smuggle entities past us. Escape exactly once, at
    the point where literal text becomes Slack text.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    """The inverse of :func:`escape`, in one pass so ``&amp;lt;`` becomes ``&lt;``, not ``<``."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def mentioned_user_ids(text: str) -> list[str]:
    """The ids of users mentioned in Slack-encoded ``text`` (``<@U123>``, ``<@W456|bob>``),
    in order of first mention, without repeats: the names to look up before calling
    :func:`to_plain_text`."""
    ids: dict[str, None] = {}
    for match in _SPAN.finditer(text):
        target = match.group(1).partition("|")[0]
        if target.startswith("@") and len(target) > 1:
            ids.setdefault(target[1:], None)
    return list(ids)


def _span(body: str, user_names: Mapping[str, str]) -> str:
    """Plain text for one ``<body>`` span. Labels are Slack-encoded, names from the caller
    are not: each is decoded (or not) here, before it joins the output."""
    target, has_label, encoded_label = body.partition("|")
    label = _unescape(encoded_label)
    if target.startswith("@"):
        user = target[1:]
        name = user_names.get(user) or label.removeprefix("@") or user
        return f"@{name}"
    if target.startswith("#"):
        return f"#{label.removeprefix('#') or _unescape(target[1:])}"
    if target.startswith("!"):
        command = target[1:]
        if command in _BROADCASTS:
            return _BROADCASTS[command]
        if command.startswith("subteam^"):
            handle = label or command.removeprefix("subteam^")
            return handle if handle.startswith("@") else f"@{handle}"
        # <!date^...|fallback> and any newer special: the fallback is what people saw.
        return label if has_label else _unescape(f"<{body}>")
    lowered = target.lower()
    if lowered.startswith("mailto:"):
        return _unescape(target[len("mailto:") :])
    if lowered.startswith("tel:"):
        return _unescape(target[len("tel:") :])
    # A link. The address, never the label: "<https://evil.example|https://bank.example>"
    # shows "https://bank.example", and an SMS must not carry that lie along.
    return _unescape(target)


def _emoji_for(name: str) -> str | None:
    """The emoji character(s) for Slack shortcode ``name`` (no colons), or None if unknown."""
    tone = _SKIN_TONE.fullmatch(name)
    if tone:
        return chr(0x1F3FB + int(tone.group(1)) - 2)
    flag = _FLAG.fullmatch(name)
    if flag:
        pair = "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in flag.group(1))
        # Only real flags: "flag-zz" would be two lone regional indicators, not an emoji.
        return pair if emoji.is_emoji(pair) else None
    name = _SLACK_ALIASES.get(name, name)
    for candidate in dict.fromkeys((name, name.replace("-", "_"))):
        code = f":{candidate}:"
        converted = emoji.emojize(code, language="alias")
        if converted != code:
            return converted
    return None


def _emojize(text: str) -> str:
    """``text`` with known ``:shortcodes:`` replaced by emoji; unknown ones stay as typed.

    Scans by hand instead of ``emoji.emojize(text)`` so that a colon which closed an unknown
    candidate can open the next one: in "at 10:30:smile:" the ":30:" is not an emoji, and
    ":smile:" still is.
    """
    out: list[str] = []
    position = 0
    while match := _SHORTCODE.search(text, position):
        replacement = _emoji_for(match.group(1))
        if replacement is None:
            # Keep up to (not including) the closing colon; it may start the next code.
            out.append(text[position : match.end() - 1])
            position = match.end() - 1
        else:
            out.append(text[position : match.start()])
            out.append(replacement)
            position = match.end()
    out.append(text[position:])
    return "".join(out)


def to_plain_text(text: str, *, user_names: Mapping[str, str] | None = None) -> str:
    """What a person typed, from the ``text`` of a Slack message event, for sending as SMS.

    ``text``: Slack's encoded message text. ``user_names``: display names by user id (from
    :func:`mentioned_user_ids` and a lookup); missing ids fall back to the mention's label,
    then to the id.

    - ``<@U123>`` / ``<@U123|bob>`` → ``@display name`` (``@bob``, ``@U123``)
    - ``<#C123|general>`` → ``#general`` (``#C123`` without a label)
    - ``<!here>`` / ``<!channel>`` / ``<!everyone>`` → ``@here`` / ``@channel`` / ``@everyone``
    - ``<!subteam^S1|@team>`` → ``@team``; ``<!date^...|fallback>`` → ``fallback``
    - ``<https://x.example|label>`` and ``<https://x.example>`` → ``https://x.example``
      (the address: a label can lie); ``<mailto:a@b.c|...>`` → ``a@b.c``;
      ``<tel:+31...|...>`` → ``+31...``
    - ``:emoji:`` → the emoji where known (Slack's skin tones and flags too), else unchanged
    - ``&amp;``, ``&lt;``, ``&gt;`` → ``&``, ``<``, ``>``, decoded last, after the spans were
      found: ``&lt;@U1&gt;`` is someone writing "<@U1>", not a mention.
    """
    names: Mapping[str, str] = user_names or {}
    parts: list[str] = []
    position = 0
    for match in _SPAN.finditer(text):
        parts.append(_unescape(_emojize(text[position : match.start()])))
        parts.append(_span(match.group(1), names))
        position = match.end()
    parts.append(_unescape(_emojize(text[position:])))
    return "".join(parts)
