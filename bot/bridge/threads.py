"""Thread lifecycle: after ``threads.idle_days`` without messages, a number's next /sms or
inbound SMS opens a new thread, whose root links to the one before.

Only new conversation starts retire a thread. A reply typed in the current thread continues
it however old it is (the person chose that thread), and a reply typed in a retired thread is
still sent as SMS: it reaches the same conversation through ``past_threads``.
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import threads
from bot.store.repo import Conversation

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
    if not await threads.close_thread(conn, conversation, now):
        return conversation
    log.info(
        "thread retired after idle conversation_id=%d idle_days=%s", conversation.id, idle_days
    )
    return dataclasses.replace(conversation, thread_ts=None)
