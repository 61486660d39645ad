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
from bot.slack import fit
from bot.slack import messages as say
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
    """One Slack message: its ``text`` fallback and its blocks. ``more``: the further posts
    of a text too long for one message, posted after it in the same thread, in order."""

    text: str
    blocks: Blocks
    more: tuple[Rendered, ...] = ()


_section = fit.section
_context = fit.context


def _continued(page: int, total: int) -> dict[str, Any]:
    return _context(say.continued(page, total))


def _long(lead: str, body: str, *, fallback: str, tail: Blocks | None = None) -> Rendered:
    """``lead`` (who, bold) then ``body`` (escaped text, whole), split over sections and,
    when one message cannot hold them, over further posts; ``tail`` (the status line and
    its buttons) stays on the first."""
    parts = fit.pages(fit.sections(body, lead=lead), tail=tail or [], continued=_continued)
    rendered = []
    for i, page in enumerate(parts):
        shown = _page_text(page)
        if i == 0:
            shown = shown.removeprefix(lead).removeprefix("\n")
            text = f"{fallback}: {shown}"
        else:
            text = say.part_text(fallback, i + 1, len(parts), shown)
        rendered.append(Rendered(text=fit.fallback(text), blocks=page))
    return Rendered(text=rendered[0].text, blocks=rendered[0].blocks, more=tuple(rendered[1:]))


def _page_text(page: Blocks) -> str:
    """The sections' text of one post, joined as it was split."""
    return "".join(b["text"]["text"] for b in page if b.get("type") == "section" and "text" in b)


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
    blocks = [_section(say.thread_title(who)), _context(say.thread_from(ours))]
    if previous_link:
        blocks.append(_context(say.previous_thread(previous_link)))
    if opted_out:
        blocks.append(_context(say.thread_opted_out()))
    text = say.thread_text(who, ours, continues=bool(previous_link), opted_out=opted_out)
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
    line = fit.cut(status_line(view.status, view.note), fit.SECTION_MAX)
    tail = [_context(line)]
    if view.message_id and st.phase(view.status) is st.Phase.FAILED:
        tail.append(retry_button(view.message_id))
    return _long(
        f"<@{view.author}> → *{to}*",
        escape(view.text),
        fallback=say.sms_from_to(f"<@{view.author}>", to),
        tail=tail,
    )


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
    return _long(f":incoming_envelope: *{who}*", escape(text), fallback=say.sms_from(who))


def notice(
    *,
    text: str,
    link: str | None,
    alert: bool,
    mention: str | None = None,
    retry: int | None = None,
) -> Rendered:
    """A bridge notice or alert. ``text`` is plain text; it is escaped and, when long, cut
    at a word (notices quote an excerpt and link to the thread, never a whole SMS)."""
    icon = ":rotating_light:" if alert else ":warning:"
    by = f" (by <@{mention}>)" if mention else ""
    view = f"\n{say.view_thread(link)}" if link else ""
    room = fit.SECTION_MAX - len(icon) - 1 - len(by) - len(view)
    line = f"{icon} {fit.cut(escape(text), room)}{by}"
    blocks = [_section(line + view)]
    if retry:
        blocks.append(retry_button(retry))
    return Rendered(text=line, blocks=blocks)


def answer(text: str) -> dict[str, Any]:
    """An answer to a person (``ack``, ``respond``) as Block Kit with its ``text`` fallback:
    ``text`` is mrkdwn that is already safe (escaped), split into sections (at line breaks
    where it can). What one message cannot hold is cut, and the answer says so."""
    if not text.strip():
        return {"text": text}
    body = fit.sections(text)
    first = fit.pages(body)[0]
    if len(first) < len(body):
        first = fit.pages(body, tail=[_context(say.cut_answer())])[0]
    return {"text": fit.fallback(text), "blocks": first}


def note(text: str) -> Rendered:
    """A message only one person sees (an ephemeral note): ``text`` is plain text."""
    body = escape(text)
    return Rendered(text=fit.fallback(body), blocks=answer(body)["blocks"] if body.strip() else [])


# How much of each failure a roll-up quotes; the thread has the rest.
ROLLUP_EXCERPT = 300


def rollup(*, source: str, items: list[AlertItem]) -> Rendered:
    """An alert listing the failures of channel ``source`` within the roll-up window; a
    single failure looks like any other alert. A list too long for one message is cut at a
    failure, and says how many more there are and where they are."""
    if len(items) == 1:
        return notice(text=items[0].text, link=items[0].link, alert=True)
    head = say.rollup_head(len(items), source)
    lines = []
    for item in items:
        line = f"• {fit.excerpt(item.text, ROLLUP_EXCERPT)}"
        if item.link:
            line += f" {say.view_thread(item.link)}"
        lines.append(line)

    def more(n: int) -> str:
        return say.rollup_more(n, source)

    blocks = fit.fit_lines(lines, more=more, before=[_section(head)])
    text = head + " " + "; ".join(fit.excerpt(i.text, ROLLUP_EXCERPT) for i in items[:10])
    return Rendered(text=fit.cut(text, fit.SECTION_MAX), blocks=blocks)
