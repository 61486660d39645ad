"""How history, contacts, names, status and the App Home look: Block Kit with a ``text``
fallback. Every external text (SMS bodies, contact names, job errors) is escaped."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.bridge.directory import Contact, Health, History, HistoryItem, RecentConversation, Renamed
from bot.bridge.status import describe_failure
from bot.phone import format_international
from bot.slack import fit
from bot.slack.mrkdwn import escape
from bot.slack.render import Rendered, human_number, status_line

Block = dict[str, Any]
# How much of each SMS a list quotes (characters as sent, escapes included); the thread
# has the whole text. History shares one message among up to 25 items.
TEXT_CLIP = 500
HOME_TEXT_CLIP = 150

section = fit.section
context = fit.context


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": fit.cut_plain(text, 150)}}


def when(at: float) -> str:
    """A time shown in each reader's own time zone (UTC where Slack cannot)."""
    fallback = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at)}^{{date_short_pretty}} {{time}}|{fallback}>"


def who(peer: str, name: str | None) -> str:
    """``*Anna de Vries* · +31 6 12345678 (Netherlands)``, or the number in bold."""
    number = escape(human_number(peer))
    return f"*{escape(name)}* · {number}" if name else f"*{number}*"


# -- /sms history ----------------------------------------------------------------------------


def _history_item(item: HistoryItem, *, peer_label: str, clip: int = TEXT_CLIP) -> str:
    body = fit.excerpt(item.text, clip) or "_(empty)_"
    if item.direction == "inbound":
        return f":incoming_envelope: *{peer_label}* · {when(item.at)}\n{body}"
    sender = f"<@{item.author}>" if item.author else escape(format_international(item.our_number))
    line = f":outbox_tray: *{sender}* → {peer_label} · {when(item.at)}"
    note = item.note if item.failed or item.cancelled else ""
    if item.failed and not note:
        note = describe_failure(item.status)
    return f"{line} · {status_line(item.status, note)}\n{body}"


