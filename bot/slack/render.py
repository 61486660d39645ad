"""What the bridge's Slack messages look like: Block Kit with a ``text`` fallback.

Every piece of external text (SMS bodies, provider errors) goes through ``escape`` before it
reaches Slack, so an SMS can never ping ``@channel``, mention anyone or fake a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.bridge import status as st
from bot.bridge.ports import AlertItem, OutgoingView
from bot.phone import country_name, country_of, format_international
from bot.slack.mrkdwn import escape

Blocks = list[dict[str, Any]]

_STATUS_LABEL = {
    st.Phase.PENDING: ":hourglass_flowing_sand: Queued",
    # VoIPbin handed it to a carrier that reports nothing back (reference §3.2).
    st.Phase.DISPATCHED: ":outbox_tray: Sent to the carrier · no delivery receipt",
    st.Phase.SENT: ":outbox_tray: Sent",
    st.Phase.DELIVERED: ":white_check_mark: Delivered",
    st.Phase.FAILED: ":x: Failed",
    st.Phase.RECEIVED: ":incoming_envelope: Received",
    st.Phase.CANCELLED: ":wastebasket: Cancelled (not sent)",
}

# Reactions that show the status of a person's thread reply that went out as SMS.
REACTION = {
    st.Phase.PENDING: "hourglass_flowing_sand",
    st.Phase.DISPATCHED: "outbox_tray",
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


def thread_root(
    *,
    peer: str,
    our_number: str,
    opted_out: bool = False,
    name: str | None = None,
    previous_link: str | None = None,
) -> Rendered:
    """The first message of a number's thread: who (contact name, number, country), from
    which of our numbers, and a link to the number's previous thread when it had one."""
    number = escape(human_number(peer))
    who = f"{escape(name)} · {number}" if name else number
    ours = escape(format_international(our_number))
    blocks = [
        _section(f":iphone: *SMS conversation with {who}*"),
        _context(f"Texting from {ours} · reply in this thread to send an SMS"),
    ]
    text = f"SMS conversation with {who} (our number {ours})"
    if previous_link:
        blocks.append(
            _context(
                f":leftwards_arrow_with_hook: <{previous_link}|Previous thread with this number>"
            )
        )
        text += " - continues an earlier thread"
    if opted_out:
        warning = ":no_entry: This number has opted out (STOP): SMS to it are refused."
        blocks.append(_context(warning))
        text += " - opted out"
    return Rendered(text=text, blocks=blocks)


def contact(peer: str, name: str | None) -> str:
    """Who is at the other end, as every SMS post shows it: ``Anna de Vries (+31 6 12345678)``
    for a named contact, else the number; escaped."""
    number = escape(format_international(peer))
    return f"{escape(name)} ({number})" if name else number


def outgoing(view: OutgoingView) -> Rendered:
    """An SMS typed with /sms: who sent it, to whom (the contact's name and number, as on
    received SMS), the text, and its status line (updated in place)."""
    to = contact(view.peer, view.name)
    body = escape(view.text)
    line = status_line(view.status, view.note)
    blocks = [
        _section(f"<@{view.author}> → *{to}*\n{body}"),
        _context(line),
    ]
    if view.message_id and st.phase(view.status) is st.Phase.FAILED:
        blocks.append(retry_button(view.message_id))
    return Rendered(text=f"SMS from <@{view.author}> to {to}: {body}", blocks=blocks)


RETRY_ACTION = "sms_retry"


def retry_button(message_id: int) -> dict[str, Any]:
    """Send a failed SMS again (through the policy and the job queue, audited)."""
    return {
        "type": "actions",
        "block_id": f"retry:{message_id}",
        "elements": [
            {
                "type": "button",
                "action_id": RETRY_ACTION,
                "text": {"type": "plain_text", "text": "Retry", "emoji": True},
                "value": str(message_id),
            }
        ],
    }


def inbound(*, sender: str, text: str, name: str | None = None) -> Rendered:
    """A received SMS: the sender (contact name and number, or the number) and the text."""
    who = contact(sender, name)
    body = escape(text)
    return Rendered(
        text=f"SMS from {who}: {body}",
        blocks=[_section(f":incoming_envelope: *{who}*\n{body}")],
    )


def notice(
    *,
    text: str,
    link: str | None,
    alert: bool,
    mention: str | None = None,
    retry: int | None = None,
) -> Rendered:
    icon = ":rotating_light:" if alert else ":warning:"
    line = f"{icon} {escape(text)}"
    if mention:
        line += f" (by <@{mention}>)"
    body = line
    if link:
        body += f"\n<{link}|View the thread>"
    blocks = [_section(body)]
    if retry:
        blocks.append(retry_button(retry))
    return Rendered(text=line, blocks=blocks)


SECTION_MAX = 3000  # Slack's limit on a section's text


def answer(text: str) -> dict[str, Any]:
    """An answer to a person (``ack``, ``respond``) as Block Kit with its ``text`` fallback:
    ``text`` is mrkdwn that is already safe (escaped), cut into sections at line breaks."""
    blocks: Blocks = []
    current = ""
    for line in text.split("\n"):
        line = line if len(line) <= SECTION_MAX else line[: SECTION_MAX - 1] + "…"
        if current and len(current) + 1 + len(line) > SECTION_MAX:
            blocks.append(_section(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current.strip():
        blocks.append(_section(current))
    return {"text": text, "blocks": blocks} if blocks else {"text": text}


def note(text: str) -> Rendered:
    """A message only one person sees (an ephemeral note): ``text`` is plain text."""
    body = escape(text)
    return Rendered(text=body, blocks=[_section(body[:3000])])


def rollup(*, source: str, items: list[AlertItem]) -> Rendered:
    """An alert listing the failures of channel ``source`` within the roll-up window; a
    single failure looks like any other alert."""
    if len(items) == 1:
        return notice(text=items[0].text, link=items[0].link, alert=True)
    head = f":rotating_light: {len(items)} SMS failures in <#{source}> within a minute:"
    lines = []
    for item in items[:40]:
        line = f"• {escape(item.text)}"
        if item.link:
            line += f" <{item.link}|View the thread>"
        lines.append(line)
    if len(items) > 40:
        lines.append(f"• … and {len(items) - 40} more")
    body = "\n".join(lines)
    # A section holds at most 3000 characters.
    blocks = [_section(head), _section(body[:2900])]
    text = head + " " + "; ".join(escape(i.text) for i in items[:10])
    return Rendered(text=text[:3000], blocks=blocks)
