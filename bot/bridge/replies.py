"""Thread replies: a person's reply in one of the bridge's threads becomes an SMS to the
thread's number (after the undo window, ``edits``), or is refused with the reason told to
them alone."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.checks import SendChecks
from bot.bridge.context import Clock
from bot.bridge.edits import ReplyEdits
from bot.bridge.jobs import Tell, enqueue
from bot.phone import count_segments
from bot.store import audit, conversations, seen_events, sms

log = logging.getLogger("bot.bridge.service")


class Replies:
    """The intake of thread replies."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        wake: Callable[[], None],
        checks: SendChecks,
        edits: ReplyEdits,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._checks = checks
        self._edits = edits

    async def accept_reply(
        self,
        *,
        team: str,
        channel: str,
        thread_ts: str,
        ts: str,
        user: str,
        text: str,
        event_key: str | None = None,
        user_groups: set[str] | None = None,
    ) -> str:
        """A person replied in a thread: ``"queued"`` when it is one of ours and an SMS was
        queued, ``"refused"`` when the policy stopped it (the person is told why), and
        ``"ignored"`` for other threads and for a redelivery of a reply already taken.
        ``event_key`` (the Slack event id) is recorded with the work, so a redelivery of the
        event can be recognised before doing anything."""
        now = self._clock()
        async with self._engine.begin() as conn:
            if event_key is not None:
                await seen_events.first_seen(conn, event_key, now)
            conversation = await conversations.find_conversation_by_any_thread(
                conn, channel=channel, thread_ts=thread_ts
            )
            if conversation is None:
                return "ignored"
            key = f"reply:{team}:{channel}:{ts}"
            refusal = await self._checks.check_conversation(
                conn,
                conversation,
                user=user,
                user_groups=user_groups,
                text=text,
                now=now,
                sender="this thread",
            )
            if refusal is not None:
                if not await seen_events.first_seen(conn, f"refused:{key}", now):
                    return "ignored"
                await self._checks.refuse(
                    conn,
                    refusal,
                    user=user,
                    channel=channel,
                    our_number=conversation.our_number,
                    peers=[conversation.peer_number],
                    now=now,
                )
                tell = Tell.of(
                    key=key, channel=channel, user=user, thread_ts=thread_ts, text=refusal.message
                )
                await enqueue(conn, tell, now=now)
                self._wake()
                return "refused"
            message_id = await sms.insert_message(
                conn,
                key=key,
                conversation_id=conversation.id,
                direction="outbound",
                origin="reply",
                text=text,
                author=user,
                slack_ts=ts,
                status="queued",
                status_rank=0,
                now=now,
            )
            if message_id is None:
                return "ignored"
            await self._edits.enqueue_reply_send(conn, conversation, message_id, now)
            await audit.add_audit(
                conn,
                actor=user,
                action="sent",
                now=now,
                channel=channel,
                our_number=conversation.our_number,
                peer_number=conversation.peer_number,
                segments=count_segments(text).segments,
                detail=text,
            )
        self._wake()
        log.info(
            "sms accepted origin=reply conversation_id=%d message_id=%d",
            conversation.id,
            message_id,
        )
        return "queued"

    async def owns_thread(self, *, channel: str, thread_ts: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conversations.find_conversation_by_any_thread(
                conn, channel=channel, thread_ts=thread_ts
            )
            return found is not None

    async def seen(self, key: str) -> bool:
        """Whether a delivery key (a Slack event id) was already taken in."""
        async with self._engine.connect() as conn:
            return await seen_events.was_seen(conn, key)
