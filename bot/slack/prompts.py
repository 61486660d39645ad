"""What the sender sees before and after an SMS goes out: the acknowledgement with its segment
count, and the Send / Cancel prompt for long messages. Block Kit with a ``text`` fallback;
every piece of typed or external text is escaped."""

from __future__ import annotations

from typing import Any

from bot.bridge.policy import Refusal
from bot.bridge.segments import Preview
from bot.bridge.service import Queued
from bot.phone import format_international
from bot.slack.mrkdwn import escape
from bot.slack.render import Rendered

CONFIRM_SEND = "sms_confirm_send"
CONFIRM_CANCEL = "sms_confirm_cancel"

# How much of a held message the prompt shows (a section holds 3000 characters).
_QUOTE_LIMIT = 1500


def cost(preview: Preview, recipients: int = 1) -> str:
    """``1 SMS segment (GSM-7)``, plus what forced UCS-2 and what to type instead."""
    line = preview.summary(recipients)
    if preview.hint:
        line += f": {escape(preview.hint)}"
    return line


def accepted(queued: list[Queued], preview: Preview) -> str:
    """The acknowledgement of a send that was recorded."""
    if not queued:
        return ":information_source: That SMS was already sent; nothing more was sent."
    to = ", ".join(escape(format_international(q.peer)) for q in queued)
    ours = escape(format_international(queued[0].our_number))
    return (
        f":outbox_tray: Sending to {to} from {ours}: {cost(preview, len(queued))}. "
        "Follow it in the number's thread."
    )


def refused(refusal: Refusal) -> str:
    return f":no_entry: {escape(refusal.message)}"


def confirm(
    *, pending_id: int, recipients: list[str], our_number: str, text: str, preview: Preview
) -> Rendered:
    """Ask before sending a long message: what it costs, what it says, Send / Cancel."""
    to = ", ".join(escape(format_international(r)) for r in recipients)
    ours = escape(format_international(our_number))
    total = preview.segments * len(recipients)
    head = (
        f":warning: This SMS to {to} from {ours} is {cost(preview, len(recipients))}"
        + (f", {total} in all" if len(recipients) > 1 else "")
        + ". Send it?"
    )
    quoted = escape(text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…")
    quoted = "\n".join(f"> {line}" for line in quoted.split("\n"))
    value = str(pending_id)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "text": {"type": "mrkdwn", "text": quoted}},
        {
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
        },
    ]
    return Rendered(text=head, blocks=blocks)


ALREADY = {
    "sent": ":information_source: That SMS was already sent; nothing more was sent.",
    "cancelled": ":information_source: That SMS was cancelled; nothing was sent.",
    "refused": ":information_source: That SMS was refused; nothing was sent.",
    "expired": ":hourglass: That SMS waited more than an hour for your Send; nothing was "
    "sent. Send it again with /sms if it is still meant.",
    "unknown": ":warning: That SMS is not waiting for your confirmation; nothing was sent.",
}
CANCELLED = ":wastebasket: Cancelled. Nothing was sent."
