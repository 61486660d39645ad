"""Alert roll-ups (``alert_rollups``): one channel's failures within a window, listed in one
alert. Every function takes the connection of the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import alert_rollups


@dataclass(frozen=True, slots=True)
class Rollup:
    id: int
    channel: str
    opened_at: float
    alert_ts: str | None
    items: list[dict[str, Any]]


async def open_rollup(conn: AsyncConnection, *, channel: str, since: float) -> Rollup | None:
    """The newest roll-up of ``channel`` opened at or after ``since``."""
    return await _rollup_where(
        conn, alert_rollups.c.channel == channel, alert_rollups.c.opened_at >= since
    )


async def get_rollup(conn: AsyncConnection, rollup_id: int) -> Rollup | None:
    """The roll-up ``rollup_id``, if it exists."""
    return await _rollup_where(conn, alert_rollups.c.id == rollup_id)


async def _rollup_where(conn: AsyncConnection, *conditions: Any) -> Rollup | None:
    row = (
        (
            await conn.execute(
                select(alert_rollups)
                .where(*conditions)
                .order_by(alert_rollups.c.id.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Rollup(
        id=int(row["id"]),
        channel=str(row["channel"]),
        opened_at=float(row["opened_at"]),
        alert_ts=row["alert_ts"],
        items=list(json.loads(row["items"])),
    )


async def start_rollup(
    conn: AsyncConnection, *, channel: str, item: dict[str, Any], now: float
) -> int:
    result = await conn.execute(
        alert_rollups.insert()
        .values(channel=channel, opened_at=now, items=json.dumps([item]), updated_at=now)
        .returning(alert_rollups.c.id)
    )
    return int(result.scalar_one())


async def save_rollup(
    conn: AsyncConnection,
    rollup_id: int,
    *,
    now: float,
    items: list[dict[str, Any]] | None = None,
    alert_ts: str | None = None,
) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if items is not None:
        values["items"] = json.dumps(items)
    if alert_ts is not None:
        values["alert_ts"] = alert_ts
    await conn.execute(
        update(alert_rollups).where(alert_rollups.c.id == rollup_id).values(**values)
    )
