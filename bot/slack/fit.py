"""Slack's size limits, and the one place where the bridge's text is fitted into them.

Every renderer in ``bot/slack`` builds its blocks through these functions, so no message,
ephemeral, answer or view is refused for its size (``invalid_blocks``, ``msg_too_long``,
``msg_blocks_too_long``) and no SMS text is lost to a limit:

- :func:`split` cuts long mrkdwn into pieces that concatenate back to the whole, never inside
  an escape entity (``&amp;``) or a ``<…|…>`` span, preferring line, then word boundaries;
- :func:`pages` spreads sections over as many messages as they need, in order;
- :func:`cut` and :func:`excerpt` shorten what only needs to be quoted (notices, lists);
- :func:`fit_lines` cuts a list at an item boundary and says how many more there are.

Slack counts characters of the string as sent, escapes included. The limits are Slack's
documented ones: https://api.slack.com/reference/block-kit/blocks,
https://api.slack.com/reference/block-kit/block-elements,
https://api.slack.com/reference/surfaces/views and https://api.slack.com/methods/chat.postMessage
(see /work/shared/reference/slack.md §3.6a).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from bot.slack.mrkdwn import escape

Block = dict[str, Any]

SECTION_MAX = 3000
HEADER_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
TEXT_MAX = 40_000
MODAL_TEXT_MAX = 24  # a modal's title, submit and close
PRIVATE_METADATA_MAX = 3000
# Slack answers msg_blocks_too_long for a message whose blocks are much over ~12,000
# characters of JSON; the budget leaves room for the JSON Slack's clients add around them.
MESSAGE_JSON_BUDGET = 11_000
ELLIPSIS = "…"

# What must never be cut in two: an entity the escaping made, or a Slack span (a mention,
# a link, a date). Inside Slack text a literal < or > is always escaped, so spans do not nest.
_ATOM = re.compile(r"&(?:amp|lt|gt);|<[^<>\n]*>")


def size(blocks: Sequence[Block]) -> int:
    """The length of ``blocks`` as JSON, in characters. Slack counts the characters of the
    text in them (about 12,000 at most); the JSON around the text only adds to this count,
    so a message within the budget is within Slack's limit."""
    return len(json.dumps(list(blocks), ensure_ascii=False))


def _atoms(text: str) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for match in _ATOM.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    return starts, ends


def _inside(position: int, starts: list[int], ends: list[int]) -> bool:
    """Whether a cut before ``text[position]`` would split an atom."""
    i = bisect.bisect_left(starts, position) - 1
    return i >= 0 and starts[i] < position < ends[i]


def _cut_at(text: str, start: int, limit: int, starts: list[int], ends: list[int]) -> int:
    """Where the piece beginning at ``start`` ends: after a line break, else after a space,
    in the window's second half (so no piece is needlessly short), else as far as an atom
    allows."""
    end = start + limit
    allowed = [c for c in range(end, start, -1) if not _inside(c, starts, ends)]
    half = start + limit // 2
    for breaker in ("\n", " "):
        for c in allowed:
            if c < half:
                break
            if text[c - 1] == breaker or (breaker == " " and text[c - 1].isspace()):
                return c
    # An atom longer than the limit (never made by the bridge): cut it rather than loop.
    return allowed[0] if allowed else end


