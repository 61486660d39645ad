"""Retry of a failed SMS (the Retry button): the same text sent again as a new SMS, through
the normal job path and sending policy, shown on the failed one's Slack message.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import policy
from bot.bridge import status as st
from bot.bridge.checks import SendChecks, log
from bot.bridge.context import Clock
from bot.bridge.outbox import enqueue_send, enqueue_show
from bot.bridge.sending import Queued
from bot.phone import count_segments
from bot.store import audit, conversations, sms


class Retries:
    """Sending a failed SMS again."""

    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, wake: Callable[[], None], checks: SendChecks
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._checks = checks

    async def sent_from(self, message_id: int) -> str | None:
        """Our number an SMS went out from (None for an unknown message)."""
        async with self._engine.connect() as conn:
            try:
                message = await sms.get_message(conn, message_id)
            except NoResultFound:
                return None
            return (await conversations.get_conversation(conn, message.conversation_id)).our_number

    async def accept_retry(
        self, *, message_id: int, user: str, user_groups: set[str] | None = None
    ) -> Queued | policy.Refusal | None:
        """Send a failed SMS again (the Retry button): a new SMS through the normal job path
        and policy, audited, shown on the failed one's Slack message. None when it was
        already retried (a second click) or has not failed."""
        now = self._clock()
        async with self._engine.begin() as conn:
            failed = await sms.find_message_by_key(conn, f"retry:{message_id}")
            if failed is not None:
                return None
            try:
                message = await sms.get_message(conn, message_id)
            except NoResultFound:
                return None
            if message.direction != "outbound" or st.phase(message.status) is not st.Phase.FAILED:
                return None
            conversation = await conversations.get_conversation(conn, message.conversation_id)
            refusal = await self._checks.check_conversation(
                conn,
                conversation,
                user=user,
                user_groups=user_groups,
                text=message.text,
                now=now,
                sender="it",
            )
            if refusal is not None:
                await self._checks.refuse(
                    conn,
                    refusal,
                    user=user,
                    channel=conversation.channel,
                    our_number=conversation.our_number,
                    peers=[conversation.peer_number],
                    now=now,
                )
                return refusal
            retry_id = await sms.insert_message(
                conn,
                key=f"retry:{message.id}",
                conversation_id=conversation.id,
                direction="outbound",
                origin=message.origin,
                text=message.text,
                author=message.author,
                slack_ts=message.slack_ts,
                status="queued",
                status_rank=0,
                now=now,
            )
            if retry_id is None:
                return None
            # The same Slack message shows the new attempt. An earlier attempt whose outcome
            # was never learned may have sent it: the new one looks for it before sending.
            unknown_outcome = message.voipbin_id is None and message.send_started_at is not None
            await sms.update_message(
                conn,
                retry_id,
                now,
                shown_status=message.shown_status,
                send_started_at=message.send_started_at if unknown_outcome else None,
            )
            retry = await sms.get_message(conn, retry_id)
            await enqueue_show(conn, retry, "retry", now)
            await enqueue_send(conn, conversation, retry_id, now)
            await audit.add_audit(
                conn,
                actor=user,
                action="sent",
                now=now,
                channel=conversation.channel,
                our_number=conversation.our_number,
                peer_number=conversation.peer_number,
                segments=count_segments(message.text).segments,
                detail=f"retry of message {message.id}: {message.text}",
            )
        self._wake()
        log.info("sms retry accepted message_id=%d retry_id=%d", message.id, retry_id)
        return Queued(
            peer=conversation.peer_number,
            our_number=conversation.our_number,
            message_id=retry_id,
        )
