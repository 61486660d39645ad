"""The audit log (``audit``): who sent what to whom, refusals and opt-out changes; and the
usage the sending quotas count from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import statements as sql
from bot.store.tables import audit


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
