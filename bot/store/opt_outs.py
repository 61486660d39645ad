"""Opt-outs (``opt_outs``): which numbers may not be texted from which of ours, set by STOP /
START or by hand."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import statements as sql
from bot.store.statements import insert_ignore
from bot.store.tables import opt_outs


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
