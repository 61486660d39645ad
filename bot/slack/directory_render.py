"""How history, contacts, names, status and the App Home look: Block Kit with a ``text``
fallback. Every external text (SMS bodies, contact names, job errors) is escaped."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.bridge.directory import Contact, Health, History, HistoryItem, RecentConversation, Renamed
from bot.bridge.messages import failure_words
from bot.phone import format_international
from bot.slack import fit
from bot.slack import messages as say
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
    body = fit.excerpt(item.text, clip) or say.empty_sms()
    if item.direction == "inbound":
        return f":incoming_envelope: *{peer_label}* · {when(item.at)}\n{body}"
    sender = f"<@{item.author}>" if item.author else escape(format_international(item.our_number))
    line = f":outbox_tray: *{sender}* → {peer_label} · {when(item.at)}"
    note = item.note if item.failed or item.cancelled else ""
    if item.failed and not note:
        note = failure_words(item.status)
    return f"{line} · {status_line(item.status, note)}\n{body}"


def history(found: History, *, thread_link: str | None) -> Rendered:
    title = who(found.peer, found.name)
    label = escape(found.name) if found.name else escape(format_international(found.peer))
    blocks: list[Block] = [section(say.history_title(title))]
    if not found.items:
        problem = escape(found.problem) if found.problem else None
        text = say.history_empty(label, problem=problem)
        blocks.append(section(text))
        return Rendered(text=text, blocks=blocks)
    count = len(found.items)
    from_store = found.source == "store"
    blocks.append(
        context(say.history_listed(count, from_store=from_store, thread_link=thread_link))
    )
    # Up to 25 items share one message (~11,000 characters of blocks): each quotes an
    # excerpt sized to its share, less what its line of who, when and status takes (up to
    # ~250 with a long name); the thread has the whole texts. 25 items: 150 characters each.
    clip = max(80, min(TEXT_CLIP, (fit.MESSAGE_JSON_BUDGET - 1000) // count - 250))
    lines = [_history_item(i, peer_label=label, clip=clip) for i in found.items]

    def more(n: int) -> str:
        return say.history_older(n, thread_link=thread_link)

    # One section per message, as before; when they cannot all be shown, the newest are.
    listed = fit.fit_lines(lines, more=more, before=blocks, one_per_section=True, keep_last=True)
    return Rendered(text=say.history_text(label, count), blocks=listed)


# -- /sms contacts ---------------------------------------------------------------------------


def contacts(found: list[Contact], *, links: Mapping[tuple[str, str], str]) -> Rendered:
    if not found:
        text = say.no_contacts()
        return Rendered(text=text, blocks=[section(text)])
    several_numbers = len({c.our_number for c in found}) > 1
    lines: list[str] = []
    for c in found:
        ours = escape(format_international(c.our_number)) if several_numbers else None
        link = links.get((c.thread.channel, c.thread.thread_ts)) if c.thread else None
        lines.append(
            say.contact_line(
                who(c.peer, c.name),
                with_number=ours,
                last=when(c.last_activity_at),
                link=link,
                opted_out=c.opted_out,
            )
        )
    count = len(found)
    return Rendered(
        text=say.contacts_text(count),
        blocks=fit.fit_lines(
            lines, more=say.contacts_more, before=[section(say.contacts_title(count))]
        ),
    )


# -- /sms name -------------------------------------------------------------------------------


def renamed(result: Renamed) -> Rendered:
    number = escape(format_international(result.peer))
    before = escape(result.before) if result.before is not None else None
    if result.after is None:
        text = say.name_none(number) if before is None else say.name_removed(number, before=before)
    elif not result.changed:
        text = say.name_unchanged(number, escape(result.after))
    else:
        text = say.name_set(number, escape(result.after), before=before)
    return Rendered(text=text, blocks=[section(text)])


# -- /sms status -----------------------------------------------------------------------------


def status(health: Health) -> Rendered:
    q = health.queue
    oldest = None if q.oldest_created_at is None else health.now - q.oldest_created_at
    if q.dead or (oldest is not None and oldest > 600):
        verdict = say.verdict_needs_attention()
    elif q.retrying or (oldest is not None and oldest > 60):
        verdict = say.verdict_catching_up()
    else:
        verdict = say.verdict_healthy()
    fields = say.status_fields(
        waiting=q.waiting,
        retrying=q.retrying,
        running=q.running,
        oldest=oldest,
        dead=q.dead,
        opted_out=health.opted_out,
        scheduled=q.scheduled,
    )
    blocks: list[Block] = [
        section(say.status_title(verdict)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if health.problems:
        lines = [say.latest_errors()]
        for p in health.problems:
            line = say.job_problem(
                kind=p.kind,
                job_id=p.id,
                dead=p.state == "dead",
                attempts=p.attempts,
                when=when(p.updated_at),
                error=fit.excerpt(p.last_error, 200),
            )
            lines.append(line)
        blocks = fit.fit_lines(lines, more=say.problems_more, before=blocks)
    else:
        blocks.append(context(say.no_recent_errors()))
    text = say.status_text(
        waiting=q.waiting, retrying=q.retrying, dead=q.dead, opted_out=health.opted_out
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
        header(say.home_title()),
        context(say.home_updated(when(now))),
    ]
    if not recent:
        blocks.append(section(say.home_empty()))
        return {"type": "home", "blocks": blocks}
    blocks.append(section(say.home_summary(unanswered=unanswered, failed=failed)))
    blocks.append({"type": "divider"})
    listed: list[Block] = []
    for r in recent:
        lines = [
            say.home_conversation(
                who(r.peer, r.name), r.channel, unanswered=r.unanswered, failed=r.failed
            )
        ]
        if r.last is not None:
            arrow = ":incoming_envelope:" if r.last.direction == "inbound" else ":outbox_tray:"
            body = fit.excerpt(" ".join(r.last.text.split()), HOME_TEXT_CLIP)
            if r.last.cancelled:
                arrow, body = ":wastebasket:", say.home_cancelled(body)
            lines.append(f"{arrow} {when(r.last.at)}: {body}")
        link = links.get((r.thread.channel, r.thread.thread_ts)) if r.thread else None
        lines.append(say.home_thread(link))
        listed.append(section(fit.cut("\n".join(lines), fit.SECTION_MAX)))
    note = context(say.home_most_recent(len(recent)))
    room = fit.VIEW_BLOCKS_MAX - len(blocks) - 1
    if len(listed) > room:
        shown = listed[:room]
        note = context(say.home_more(len(listed) - room))
        listed = shown
    blocks.extend(listed)
    if more or len(listed) < len(recent):
        blocks.append(note)
    return {"type": "home", "blocks": blocks}
