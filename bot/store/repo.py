"""Queries over the schema. Every function takes the connection of the caller's transaction,
so a state change and the jobs it causes commit together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, case, delete, func, literal, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import statements as sql
from bot.store.tables import audit, conversations, early_statuses, messages, opt_outs, seen_events


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    channel: str
    our_number: str
    peer_number: str
    thread_ts: str | None
    created_at: float
    last_activity_at: float


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    key: str
    conversation_id: int
    direction: str
    origin: str
    text: str
    author: str | None
    slack_ts: str | None
    voipbin_id: str | None
    status: str
    status_rank: int
    shown_status: str | None
    error: str | None
    send_started_at: float | None
    alerted: bool
    created_at: float
    updated_at: float


def _conversation(row: RowMapping) -> Conversation:
    return Conversation(**dict(row))


def _message(row: RowMapping) -> Message:
    return Message(**dict(row))


async def insert_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT that does nothing when a unique key already exists; True when a row was added."""
    result = await conn.execute(sql.ignore_conflicts(conn.dialect.name, table), values)
    return bool(result.rowcount)


# -- conversations -------------------------------------------------------------------------


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


# -- messages ------------------------------------------------------------------------------


async def insert_message(
    conn: AsyncConnection,
    *,
    key: str,
    conversation_id: int,
    direction: str,
    origin: str,
    text: str,
    status: str,
    status_rank: int,
    now: float,
    author: str | None = None,
    slack_ts: str | None = None,
    voipbin_id: str | None = None,
) -> int | None:
    """Record an SMS; None when a message with ``key`` already exists (a redelivery)."""
    row = (
        await conn.execute(
            sql.ignore_conflicts_returning(conn.dialect.name, messages, messages.c.id),
            {
                "key": key,
                "conversation_id": conversation_id,
                "direction": direction,
                "origin": origin,
                "text": text,
                "author": author,
                "slack_ts": slack_ts,
                "voipbin_id": voipbin_id,
                "status": status,
                "status_rank": status_rank,
                "alerted": False,
                "created_at": now,
                "updated_at": now,
            },
        )
    ).first()
    return None if row is None else int(row[0])


async def get_message(conn: AsyncConnection, message_id: int) -> Message:
    row = (await conn.execute(sql.MESSAGE_BY_ID, {"p_id": message_id})).mappings().one()
    return _message(row)


async def find_message_by_key(conn: AsyncConnection, key: str) -> Message | None:
    row = (await conn.execute(select(messages).where(messages.c.key == key))).mappings().first()
    return None if row is None else _message(row)


async def find_message_by_voipbin_id(conn: AsyncConnection, voipbin_id: str) -> Message | None:
    row = (
        (await conn.execute(sql.MESSAGE_BY_VOIPBIN_ID, {"p_voipbin_id": voipbin_id}))
        .mappings()
        .first()
    )
    return None if row is None else _message(row)


async def update_message(conn: AsyncConnection, message_id: int, now: float, **values: Any) -> None:
    await conn.execute(
        update(messages).where(messages.c.id == message_id).values(updated_at=now, **values)
    )


async def raise_status(
    conn: AsyncConnection, message_id: int, *, status: str, rank: int, now: float
) -> bool:
    """Move a message's status forward; never backwards. True when it changed.

    The comparison happens in the UPDATE itself so two webhooks racing on one message cannot
    both win.
    """
    result = await conn.execute(
        sql.RAISE_STATUS,
        {"p_id": message_id, "p_status": status, "p_status_rank": rank, "p_now": now},
    )
    return bool(result.rowcount)


# -- statuses that arrived before their message was known -----------------------------------


