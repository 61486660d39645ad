"""A number's threads over time: the current one lives on the conversation, the ones it used
before (``threads.idle_days``) in ``past_threads``, so replies typed in them still reach it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.repo import Conversation, find_conversation_by_thread, insert_ignore
from bot.store.tables import conversations, past_threads


async def find_conversation_by_any_thread(
    conn: AsyncConnection, *, channel: str, thread_ts: str
) -> Conversation | None:
    """The conversation whose current or an earlier thread is ``thread_ts`` in ``channel``."""
    found = await find_conversation_by_thread(conn, channel=channel, thread_ts=thread_ts)
    if found is not None:
        return found
    row = (
        (
            await conn.execute(
                select(conversations)
                .join(past_threads, past_threads.c.conversation_id == conversations.c.id)
                .where(past_threads.c.channel == channel, past_threads.c.thread_ts == thread_ts)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else Conversation(**dict(row))


async def close_thread(conn: AsyncConnection, conversation: Conversation, now: float) -> bool:
    """Retire the conversation's thread: its next post opens a new one. True when it had one
    (and this call was the one that retired it)."""
    if conversation.thread_ts is None:
        return False
    result = await conn.execute(
        update(conversations)
        .where(
            conversations.c.id == conversation.id,
            conversations.c.thread_ts == conversation.thread_ts,
        )
        .values(thread_ts=None)
    )
    if not result.rowcount:
        return False
    await insert_ignore(
        conn,
        past_threads,
        {
            "channel": conversation.channel,
            "thread_ts": conversation.thread_ts,
            "conversation_id": conversation.id,
            "closed_at": now,
        },
    )
    return True


async def previous_thread(conn: AsyncConnection, conversation_id: int) -> str | None:
    """The ts of the thread the conversation used last before its current one, if any."""
    value = (
        await conn.execute(
            select(past_threads.c.thread_ts)
            .where(past_threads.c.conversation_id == conversation_id)
            .order_by(past_threads.c.closed_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return None if value is None else str(value)
