"""What the bridge's Slack messages look like: Block Kit with a ``text`` fallback.

Every piece of external text (SMS bodies, provider errors) goes through ``escape`` before it
reaches Slack, so an SMS can never ping ``@channel``, mention anyone or fake a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.bridge import status as st
from bot.bridge.ports import OutgoingView
from bot.phone import country_name, country_of, format_international
from bot.slack.mrkdwn import escape

Blocks = list[dict[str, Any]]

_STATUS_LABEL = {
    st.Phase.PENDING: ":hourglass_flowing_sand: Queued",
    st.Phase.SENT: ":outbox_tray: Sent",
    st.Phase.DELIVERED: ":white_check_mark: Delivered",
    st.Phase.FAILED: ":x: Failed",
    st.Phase.RECEIVED: ":incoming_envelope: Received",
}

# Reactions that show the status of a person's thread reply that went out as SMS.
REACTION = {
    st.Phase.PENDING: "hourglass_flowing_sand",
    st.Phase.SENT: "outbox_tray",
    st.Phase.DELIVERED: "white_check_mark",
    st.Phase.FAILED: "x",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    blocks: Blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def human_number(number: str) -> str:
    """A number as people write it (``+31 6 12345678``), with its country when known."""
    pretty = format_international(number)
    region = country_of(number)
    if region:
        return f"{pretty} ({country_name(region)})"
    return pretty


def status_line(status: str, note: str = "") -> str:
    label = _STATUS_LABEL[st.phase(status)]
    if note:
        label += f" · {escape(note)}"
    return label


def thread_root(*, peer: str, our_number: str, opted_out: bool = False) -> Rendered:
    who = escape(human_number(peer))
    ours = escape(format_international(our_number))
    blocks = [
        _section(f":iphone: *SMS conversation with {who}*"),
        _context(f"Texting from {ours} · reply in this thread to send an SMS"),
    ]
    text = f"SMS conversation with {who} (our number {ours})"
    if opted_out:
        warning = ":no_entry: This number has opted out (STOP): SMS to it are refused."
        blocks.append(_context(warning))
        text += " - opted out"
    return Rendered(text=text, blocks=blocks)


def outgoing(view: OutgoingView) -> Rendered:
    peer = escape(format_international(view.peer))
    body = escape(view.text)
    line = status_line(view.status, view.note)
    return Rendered(
        text=f"SMS from <@{view.author}> to {peer}: {body}",
        blocks=[
            _section(f"<@{view.author}> → *{peer}*\n{body}"),
            _context(line),
        ],
    )


def inbound(*, sender: str, text: str) -> Rendered:
    who = escape(format_international(sender))
    body = escape(text)
    return Rendered(
        text=f"SMS from {who}: {body}",
        blocks=[_section(f":incoming_envelope: *{who}*\n{body}")],
    )


def notice(*, text: str, link: str | None, alert: bool, mention: str | None = None) -> Rendered:
    icon = ":rotating_light:" if alert else ":warning:"
    line = f"{icon} {escape(text)}"
    if mention:
        line += f" (by <@{mention}>)"
    body = line
    if link:
        body += f"\n<{link}|View the thread>"
    return Rendered(text=line, blocks=[_section(body)])
