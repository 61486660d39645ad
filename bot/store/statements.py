"""The statements built once and run with their values bound at execution.

A statement built per call costs its construction and its cache key every time (py-spy:
~10 % of a ``/sms``), so those on the paths of every ``/sms``, webhook and job are built
here, once. Their parameters are named after the column they stand for with a ``p_`` prefix
(``p_id``, ``p_thread_ts``): the column's own name is reserved by SQLAlchemy in the SET clause
of an UPDATE. The jobs table's statements live with its owner, ``bot.jobs.queue``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import audit, conversations, messages, opt_outs


def ignore_conflicts(dialect: str, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` for the dialect named ``dialect``.
    The values are given at execution (one dict, or a list for executemany), so the statement
    is built, and compiled, once per table and reused."""
    cache = _IGNORE_CONFLICTS.setdefault(dialect, {})
    stmt = cache.get(table.name)
    if stmt is None:
        if dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        else:  # pragma: no cover - only the two dialects above are supported
            raise RuntimeError(f"unsupported database {dialect}")
        cache[table.name] = stmt
    return stmt


_IGNORE_CONFLICTS: dict[str, dict[str, Any]] = {}


async def insert_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT that does nothing when a unique key already exists; True when a row was added."""
    result = await conn.execute(ignore_conflicts(conn.dialect.name, table), values)
    return bool(result.rowcount)


def ignore_conflicts_returning(dialect: str, table: Table, *columns: Any) -> Any:
    """``ignore_conflicts`` with ``RETURNING columns`` (all of the table's when none)."""
    names = tuple(column.name for column in columns)
    key = (dialect, table.name, names)
    stmt = _RETURNING.get(key)
    if stmt is None:
        stmt = ignore_conflicts(dialect, table).returning(*(columns or (table,)))
        _RETURNING[key] = stmt
    return stmt


_RETURNING: dict[tuple[str, str, tuple[str, ...]], Any] = {}


# -- conversations -------------------------------------------------------------------------

CONVERSATION_BY_KEY = select(conversations).where(
    conversations.c.channel == bindparam("p_channel"),
    conversations.c.our_number == bindparam("p_our_number"),
    conversations.c.peer_number == bindparam("p_peer_number"),
)
CONVERSATION_BY_ID = select(conversations).where(conversations.c.id == bindparam("p_id"))
CONVERSATION_BY_THREAD = select(conversations).where(
    conversations.c.channel == bindparam("p_channel"),
    conversations.c.thread_ts == bindparam("p_thread_ts"),
)
SET_THREAD = (
    update(conversations)
    .where(conversations.c.id == bindparam("p_id"))
    .values(thread_ts=bindparam("p_thread_ts"))
)
TOUCH_CONVERSATION = (
    update(conversations)
    .where(conversations.c.id == bindparam("p_id"))
    .values(last_activity_at=bindparam("p_now"))
)

# -- messages ------------------------------------------------------------------------------

MESSAGE_BY_ID = select(messages).where(messages.c.id == bindparam("p_id"))
MESSAGE_BY_VOIPBIN_ID = select(messages).where(messages.c.voipbin_id == bindparam("p_voipbin_id"))
# Forward only: the comparison is in the UPDATE, so of two racing statuses the higher wins.
RAISE_STATUS = (
    update(messages)
    .where(messages.c.id == bindparam("p_id"), messages.c.status_rank < bindparam("p_status_rank"))
    .values(
        status=bindparam("p_status"),
        status_rank=bindparam("p_status_rank"),
        updated_at=bindparam("p_now"),
    )
)

# -- opt-outs and the audit log ------------------------------------------------------------

OPTED_OUT = select(opt_outs.c.opted_out).where(
    opt_outs.c.our_number == bindparam("p_our_number"),
    opt_outs.c.peer_number == bindparam("p_peer_number"),
)
ADD_AUDIT = audit.insert()  # its values are the audit row's columns, by name
