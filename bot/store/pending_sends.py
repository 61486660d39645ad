"""Sends held for confirmation (``pending_sends``): a ``/sms`` that needs a click before it goes
out. Every function takes the connection of the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import pending_sends


@dataclass(frozen=True, slots=True)
class PendingSend:
    id: int
    channel: str
    user_id: str
    our_number: str
    recipients: list[str]
    text: str
    state: str
    created_at: float


async def hold_send(
    conn: AsyncConnection,
    *,
    channel: str,
    user: str,
    our_number: str,
    recipients: list[str],
    text: str,
    now: float,
) -> int:
    result = await conn.execute(
        pending_sends.insert()
        .values(
            channel=channel,
            user_id=user,
            our_number=our_number,
            recipients=json.dumps(recipients),
            text=text,
            state="pending",
            created_at=now,
            updated_at=now,
        )
        .returning(pending_sends.c.id)
    )
    return int(result.scalar_one())


async def get_pending(conn: AsyncConnection, pending_id: int) -> PendingSend | None:
    row = (
        (await conn.execute(select(pending_sends).where(pending_sends.c.id == pending_id)))
        .mappings()
        .first()
    )
    if row is None:
        return None
    values = dict(row)
    values.pop("updated_at")
    values["recipients"] = list(json.loads(values["recipients"]))
    return PendingSend(**values)


async def move_pending(
    conn: AsyncConnection, pending_id: int, *, from_state: str, to_state: str, now: float
) -> bool:
    """Change a held send's state only if it is ``from_state``; True when this call did it.
    The check is in the UPDATE, so of two clicks racing exactly one wins."""
    result = await conn.execute(
        update(pending_sends)
        .where(pending_sends.c.id == pending_id, pending_sends.c.state == from_state)
        .values(state=to_state, updated_at=now)
    )
    return bool(result.rowcount)
