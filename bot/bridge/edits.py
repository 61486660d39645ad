"""Edits and deletes of thread replies, and the undo window (``policy.send_delay_seconds``):
a reply's send waits out the window, a reply deleted inside it is not sent, and the author of
a reply changed after that is told that an SMS cannot be changed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import messages
from bot.bridge import status as st
from bot.bridge.context import Clock
from bot.bridge.jobs import ReleaseReply, Tell, enqueue
from bot.bridge.outbox import enqueue_send, thread_notice
from bot.config import PolicyConfig
from bot.jobs import queue
from bot.phone import count_segments, format_international
from bot.store import audit, conversations, seen_events, sms


class ReplyEdits:
    """The undo window of thread replies, and their edits and deletes."""

    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, wake: Callable[[], None], config: PolicyConfig
    ) -> None:
        """``config``: the undo window (``policy.send_delay_seconds``)."""
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._config = config

    async def enqueue_reply_send(
        self,
        conn: AsyncConnection,
        conversation: conversations.Conversation,
        message_id: int,
        now: float,
    ) -> None:
        """A thread reply's send, after the undo window (``policy.send_delay_seconds``)
        when there is one. The wait is a job of its own outside the conversation's lane, so
        inbound SMS are not held up behind it."""
        delay = self._config.send_delay_seconds
        if delay <= 0:
            await enqueue_send(conn, conversation, message_id, now)
            return
        await enqueue(
            conn, ReleaseReply.of(conversation, message_id), now=now, run_after=now + delay
        )
        await conversations.touch_conversation(conn, conversation.id, now)

    async def job_release_reply(self, job: ReleaseReply, attempt: int) -> None:
        now = self._clock()
        async with self._engine.begin() as conn:
            message = await sms.get_message(conn, job.message_id)
            if st.phase(message.status) is st.Phase.CANCELLED:
                return  # deleted inside the window
            conversation = await conversations.get_conversation(conn, message.conversation_id)
            await enqueue_send(conn, conversation, message.id, now)
        self._wake()

    async def reply_changed(
        self,
        *,
        team: str,
        channel: str,
        ts: str,
        deleted: bool,
        change_key: str,
        event_key: str | None = None,
    ) -> str:
        """A person edited or deleted a thread reply. ``ignored``: not a reply we took.
        ``unsent``: deleted before its send started (inside the undo window), so it is not
        sent and the thread says so. ``noted``: its author is told that the SMS goes out as
        first written and cannot be changed. ``change_key`` identifies this edit, and
        ``event_key`` (the Slack event id) its delivery, so a redelivery does nothing."""
        now = self._clock()
        async with self._engine.begin() as conn:
            if event_key is not None and not await seen_events.first_seen(conn, event_key, now):
                return "ignored"
            message = await sms.find_message_by_key(conn, f"reply:{team}:{channel}:{ts}")
            if message is None or message.author is None:
                return "ignored"
            conversation = await conversations.get_conversation(conn, message.conversation_id)
            if deleted and (
                await queue.cancel_unstarted(conn, f"release:{message.id}", now)
                or await queue.cancel_unstarted(conn, f"send:{message.id}", now)
            ):
                await sms.update_message(conn, message.id, now, error="deleted before sending")
                await sms.raise_status(
                    conn, message.id, status="cancelled", rank=st.rank("cancelled"), now=now
                )
                # Its segments are given back: the sending quotas subtract "unsent" rows.
                await audit.add_audit(
                    conn,
                    actor=message.author,
                    action="unsent",
                    now=now,
                    channel=channel,
                    our_number=conversation.our_number,
                    peer_number=conversation.peer_number,
                    segments=count_segments(message.text).segments,
                    detail="deleted before it was sent",
                )
                await thread_notice(
                    conn,
                    conversation,
                    key=f"unsent:{message.id}",
                    text=messages.reply_unsent(),
                    now=now,
                    mention=message.author,
                )
                outcome = "unsent"
            else:
                text = _change_note(
                    message,
                    peer=format_international(conversation.peer_number),
                    deleted=deleted,
                    undo_window=self._config.send_delay_seconds > 0,
                )
                tell = Tell.of(
                    key=change_key,
                    channel=channel,
                    user=message.author,
                    thread_ts=conversation.thread_ts,
                    text=text,
                )
                await enqueue(conn, tell, now=now)
                outcome = "noted"
        self._wake()
        return outcome


def _change_note(message: sms.Message, *, peer: str, deleted: bool, undo_window: bool) -> str:
    """What the author of an edited or deleted thread reply is told (only they see it)."""
    if st.phase(message.status) is st.Phase.FAILED:
        return messages.reply_change_after_failure(peer)
    if not deleted and message.voipbin_id is None and message.send_started_at is None:
        # An edit while the reply still waits (the undo window): say what will happen.
        return messages.reply_edit_before_sending(peer, undo_window=undo_window)
    return messages.reply_change_after_sending(peer, deleted=deleted)
