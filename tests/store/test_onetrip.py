"""The SQLite driver adapter: one hand-off to the database thread per statement, and the
results SQLAlchemy reads (rows, row counts, RETURNING, executemany) as aiosqlite gives them."""

from __future__ import annotations

import inspect
import sqlite3
import threading
from typing import Any

import aiosqlite
import aiosqlite.context
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from bot.store import onetrip
from bot.store.db import create_engine

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True),
)


async def test_each_statement_is_one_trip_and_results_are_whole(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    original = onetrip.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(onetrip.Connection, "_execute", counted)
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.begin() as conn:
            trips.clear()
            result = await conn.execute(insert(items).returning(items.c.id), {"name": "a"})
            assert result.scalar_one() == 1
            assert trips == ["_run"], "insert … returning: open, execute, fetch, close in one"
            result = await conn.execute(insert(items), [{"name": f"n{i}"} for i in range(50)])
            assert result.rowcount == 50
            result = await conn.execute(update(items).where(items.c.id > 40).values(name=None))
            assert result.rowcount == 11
            result = await conn.execute(insert(items), {"name": "last"})
            assert result.inserted_primary_key == (52,)
            rows = (await conn.execute(select(items.c.id).order_by(items.c.id))).scalars().all()
            assert rows == list(range(1, 53))
            assert trips.count("_run") == 5
    finally:
        await engine.dispose()


async def test_errors_come_through_as_the_drivers(sqlite_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(items), {"name": "same"})
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(insert(items), {"name": "same"})
        async with engine.connect() as conn:  # the failed transaction left nothing behind
            assert (await conn.execute(select(items.c.name))).scalars().all() == ["same"]
    finally:
        await engine.dispose()


async def test_a_transaction_is_its_statements_and_a_commit_and_still_immediate(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN IMMEDIATE goes with the first statement, the commit is one trip, and the
    rollback SQLAlchemy sends when the connection goes back to its pool costs none. The
    write lock is still taken at the first statement, a read included."""
    import sqlite3

    trips: list[str] = []
    original = onetrip.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    engine = create_engine(sqlite_url)
    path = sqlite_url.split("///", 1)[1]
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        monkeypatch.setattr(onetrip.Connection, "_execute", counted)
        async with engine.begin() as conn:
            await conn.execute(insert(items), {"name": "a"})
        assert trips == ["_run", "commit"]

        trips.clear()
        async with engine.begin():
            pass  # nothing done: nothing to send
        assert trips == []

        async with engine.begin() as conn:
            await conn.execute(select(items.c.id))
            other = sqlite3.connect(path, timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        await engine.dispose()


def test_the_private_members_of_aiosqlite_onetrip_uses_are_where_it_expects_them() -> None:
    """onetrip (and ``db.create_engine``) use aiosqlite's private members; pyproject.toml pins
    aiosqlite to the releases checked. Before moving the pin, this must still pass."""
    parameters = list(inspect.signature(aiosqlite.Connection.__init__).parameters)
    assert parameters[:3] == ["self", "connector", "iter_chunk_size"]
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert isinstance(inspect.getattr_static(aiosqlite.Connection, "_conn"), property)
    assert callable(aiosqlite.context.contextmanager)
    assert issubclass(onetrip.Cursor, aiosqlite.Cursor)


async def test_an_open_onetrip_connection_has_the_state_onetrip_reads() -> None:
    connection = await onetrip.connect(":memory:", check_same_thread=False)
    try:
        assert isinstance(connection._connection, sqlite3.Connection)
        assert connection._conn is connection._connection
        assert isinstance(connection._thread, threading.Thread)  # joined by db.create_engine
        assert connection._thread.is_alive()
        assert connection._iter_chunk_size == 64
        # _execute runs a function with the sqlite3 connection in the database thread
        ran_in: list[threading.Thread] = []

        def where(conn: sqlite3.Connection) -> int:
            ran_in.append(threading.current_thread())
            return int(conn.execute("SELECT 41 + 1").fetchone()[0])

        assert await connection._execute(where, connection._conn) == 42
        assert ran_in == [connection._thread]
    finally:
        await connection.close()
