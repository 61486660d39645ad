"""Conversations (``conversations``): one phone number with one of our numbers in one
channel, and its Slack thread; and the threads it used before (``past_threads``, after
``threads.idle_days``), so replies typed in them still reach it. Every function takes the
connection of the caller's transaction, so a state change and the jobs it causes commit
together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import statements as sql
from bot.store.statements import insert_ignore
from bot.store.tables import conversations, past_threads


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    channel: str
    our_number: str
    peer_number: str
    thread_ts: str | None
    created_at: float
    last_activity_at: float


def _conversation(row: RowMapping) -> Conversation:
    return Conversation(**dict(row))


async def get_or_create_conversation(
    conn: AsyncConnection, *, channel: str, our_number: str, peer_number: str, now: float
) -> Conversation:
    """The conversation of ``peer_number`` with ``our_number`` in ``channel``, created if new,
    as it was before this call (``last_activity_at`` is not touched).

    One statement for a known number (the common case), two for a new one; a concurrent
    creator of the same conversation (its insert wins) costs a third."""
    found = (
        await conn.execute(sql.CONVERSATION_BY_KEY, _key(channel, our_number, peer_number))
    ).first()
    if found is None:
        values = {
            "channel": channel,
            "our_number": our_number,
            "peer_number": peer_number,
            "thread_ts": None,
            "created_at": now,
            "last_activity_at": now,
        }
        insert = sql.ignore_conflicts_returning(conn.dialect.name, conversations)
        found = (await conn.execute(insert, values)).first()
        if found is None:  # created meanwhile by another transaction
            found = (
                await conn.execute(sql.CONVERSATION_BY_KEY, _key(channel, our_number, peer_number))
            ).first()
    assert found is not None
    return _conversation(found._mapping)


def _key(channel: str, our_number: str, peer_number: str) -> dict[str, str]:
    return {"p_channel": channel, "p_our_number": our_number, "p_peer_number": peer_number}


async def get_conversation(conn: AsyncConnection, conversation_id: int) -> Conversation:
    row = (await conn.execute(sql.CONVERSATION_BY_ID, {"p_id": conversation_id})).mappings().one()
    return _conversation(row)


async def find_conversation_by_thread(
    conn: AsyncConnection, *, channel: str, thread_ts: str
) -> Conversation | None:
    row = (
        (
            await conn.execute(
                sql.CONVERSATION_BY_THREAD, {"p_channel": channel, "p_thread_ts": thread_ts}
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _conversation(row)


async def set_thread(conn: AsyncConnection, conversation_id: int, thread_ts: str) -> None:
    await conn.execute(sql.SET_THREAD, {"p_id": conversation_id, "p_thread_ts": thread_ts})


async def touch_conversation(conn: AsyncConnection, conversation_id: int, now: float) -> None:
    await conn.execute(sql.TOUCH_CONVERSATION, {"p_id": conversation_id, "p_now": now})


# -- the threads a conversation used before ---------------------------------------------------


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
