"""Threads: a conversation's root post, opened when it has none (``Threads``), and the thread
lifecycle: after ``threads.idle_days`` without messages, a number's next /sms or
inbound SMS opens a new thread, whose root links to the one before.

Only new conversation starts retire a thread. A reply typed in the current thread continues
it however old it is (the person chose that thread), and a reply typed in a retired thread is
still sent as SMS: it reaches the same conversation through ``past_threads``.
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge.directory import Directory
from bot.bridge.outbox import slack
from bot.bridge.ports import Messenger
from bot.store import conversations, opt_outs
from bot.store.conversations import Conversation

log = logging.getLogger(__name__)

DAY = 86400.0


async def retire_if_idle(
    conn: AsyncConnection, conversation: Conversation, *, idle_days: float | None, now: float
) -> Conversation:
    """``conversation`` as it must be used for a new message at ``now``: without its thread
    when it has been idle for ``idle_days`` (the thread is kept in ``past_threads``).

    Call it with the conversation as read before this message touched it, in the
    transaction that records the message."""
    if idle_days is None or conversation.thread_ts is None:
        return conversation
    if now - conversation.last_activity_at < idle_days * DAY:
        return conversation
    if not await conversations.close_thread(conn, conversation, now):
        return conversation
    log.info(
        "thread retired after idle conversation_id=%d idle_days=%s", conversation.id, idle_days
    )
    return dataclasses.replace(conversation, thread_ts=None)


class Threads:
    """Opening a conversation's Slack thread (its root post) when it has none."""

    def __init__(self, *, engine: AsyncEngine, messenger: Messenger, directory: Directory) -> None:
        self._engine = engine
        self._messenger = messenger
        self._directory = directory

    async def ensure(self, conversation: conversations.Conversation, attempt: int) -> str:
        if conversation.thread_ts is not None:
            return conversation.thread_ts
        async with self._engine.connect() as conn:
            opted_out = await opt_outs.is_opted_out(
                conn, our_number=conversation.our_number, peer_number=conversation.peer_number
            )
            previous = await conversations.previous_thread(conn, conversation.id)
        names = await self._directory.names([conversation.peer_number])
        ts: str = await slack(
            self._messenger.open_thread(
                channel=conversation.channel,
                peer=conversation.peer_number,
                our_number=conversation.our_number,
                # A new thread after an idle one gets a key of its own.
                key=f"root:{conversation.id}" + (f":{previous}" if previous else ""),
                reconcile=attempt > 1,
                opted_out=opted_out,
                name=names.get(conversation.peer_number),
                previous_thread_ts=previous,
            )
        )
        async with self._engine.begin() as conn:
            await conversations.set_thread(conn, conversation.id, ts)
        log.info(
            "thread opened conversation_id=%d channel=%s", conversation.id, conversation.channel
        )
        return ts
