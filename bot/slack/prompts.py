"""What the sender sees before and after an SMS goes out: the acknowledgement with its segment
count, and the Send / Cancel prompt for long messages. Block Kit with a ``text`` fallback;
every piece of typed or external text is escaped."""

from __future__ import annotations

from typing import Any

from bot.bridge.policy import Refusal
from bot.bridge.segments import Preview
from bot.bridge.service import Queued
from bot.phone import format_international
from bot.slack import fit, messages
from bot.slack.mrkdwn import escape
from bot.slack.render import Rendered

CONFIRM_SEND = "sms_confirm_send"
CONFIRM_CANCEL = "sms_confirm_cancel"


def cost(preview: Preview, recipients: int = 1) -> str:
    """``1 SMS segment (GSM-7)``, plus what forced UCS-2 and what to type instead."""
    line = preview.summary(recipients)
    if preview.hint:
        line += f": {escape(preview.hint)}"
    return line


def accepted(queued: list[Queued], preview: Preview) -> str:
    """The acknowledgement of a send that was recorded."""
    if not queued:
        return messages.already_sent()
    to = ", ".join(escape(format_international(q.peer)) for q in queued)
    ours = escape(format_international(queued[0].our_number))
    return messages.sending(to, ours, cost(preview, len(queued)))


def refused(refusal: Refusal) -> str:
    return messages.refused(escape(refusal.message))


def confirm(
    *, pending_id: int, recipients: list[str], our_number: str, text: str, preview: Preview
) -> Rendered:
    """Ask before sending a long message: what it costs, what it says, Send / Cancel."""
    to = ", ".join(escape(format_international(r)) for r in recipients)
    ours = escape(format_international(our_number))
    total = preview.segments * len(recipients)
    head = messages.confirm_head(
        to, ours, cost(preview, len(recipients)), total if len(recipients) > 1 else None
    )
    value = str(pending_id)
    actions: dict[str, Any] = {
        "type": "actions",
        "block_id": f"confirm:{pending_id}",
        "elements": [
            {
                "type": "button",
                "action_id": CONFIRM_SEND,
                "text": {"type": "plain_text", "text": "Send"},
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": CONFIRM_CANCEL,
                "text": {"type": "plain_text", "text": "Cancel"},
                "value": value,
            },
        ],
    }
    quote = quote_sections(text)
    blocks = fit.pages([fit.section(head), *quote], tail=[actions])[0]
    shown = len(blocks) - 2
    if shown < len(quote):
        # One message cannot hold the whole quote: the prompt says so; Send sends it all.
        rest = sum(len(b["text"]["text"]) for b in quote[shown:])
        note = fit.context(messages.quote_cut(rest))
        blocks = fit.pages([fit.section(head), *quote], tail=[note, actions])[0]
    return Rendered(text=head, blocks=blocks)


def quote_sections(text: str) -> list[dict[str, Any]]:
    """``text`` (plain) as a Slack quote, whole: escaped, ``> `` before each line, in as
    many sections as it needs."""
    out: list[dict[str, Any]] = []
    pending = fit.split(escape(text))
    while pending:
        piece = pending.pop(0)
        lines = piece.removesuffix("\n").split("\n")
        quoted = "\n".join(f"> {line}" for line in lines)
        if len(quoted) > fit.SECTION_MAX and len(piece) > 1:
            # The "> " of many short lines made it too long: halve the piece and try again.
            pending[:0] = fit.split(piece, max(1, len(piece) // 2))
            continue
        out.append(fit.section(quoted))
    return out
