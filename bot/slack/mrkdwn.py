"""Slack text in both directions: escaping what we post, decoding what people type.

Slack's message text has exactly three control characters, ``&``, ``<`` and ``>``; every
mention, link and broadcast (``<!channel>``) is a ``<...>`` span. Escaping those three makes
any external text inert. The other way, a message event carries Slack's encoded form, which we
turn back into what the person saw before it goes out as SMS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import emoji

_SPAN = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}
_SHORTCODE = re.compile(r":[a-z0-9_+\-']+:")


def escape(text: str) -> str:
    """Make ``text`` inert in Slack: ``&``, ``<``, ``>`` become entities (``&`` first).

    Not idempotent, on purpose: an SMS that says ``&lt;`` is shown as ``&lt;`` (sent as
    ``&amp;lt;``), not as ``<``.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_user_ids(text: str) -> list[str]:
    """The user ids mentioned in Slack-encoded ``text``, in order, without repeats."""
    return list(dict.fromkeys(_USER.findall(text)))


def _span(body: str, user_names: Mapping[str, str]) -> str:
    target, _, label = body.partition("|")
    if target.startswith("@"):
        user = target[1:]
        name = user_names.get(user) or label.lstrip("@") or user
        return f"@{name}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        command = target[1:]
        if command in _BROADCASTS:
            return _BROADCASTS[command]
        if command.startswith("subteam^"):
            return label if label.startswith("@") else f"@{label or command[8:]}"
        return label or f"@{command}"
    if target.startswith("mailto:"):
        return label or target[len("mailto:") :]
    if target.startswith("tel:"):
        return target[len("tel:") :]
    # A link: the address itself, because a label can say anything.
    return target


def _emojize(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(0)
        converted = emoji.emojize(code, language="alias")
        return converted if converted != code else code

    return _SHORTCODE.sub(replace, text)


def to_plain_text(text: str, *, user_names: Mapping[str, str] | None = None) -> str:
    """What a person typed, from Slack's encoded message text: mentions become ``@name``,
    channel links ``#name``, links their address, ``:emoji:`` the emoji, and ``&amp;``,
    ``&lt;``, ``&gt;`` are decoded last (so ``&lt;@U1&gt;`` stays the literal ``<@U1>``)."""
    names = user_names or {}
    parts: list[str] = []
    last = 0
    for match in _SPAN.finditer(text):
        parts.append(_emojize(text[last : match.start()]))
        parts.append(_span(match.group(1), names))
        last = match.end()
    parts.append(_emojize(text[last:]))
    return _unescape("".join(parts))
