"""State behind what people do in Slack besides typing: sends held for confirmation,
signatures, alert roll-ups, and finding a message by its key. Like ``repo``, every
function takes the connection of the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.repo import Message, insert_ignore
from bot.store.tables import (
    alert_rollups,
    messages,
    pending_sends,
    seen_events,
    user_settings,
)

# -- sends held for confirmation -----------------------------------------------------------


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


# -- signatures ----------------------------------------------------------------------------


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


# -- messages by key ---------------------------------------------------------------------


async def find_message_by_key(conn: AsyncConnection, key: str) -> Message | None:
    row = (await conn.execute(select(messages).where(messages.c.key == key))).mappings().first()
    return None if row is None else Message(**dict(row))


# -- alert roll-ups ------------------------------------------------------------------------


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
