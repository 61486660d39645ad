"""People's SMS signatures (``user_settings``). Every function takes the connection of the
caller's transaction."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.statements import insert_ignore
from bot.store.tables import user_settings


async def get_signature(conn: AsyncConnection, user: str) -> str | None:
    row = (
        await conn.execute(select(user_settings.c.signature).where(user_settings.c.user_id == user))
    ).first()
    return None if row is None or not row[0] else str(row[0])


async def set_signature(
    conn: AsyncConnection, user: str, signature: str | None, now: float
) -> None:
    added = await insert_ignore(
        conn, user_settings, {"user_id": user, "signature": signature, "updated_at": now}
    )
    if not added:
        await conn.execute(
            update(user_settings)
            .where(user_settings.c.user_id == user)
            .values(signature=signature, updated_at=now)
        )
