"""Keys seen (``seen_events``): the deliveries already taken in (Slack event ids, reply and
refusal keys), so a redelivery does nothing, and the claim that lets one failure at a time
be shown in a channel. Forgotten after ``jobs.seen_events_ttl_seconds``."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.statements import insert_ignore
from bot.store.tables import seen_events


async def first_seen(conn: AsyncConnection, key: str, now: float) -> bool:
    """Record a delivery key; False when it was seen before (a redelivery)."""
    return await insert_ignore(conn, seen_events, {"key": key, "seen_at": now})


async def was_seen(conn: AsyncConnection, key: str) -> bool:
    found = await conn.execute(select(seen_events.c.key).where(seen_events.c.key == key))
    return found.first() is not None


async def prune(conn: AsyncConnection, *, seen_before: float) -> int:
    """Forget the keys seen before ``seen_before``; returns how many."""
    result = await conn.execute(delete(seen_events).where(seen_events.c.seen_at < seen_before))
    return int(result.rowcount)


async def claim_broadcast(
    conn: AsyncConnection, channel: str, *, now: float, window: float
) -> bool:
    """Whether a failure in ``channel`` may also be shown in the channel now: True (and
    remembered) when none was within the last ``window`` seconds. The check is in the write,
    so of two failures at once exactly one is shown."""
    key = f"broadcast:{channel}"
    if await insert_ignore(conn, seen_events, {"key": key, "seen_at": now}):
        return True
    result = await conn.execute(
        update(seen_events)
        .where(seen_events.c.key == key, seen_events.c.seen_at <= now - window)
        .values(seen_at=now)
    )
    return bool(result.rowcount)