def split(text: str, limit: int = SECTION_MAX) -> list[str]:
    """``text`` (mrkdwn, already escaped) in pieces of at most ``limit`` characters whose
    concatenation is ``text`` exactly; a break keeps its space or newline on the piece
    before it. Returns ``[text]`` when it fits (``[""]`` for an empty text)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    starts, ends = _atoms(text)
    pieces: list[str] = []
    start = 0
    while len(text) - start > limit:
        end = _cut_at(text, start, limit, starts, ends)
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def cut(text: str, limit: int) -> str:
    """``text`` (mrkdwn) shortened to at most ``limit`` characters at a word, with "…" when
    something was left out; never inside an entity or a span."""
    if len(text) <= limit:
        return text
    head = split(text, max(1, limit - len(ELLIPSIS)))[0].rstrip()
    return head + ELLIPSIS


def excerpt(plain: str, limit: int = 300) -> str:
    """A quote of ``plain`` (literal text: an SMS, an error) for a notice or a list: escaped,
    at most ``limit`` characters as sent, cut at a word."""
    return cut(escape(plain), limit)


def cut_plain(text: str, limit: int) -> str:
    """Plain text (a button or option label) cut to ``limit`` characters at a word."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def sections(text: str, *, lead: str = "") -> list[Block]:
    """``lead`` and then ``text`` (both mrkdwn) as sections of at most SECTION_MAX
    characters; ``lead`` and the start of ``text`` share the first, on two lines. The
    section texts, less ``lead`` and its line break, concatenate to ``text``."""
    if not lead:
        return [section(piece) for piece in split(text)] if text else []
    room = SECTION_MAX - len(lead) - 1
    if not text:
        return [section(lead)]
    first = split(text, room)[0]
    rest = text[len(first) :]
    return [section(f"{lead}\n{first}"), *(section(p) for p in split(rest) if rest)]


def pages(
    body: Sequence[Block],
    *,
    tail: Sequence[Block] = (),
    continued: Callable[[int, int], Block] | None = None,
    max_blocks: int = MESSAGE_BLOCKS_MAX,
    budget: int = MESSAGE_JSON_BUDGET,
) -> list[list[Block]]:
    """``body`` blocks spread over as many messages as they need, in order; ``tail`` (a
    status line, buttons) ends the first message. ``continued(page, pages)`` makes the
    marker block that ends each page but the last and starts each further one."""
    marker = continued(1, 2) if continued else None
    reserve = size([marker]) + 2 if marker else 0
    out: list[list[Block]] = []
    current: list[Block] = []
    extra = list(tail)
    for block in body:
        trial = [*current, block, *extra]
        blocks_needed = len(trial) + (2 if marker else 0)
        if current and (blocks_needed > max_blocks or size(trial) + 2 * reserve > budget):
            out.append([*current, *extra])
            current, extra = [], []
        current.append(block)
    out.append([*current, *extra])
    if continued is not None and len(out) > 1:
        total = len(out)
        for i, page in enumerate(out):
            if i > 0:
                page.insert(0, continued(i + 1, total))
            if i < total - 1:
                page.append(continued(i + 1, total))
    return out


def fit_lines(
    lines: Sequence[str],
    *,
    more: Callable[[int], str],
    before: Sequence[Block] = (),
    after: Sequence[Block] = (),
    max_blocks: int = MESSAGE_BLOCKS_MAX,
    budget: int = MESSAGE_JSON_BUDGET,
    one_per_section: bool = False,
    keep_last: bool = False,
) -> list[Block]:
    """One item per line, packed into as few sections as fit (or one section each),
    between ``before`` and ``after``. When they do not all fit in one message (or view:
    ``max_blocks``), the list is cut at an item boundary and ends with ``more(n)``, the line
    saying how many (``n``) are not shown and how to see them. ``keep_last``: the last items
    are kept instead (the newest of a list in time order), and the line comes first."""
    items = [cut(line, SECTION_MAX) for line in lines]

    def build(shown: int) -> list[Block]:
        hidden = len(items) - shown
        chosen = items[hidden:] if keep_last else items[:shown]
        if hidden:
            line = cut(more(hidden), SECTION_MAX)
            chosen = [line, *chosen] if keep_last else [*chosen, line]
        packed = [section(c) for c in chosen] if one_per_section else _pack(chosen)
        return [*before, *packed, *after]

    shown = len(items)
    blocks = build(shown)
    while shown > 0 and (len(blocks) > max_blocks or size(blocks) > budget):
        shown -= 1
        blocks = build(shown)
    return blocks


def _pack(lines: Sequence[str]) -> list[Block]:
    """Lines in as few sections as SECTION_MAX allows (each line already fits one)."""
    blocks: list[Block] = []
    current = ""
    for line in lines:
        if current and len(current) + 1 + len(line) > SECTION_MAX:
            blocks.append(section(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    return blocks


def fallback(text: str) -> str:
    """A top-level ``text`` (the notification and screen-reader fallback) within Slack's
    40,000 characters."""
    return cut(text, TEXT_MAX)
