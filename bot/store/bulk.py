"""Many rows inserted in one transaction of their own, at the database driver's speed.

SQLAlchemy's execution layer costs more per batch than the insert itself (the intake of
webhooks went ~5,000 -> ~6,000/s without it, docs/PERFORMANCE.md), so a batch goes to the
driver directly: one ``INSERT … ON CONFLICT DO NOTHING`` compiled by SQLAlchemy once, run with
the driver's ``executemany``. On SQLite the whole transaction is one hand-off to the driver's
thread (``onetrip.Connection.write_many``); asyncpg's ``executemany`` is one round trip. The
connection still comes from, and goes back to, SQLAlchemy's pool. Only this module knows which
driver runs underneath.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import in_transaction
from bot.store.statements import ignore_conflicts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Compiled:
    statement: Any  # the SQLAlchemy statement, for the way through SQLAlchemy
    sql: str  # its SQL for the driver
    names: tuple[str, ...]  # the order of the driver's parameters


_COMPILED: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


def _compiled(engine: AsyncEngine, table: Table, columns: tuple[str, ...]) -> _Compiled:
    key = (id(engine.dialect), table.name, columns)
    found = _COMPILED.get(key)
    if found is None:
        statement = ignore_conflicts(engine.dialect.name, table)
        compiled = statement.inline().compile(dialect=engine.dialect, column_keys=list(columns))
        found = _COMPILED[key] = _Compiled(
            statement, str(compiled), tuple(compiled.positiontup or ())
        )
    return found


async def insert_ignoring_conflicts(
    engine: AsyncEngine, table: Table, columns: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    """Insert ``rows`` (dicts of ``columns``) into ``table`` in one transaction of its own,
    skipping a row whose unique key exists; raises what the database raised (nothing is
    then written). A connection that failed is not reused; a dead one found in the pool
    (the database restarted) is retried once through SQLAlchemy, which then discards the
    whole pool and runs the transaction again on a new connection."""
    compiled = _compiled(engine, table, tuple(columns))
    args = [tuple(row.get(name) for name in compiled.names) for row in rows]
    try:
        await _driver_executemany(engine, compiled.sql, args)
    except Exception as exc:
        log.warning("bulk insert into %s failed (%s); once more through SQLAlchemy", table, exc)

        async def insert(conn: AsyncConnection) -> None:
            await conn.execute(compiled.statement, rows)

        await in_transaction(engine, insert)


async def _driver_executemany(engine: AsyncEngine, sql: str, args: list[tuple[Any, ...]]) -> None:
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        try:
            if engine.dialect.name == "sqlite":
                await driver.write_many(sql, args)
            else:
                # asyncpg's executemany is atomic on its own: every row's Bind and Execute,
                # then one Sync, i.e. one implicit transaction in one round trip; BEGIN and
                # COMMIT around it would be two more.
                await driver.executemany(sql, args)
        except BaseException:
            # Whatever failed, this connection is not reused: a dead one must not go back
            # to the pool, and a live one is cheap to open again.
            await conn.invalidate()
            raise
