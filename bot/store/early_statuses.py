"""Statuses that arrived before their message was known (``early_statuses``): VoIPbin can
report a status before the answer to the send that created it has been stored. Kept until
the send's id is stored, and for ``jobs.seen_events_ttl_seconds`` at most."""

from __future__ import annotations

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.statements import insert_ignore
from bot.store.tables import early_statuses


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


async def prune(conn: AsyncConnection, *, received_before: float) -> None:
    """Forget the early statuses received before ``received_before``."""
    await conn.execute(delete(early_statuses).where(early_statuses.c.received_at < received_before))
