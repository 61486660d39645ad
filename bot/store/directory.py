"""Read models for people: contact names, a number's messages, recent conversations and
opt-out counts. Only reads, except the contact names themselves."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.conversations import Conversation
from bot.store.sms import Message
from bot.store.statements import insert_ignore
from bot.store.tables import contacts, conversations, messages, opt_outs

# -- contact names ---------------------------------------------------------------------------


async def contact_names(conn: AsyncConnection, peers: Iterable[str]) -> dict[str, str]:
    """The names given to ``peers`` (numbers without a name are left out)."""
    wanted = sorted(set(peers))
    if not wanted:
        return {}
    rows = (
        await conn.execute(
            select(contacts.c.peer_number, contacts.c.name).where(
                contacts.c.peer_number.in_(wanted)
            )
        )
    ).all()
    return {str(peer): str(name) for peer, name in rows}


async def set_contact_name(
    conn: AsyncConnection, *, peer: str, name: str | None, by: str, now: float
) -> str | None:
    """Name ``peer`` (``None`` forgets its name); returns the name it had before."""
    before = (await contact_names(conn, [peer])).get(peer)
    if name is None:
        await conn.execute(delete(contacts).where(contacts.c.peer_number == peer))
        return before
    values = {"name": name, "updated_by": by, "updated_at": now}
    if not await insert_ignore(conn, contacts, {"peer_number": peer, **values}):
        await conn.execute(update(contacts).where(contacts.c.peer_number == peer).values(**values))
    return before


# -- conversations and their messages --------------------------------------------------------


async def conversations_in(
    conn: AsyncConnection,
    channels: Iterable[str],
    *,
    peer: str | None = None,
    limit: int = 200,
) -> list[Conversation]:
    """Conversations of ``channels`` (of one ``peer``), most recently active first."""
    query = select(conversations).where(conversations.c.channel.in_(sorted(set(channels))))
    if peer is not None:
        query = query.where(conversations.c.peer_number == peer)
    query = query.order_by(conversations.c.last_activity_at.desc(), conversations.c.id.desc())
    rows = (await conn.execute(query.limit(limit))).mappings().all()
    return [Conversation(**dict(row)) for row in rows]


async def latest_messages(
    conn: AsyncConnection, conversation_ids: Iterable[int], *, limit: int
) -> list[Message]:
    """The newest ``limit`` messages of these conversations, newest first."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return []
    rows = (
        (
            await conn.execute(
                select(messages)
                .where(messages.c.conversation_id.in_(ids))
                .order_by(messages.c.id.desc())
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    return [Message(**dict(row)) for row in rows]


async def last_message_each(
    conn: AsyncConnection,
    conversation_ids: Iterable[int],
    *,
    direction: str | None = None,
    skip_status: str | None = None,
) -> dict[int, Message]:
    """Each conversation's newest message (of ``direction``; not one whose status is
    ``skip_status``), by conversation id."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    newest = select(func.max(messages.c.id)).where(messages.c.conversation_id.in_(ids))
    if direction is not None:
        newest = newest.where(messages.c.direction == direction)
    if skip_status is not None:
        newest = newest.where(messages.c.status != skip_status)
    newest = newest.group_by(messages.c.conversation_id)
    rows = (await conn.execute(select(messages).where(messages.c.id.in_(newest)))).mappings().all()
    return {int(row["conversation_id"]): Message(**dict(row)) for row in rows}


# -- opt-outs --------------------------------------------------------------------------------


async def opted_out_count(conn: AsyncConnection) -> int:
    """Numbers opted out from at least one of our numbers."""
    query = select(func.count(func.distinct(opt_outs.c.peer_number))).where(opt_outs.c.opted_out)
    return int((await conn.execute(query)).scalar_one())


async def opted_out_pairs(
    conn: AsyncConnection, our_numbers: Iterable[str]
) -> set[tuple[str, str]]:
    """``(our_number, peer)`` of every number opted out from one of ``our_numbers``."""
    rows = (
        await conn.execute(
            select(opt_outs.c.our_number, opt_outs.c.peer_number).where(
                opt_outs.c.our_number.in_(sorted(set(our_numbers))), opt_outs.c.opted_out
            )
        )
    ).all()
    return {(str(ours), str(peer)) for ours, peer in rows}