async def lock_voipbin_id(conn: AsyncConnection, voipbin_id: str) -> None:
    """Serialise, until the end of the transaction, everything done for one VoIPbin message.

    Storing a send's id and taking a status that arrived early race otherwise: under READ
    COMMITTED each could miss the other's uncommitted row and the status would be lost.
    SQLite needs nothing: its transactions already run one at a time (BEGIN IMMEDIATE).
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"vb:{voipbin_id}"}
        )


async def remember_early_status(
    conn: AsyncConnection, *, voipbin_id: str, status: str, rank: int, now: float
) -> None:
    added = await insert_ignore(
        conn,
        early_statuses,
        {"voipbin_id": voipbin_id, "status": status, "status_rank": rank, "received_at": now},
    )
    if not added:
        await conn.execute(
            update(early_statuses)
            .where(early_statuses.c.voipbin_id == voipbin_id, early_statuses.c.status_rank < rank)
            .values(status=status, status_rank=rank, received_at=now)
        )


async def take_early_status(conn: AsyncConnection, voipbin_id: str) -> tuple[str, int] | None:
    row = (
        await conn.execute(
            select(early_statuses.c.status, early_statuses.c.status_rank).where(
                early_statuses.c.voipbin_id == voipbin_id
            )
        )
    ).first()
    if row is None:
        return None
    await conn.execute(delete(early_statuses).where(early_statuses.c.voipbin_id == voipbin_id))
    return str(row[0]), int(row[1])


# -- opt-outs and the audit log ------------------------------------------------------------


async def is_opted_out(conn: AsyncConnection, *, our_number: str, peer_number: str) -> bool:
    row = (
        await conn.execute(
            sql.OPTED_OUT, {"p_our_number": our_number, "p_peer_number": peer_number}
        )
    ).first()
    return bool(row[0]) if row is not None else False


async def set_opt_out(
    conn: AsyncConnection,
    *,
    our_number: str,
    peer_number: str,
    opted_out: bool,
    by: str,
    now: float,
) -> bool:
    """Record an opt-out (or opt-in); True when the state changed."""
    before = await is_opted_out(conn, our_number=our_number, peer_number=peer_number)
    values = {"opted_out": opted_out, "changed_at": now, "changed_by": by}
    added = await insert_ignore(
        conn, opt_outs, {"our_number": our_number, "peer_number": peer_number, **values}
    )
    if not added:
        await conn.execute(
            update(opt_outs)
            .where(opt_outs.c.our_number == our_number, opt_outs.c.peer_number == peer_number)
            .values(**values)
        )
    return before != opted_out


async def add_audit(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    now: float,
    channel: str | None = None,
    our_number: str | None = None,
    peer_number: str | None = None,
    segments: int = 0,
    detail: str | None = None,
) -> None:
    await conn.execute(
        sql.ADD_AUDIT,
        {
            "at": now,
            "actor": actor,
            "action": action,
            "channel": channel,
            "our_number": our_number,
            "peer_number": peer_number,
            "segments": segments,
            "detail": detail,
        },
    )


async def usage(
    conn: AsyncConnection,
    *,
    actor: str | None,
    day: float,
    our_number: str | None,
    minute: float,
) -> tuple[int, int, int]:
    """What the sending quotas need, in one read of the audit log: segments sent since
    ``day`` by ``actor`` and by everyone, and SMS sent from ``our_number`` since ``minute``.
    Pass ``actor=None`` / ``our_number=None`` for a rule that is off (its figure is 0).
    An ``unsent`` row (a reply deleted inside the undo window) takes its ``sent`` row back."""

    def total(condition: Any, value: Any) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    # +1 for a send, -1 for one taken back before it went out.
    sign = case((audit.c.action == "unsent", -1), else_=1)
    in_day = audit.c.at >= day
    segments = audit.c.segments * sign
    by_user = total(and_(in_day, audit.c.actor == actor), segments) if actor else literal(0)
    by_number = (
        total(and_(audit.c.at >= minute, audit.c.our_number == our_number), sign)
        if our_number
        else literal(0)
    )
    query = select(by_user, total(in_day, segments), by_number).where(
        audit.c.action.in_(("sent", "unsent")), audit.c.at >= min(day, minute)
    )
    row = (await conn.execute(query)).one()
    # A send taken back just after the window opened was counted before it: never below 0.
    return max(0, int(row[0])), max(0, int(row[1])), max(0, int(row[2]))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    channel: str | None
    our_number: str | None
    peer_number: str | None
    segments: int
    detail: str | None


async def audit_entries(
    conn: AsyncConnection, *, since: float = 0.0, number: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    query = select(audit).where(audit.c.at >= since)
    if number is not None:
        query = query.where((audit.c.peer_number == number) | (audit.c.our_number == number))
    rows = (await conn.execute(query.order_by(audit.c.id).limit(limit))).mappings().all()
    return [AuditEntry(**dict(row)) for row in rows]


# -- deliveries already seen ---------------------------------------------------------------


async def first_seen(conn: AsyncConnection, key: str, now: float) -> bool:
    """Record a delivery key; False when it was seen before (a redelivery)."""
    return await insert_ignore(conn, seen_events, {"key": key, "seen_at": now})


async def was_seen(conn: AsyncConnection, key: str) -> bool:
    found = await conn.execute(select(seen_events.c.key).where(seen_events.c.key == key))
    return found.first() is not None


async def prune(conn: AsyncConnection, *, seen_before: float) -> int:
    """Forget seen-event keys and early statuses older than ``seen_before``."""
    result = await conn.execute(delete(seen_events).where(seen_events.c.seen_at < seen_before))
    await conn.execute(delete(early_statuses).where(early_statuses.c.received_at < seen_before))
    return int(result.rowcount)


__all__ = [
    "AuditEntry",
    "Conversation",
    "Message",
    "add_audit",
    "audit_entries",
    "find_conversation_by_thread",
    "find_message_by_key",
    "find_message_by_voipbin_id",
    "first_seen",
    "get_conversation",
    "get_message",
    "get_or_create_conversation",
    "insert_ignore",
    "insert_message",
    "is_opted_out",
    "lock_voipbin_id",
    "prune",
    "raise_status",
    "remember_early_status",
    "set_opt_out",
    "set_thread",
    "take_early_status",
    "touch_conversation",
    "update_message",
    "usage",
    "was_seen",
]
