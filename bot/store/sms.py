"""The SMS, both ways (``messages``): each with its key, its Slack message, its VoIPbin id and
its status, which only moves forward. Every function takes the connection of the caller's
transaction, so a state change and the jobs it causes commit together. (Named ``sms``, not
``messages``: ``bot.bridge.messages`` holds the words people read.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import statements as sql
from bot.store.tables import messages


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


def _message(row: RowMapping) -> Message:
    return Message(**dict(row))


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