def history(found: History, *, thread_link: str | None) -> Rendered:
    title = who(found.peer, found.name)
    label = escape(found.name) if found.name else escape(format_international(found.peer))
    blocks: list[Block] = [section(f":scroll: History with {title}")]
    if not found.items:
        text = f"No messages with {label} in this channel yet."
        if found.problem:
            text += f" VoIPbin's records could not be read: {escape(found.problem)}"
        else:
            text += " Neither the bridge nor VoIPbin's records have any."
        blocks.append(section(text))
        return Rendered(text=text, blocks=blocks)
    count = len(found.items)
    source = (
        "from the bridge's records"
        if found.source == "store"
        else "from VoIPbin's records (the bridge has none of its own for this number)"
    )
    line = f"The last {count} message{'s' if count != 1 else ''}, oldest first, {source}"
    if thread_link:
        line += f" · <{thread_link}|Open the thread>"
    blocks.append(context(line))
    # Up to 25 items share one message (~11,000 characters of blocks): each quotes an
    # excerpt sized to its share, less what its line of who, when and status takes (up to
    # ~250 with a long name); the thread has the whole texts. 25 items: 150 characters each.
    clip = max(80, min(TEXT_CLIP, (fit.MESSAGE_JSON_BUDGET - 1000) // count - 250))
    lines = [_history_item(i, peer_label=label, clip=clip) for i in found.items]

    def more(n: int) -> str:
        where = f"<{thread_link}|the thread>" if thread_link else "the number's thread"
        return f"_{n} older message{'s' if n != 1 else ''} not shown: see {where}._"

    # One section per message, as before; when they cannot all be shown, the newest are.
    listed = fit.fit_lines(lines, more=more, before=blocks, one_per_section=True, keep_last=True)
    return Rendered(text=f"History with {label}: the last {count} messages", blocks=listed)


# -- /sms contacts ---------------------------------------------------------------------------


def contacts(found: list[Contact], *, links: Mapping[tuple[str, str], str]) -> Rendered:
    if not found:
        text = (
            "This channel has not texted anyone yet. Start with `/sms +31612345678 Hello`; "
            "name a number with `/sms name +31612345678 Anna de Vries`."
        )
        return Rendered(text=text, blocks=[section(text)])
    several_numbers = len({c.our_number for c in found}) > 1
    lines: list[str] = []
    for c in found:
        line = f"• {who(c.peer, c.name)}"
        if several_numbers:
            line += f" (with {escape(format_international(c.our_number))})"
        line += f" · last message {when(c.last_activity_at)}"
        link = links.get((c.thread.channel, c.thread.thread_ts)) if c.thread else None
        line += f" · <{link}|thread>" if link else " · no thread yet"
        if c.opted_out:
            line += " · :no_entry: opted out"
        lines.append(line)
    count = len(found)
    title = f":busts_in_silhouette: *{count} number{'s' if count != 1 else ''} this channel texts*"

    def more(n: int) -> str:
        return (
            f"• … and {n} more, less recently texted: `/sms history +31612345678` shows "
            "one of them, and its thread."
        )

    return Rendered(
        text=f"{count} numbers this channel texts",
        blocks=fit.fit_lines(lines, more=more, before=[section(title)]),
    )


# -- /sms name -------------------------------------------------------------------------------


def renamed(result: Renamed) -> Rendered:
    number = escape(format_international(result.peer))
    if result.after is None:
        if result.before is None:
            text = f"{number} has no name; nothing changed."
        else:
            text = f"{number} no longer has a name (it was *{escape(result.before)}*)."
    elif not result.changed:
        text = f"{number} is already called *{escape(result.after)}*."
    else:
        text = f":label: {number} is now called *{escape(result.after)}*"
        if result.before is not None:
            text += f" (it was *{escape(result.before)}*)"
        text += (
            ". New threads, SMS sent and received, alerts, history, contacts and the App Home "
            "show the name."
        )
    return Rendered(text=text, blocks=[section(text)])


# -- /sms status -----------------------------------------------------------------------------


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def status(health: Health) -> Rendered:
    q = health.queue
    oldest = None if q.oldest_created_at is None else health.now - q.oldest_created_at
    if q.dead or (oldest is not None and oldest > 600):
        verdict = ":red_circle: *Needs attention*"
    elif q.retrying or (oldest is not None and oldest > 60):
        verdict = ":large_yellow_circle: *Catching up*"
    else:
        verdict = ":large_green_circle: *Healthy*"
    fields = [
        f"*Queue*\n{q.waiting} waiting · {q.retrying} retrying · {q.running} running",
        "*Oldest waiting job*\n" + ("none" if oldest is None else f"{_ago(oldest)} old"),
        f"*Dead jobs*\n{q.dead}" + (" (`sms-bridge jobs dead` lists them)" if q.dead else ""),
        f"*Opted-out numbers*\n{health.opted_out}",
        f"*Timers*\n{q.scheduled} scheduled (delivery checks)",
    ]
    blocks: list[Block] = [
        section(f":satellite_antenna: Bridge status: {verdict}"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if health.problems:
        lines = ["*Latest errors*"]
        for p in health.problems:
            state = "dead" if p.state == "dead" else f"retrying, attempt {p.attempts}"
            error = fit.excerpt(p.last_error, 200)
            lines.append(f"• `{p.kind}` #{p.id} ({state}, {when(p.updated_at)}): {error}")
        blocks = fit.fit_lines(
            lines, more=lambda n: f"• … and {n} more: `sms-bridge jobs dead`", before=blocks
        )
    else:
        blocks.append(context("No recent errors."))
    text = (
        f"Bridge status: {q.waiting} waiting, {q.retrying} retrying, {q.dead} dead jobs, "
        f"{health.opted_out} opted-out numbers"
    )
    return Rendered(text=text, blocks=blocks)


# -- App Home --------------------------------------------------------------------------------


def home(
    recent: list[RecentConversation],
    *,
    links: Mapping[tuple[str, str], str],
    now: float,
    more: bool = False,
) -> dict[str, Any]:
    """The App Home tab: recent conversations, unanswered and failed ones marked. ``more``:
    the channels have older conversations than those listed."""
    unanswered = sum(1 for r in recent if r.unanswered)
    failed = sum(1 for r in recent if r.failed)
    blocks: list[Block] = [
        header("SMS conversations"),
        context(f"The latest conversations in your channels · updated {when(now)}"),
    ]
    if not recent:
        blocks.append(
            section(
                "No SMS conversations yet in the channels you are in. Type "
                "`/sms +31612345678 Hello` in a channel that has a number."
            )
        )
        return {"type": "home", "blocks": blocks}
    summary = []
    if unanswered:
        summary.append(f":large_orange_circle: {unanswered} unanswered")
    if failed:
        summary.append(f":x: {failed} with a failed SMS")
    blocks.append(section(" · ".join(summary) if summary else ":white_check_mark: All answered"))
    blocks.append({"type": "divider"})
    listed: list[Block] = []
    for r in recent:
        marks = []
        if r.unanswered:
            marks.append(":large_orange_circle: *Unanswered*")
        if r.failed:
            marks.append(":x: *SMS failed*")
        lines = [f"{who(r.peer, r.name)} in <#{r.channel}>" + "".join(f" · {m}" for m in marks)]
        if r.last is not None:
            arrow = ":incoming_envelope:" if r.last.direction == "inbound" else ":outbox_tray:"
            body = fit.excerpt(" ".join(r.last.text.split()), HOME_TEXT_CLIP)
            if r.last.cancelled:
                arrow, body = ":wastebasket:", f"{body} · _cancelled, not sent_"
            lines.append(f"{arrow} {when(r.last.at)}: {body}")
        link = links.get((r.thread.channel, r.thread.thread_ts)) if r.thread else None
        lines.append(f"<{link}|Open the thread>" if link else "_The thread is being opened_")
        listed.append(section(fit.cut("\n".join(lines), fit.SECTION_MAX)))
    note = context(
        f"The {len(recent)} most recent are shown; `/sms contacts` in a channel lists all of "
        "its numbers."
    )
    room = fit.VIEW_BLOCKS_MAX - len(blocks) - 1
    if len(listed) > room:
        shown = listed[:room]
        note = context(
            f"… and {len(listed) - room} more not shown; `/sms contacts` in a channel lists "
            "all of its numbers."
        )
        listed = shown
    blocks.extend(listed)
    if more or len(listed) < len(recent):
        blocks.append(note)
    return {"type": "home", "blocks": blocks}
