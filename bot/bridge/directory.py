"""What people look up: contact names, a number's history, the numbers of a channel, recent
conversations (App Home) and the bridge's health. No Slack or HTTP here; the Slack layer
renders these."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import status as st
from bot.bridge.messages import archive_too_slow
from bot.bridge.ports import DeliveryError, SmsArchive
from bot.config import AppConfig
from bot.jobs import health as job_health
from bot.phone import mask, normalize_sender
from bot.store import audit, conversations, sms
from bot.store import directory as store

log = logging.getLogger(__name__)

HISTORY_DEFAULT = 10
HISTORY_MAX = 25
# VoIPbin's GET /messages cannot filter: look through at most this many of the account's
# newest SMS for a number's history (10 pages).
ARCHIVE_SCAN = 1000


@dataclass(frozen=True, slots=True)
class ThreadRef:
    channel: str
    thread_ts: str


@dataclass(frozen=True, slots=True)
class HistoryItem:
    at: float  # epoch seconds
    direction: str  # inbound | outbound
    text: str
    status: str  # raw status
    author: str | None  # Slack user id of an outbound SMS sent through the bridge
    our_number: str
    note: str = ""  # why it failed, or why it was not sent

    @property
    def failed(self) -> bool:
        return self.direction == "outbound" and st.phase(self.status) is st.Phase.FAILED

    @property
    def cancelled(self) -> bool:
        """A reply deleted inside the undo window: it was never sent."""
        return st.phase(self.status) is st.Phase.CANCELLED


@dataclass(frozen=True, slots=True)
class History:
    """A number's last messages in a channel, oldest first. ``source``: ``store`` (the
    bridge's own), ``voipbin`` (the provider's records; the bridge has none) or ``none``."""

    peer: str
    name: str | None
    items: list[HistoryItem]
    source: str
    thread: ThreadRef | None = None
    problem: str | None = None  # why the provider's records could not be read


@dataclass(frozen=True, slots=True)
class Contact:
    peer: str
    name: str | None
    our_number: str
    thread: ThreadRef | None
    last_activity_at: float
    opted_out: bool


@dataclass(frozen=True, slots=True)
class RecentConversation:
    peer: str
    name: str | None
    our_number: str
    channel: str
    thread: ThreadRef | None
    last: HistoryItem | None  # may be a cancelled reply (shown as not sent)
    unanswered: bool  # the last message is an SMS nobody answered yet (a cancelled reply
    # answers nothing)
    failed: bool  # the newest outgoing SMS (cancelled ones aside) failed


@dataclass(frozen=True, slots=True)
class Health:
    now: float
    queue: job_health.QueueState
    problems: list[job_health.JobProblem]
    opted_out: int


@dataclass(frozen=True, slots=True)
class Renamed:
    peer: str
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _item(message: sms.Message, our_number: str) -> HistoryItem:
    return HistoryItem(
        at=message.created_at,
        direction=message.direction,
        text=message.text,
        status=message.status,
        author=message.author,
        our_number=our_number,
        note=message.error or "",
    )


def _thread(conversation: conversations.Conversation) -> ThreadRef | None:
    if conversation.thread_ts is None:
        return None
    return ThreadRef(channel=conversation.channel, thread_ts=conversation.thread_ts)


class Directory:
    """Read models over the store, and the one thing people write here: contact names."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        config: AppConfig,
        archive: SmsArchive | None = None,
        clock: Callable[[], float] = time.time,
        archive_timeout: float = 2.0,
    ) -> None:
        self._archive_timeout = archive_timeout
        self._engine = engine
        self._config = config
        self._archive = archive
        self._clock = clock

    async def names(self, peers: Iterable[str]) -> dict[str, str]:
        """The contact names of ``peers`` (unnamed ones left out)."""
        async with self._engine.connect() as conn:
            return await store.contact_names(conn, peers)

    async def name_contact(
        self, *, channel: str, user: str, peer: str, name: str | None
    ) -> Renamed:
        """Give ``peer`` a name for the whole workspace (``None`` forgets it); audited."""
        now = self._clock()
        async with self._engine.begin() as conn:
            before = await store.set_contact_name(conn, peer=peer, name=name, by=user, now=now)
            renamed = Renamed(peer=peer, before=before, after=name)
            if renamed.changed:
                await audit.add_audit(
                    conn,
                    actor=user,
                    action="name" if name is not None else "unname",
                    now=now,
                    channel=channel,
                    peer_number=peer,
                    detail=name if name is not None else f"was {before}",
                )
        if renamed.changed:
            log.info("contact named peer=%s by=%s", mask(peer), user)
        return renamed

    async def history(self, *, channel: str, peer: str, limit: int = HISTORY_DEFAULT) -> History:
        """The last ``limit`` messages with ``peer`` in ``channel``: from the store, else
        from the provider's records of the channel's numbers (read for at most
        ``archive_timeout`` seconds: a slash command must be answered within three)."""
        limit = max(1, min(limit, HISTORY_MAX))
        async with self._engine.connect() as conn:
            found = await store.conversations_in(conn, [channel], peer=peer)
            numbers = {c.id: c.our_number for c in found}
            messages = await store.latest_messages(conn, numbers, limit=limit)
            name = (await store.contact_names(conn, [peer])).get(peer)
        thread = _thread(found[0]) if found else None
        if messages:
            items = [_item(m, numbers[m.conversation_id]) for m in reversed(messages)]
            return History(peer=peer, name=name, items=items, source="store", thread=thread)
        ours = set(self._config.numbers_for(channel))
        if self._archive is None or not ours:
            return History(peer=peer, name=name, items=[], source="none", thread=thread)
        try:
            archived = await asyncio.wait_for(
                self._archive.recent_messages(scan=ARCHIVE_SCAN), self._archive_timeout
            )
        except (DeliveryError, TimeoutError) as exc:
            problem = exc.message if isinstance(exc, DeliveryError) else archive_too_slow()
            log.warning("history lookup in VoIPbin failed peer=%s: %s", mask(peer), problem)
            return History(
                peer=peer, name=name, items=[], source="none", thread=thread, problem=problem
            )
        region = self._config.region
        items = [
            HistoryItem(
                at=sms.at,
                direction=sms.direction,
                text=sms.text,
                status=sms.status,
                author=None,
                our_number=sms.our_number,
            )
            for sms in archived
            if sms.our_number in ours and normalize_sender(sms.peer, region) == peer
        ][:limit]
        source = "voipbin" if items else "none"
        return History(
            peer=peer, name=name, items=items[::-1], source=source, thread=thread, problem=None
        )

    async def contacts(self, *, channel: str, limit: int = 50) -> list[Contact]:
        """The numbers this channel has talked with, most recently active first."""
        async with self._engine.connect() as conn:
            found = await store.conversations_in(conn, [channel], limit=limit)
            names = await store.contact_names(conn, [c.peer_number for c in found])
            opted_out = await store.opted_out_pairs(conn, {c.our_number for c in found})
        return [
            Contact(
                peer=c.peer_number,
                name=names.get(c.peer_number),
                our_number=c.our_number,
                thread=_thread(c),
                last_activity_at=c.last_activity_at,
                opted_out=(c.our_number, c.peer_number) in opted_out,
            )
            for c in found
        ]

    async def recent(self, *, channels: Iterable[str], limit: int = 15) -> list[RecentConversation]:
        """The most recently active conversations of ``channels``, with their last message."""
        async with self._engine.connect() as conn:
            found = await store.conversations_in(conn, channels, limit=limit)
            ids = [c.id for c in found]
            last = await store.last_message_each(conn, ids)
            # A reply deleted inside the undo window was never sent: it neither answers an
            # SMS nor hides an earlier failure.
            cancelled = st.Phase.CANCELLED.value
            last_sent = await store.last_message_each(conn, ids, skip_status=cancelled)
            last_out = await store.last_message_each(
                conn, ids, direction="outbound", skip_status=cancelled
            )
            names = await store.contact_names(conn, [c.peer_number for c in found])
        recent: list[RecentConversation] = []
        for c in found:
            message = last.get(c.id)
            live = last_sent.get(c.id)
            outbound = last_out.get(c.id)
            recent.append(
                RecentConversation(
                    peer=c.peer_number,
                    name=names.get(c.peer_number),
                    our_number=c.our_number,
                    channel=c.channel,
                    thread=_thread(c),
                    last=_item(message, c.our_number) if message else None,
                    unanswered=live is not None and live.direction == "inbound",
                    failed=outbound is not None and st.phase(outbound.status) is st.Phase.FAILED,
                )
            )
        return recent

    async def health(self) -> Health:
        """The job queue, its latest errors and the opt-out count."""
        now = self._clock()
        async with self._engine.connect() as conn:
            queue = await job_health.queue_state(conn, now)
            problems = await job_health.job_problems(conn, limit=5)
            opted_out = await store.opted_out_count(conn)
        return Health(now=now, queue=queue, problems=problems, opted_out=opted_out)
