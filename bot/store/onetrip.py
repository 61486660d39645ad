"""aiosqlite with one trip to the database thread per statement.

aiosqlite runs every call on its connection's own thread; SQLAlchemy's adapter makes four
calls per statement (open a cursor, execute, fetch, close), each a hand-off to that thread
and back. Counted on ``/sms``: 35 hand-offs per command, 19 of them opening and closing
cursors. Here a statement is one hand-off: the cursor is opened, the statement run, its rows
fetched and the cursor closed in the database thread together (the rows, the description,
the row count and the last row id are kept for the caller). A ``BEGIN`` travels with the
transaction's first statement, and a commit or rollback with nothing to end makes no trip
(SQLAlchemy rolls back every connection it takes back into its pool): the intake of a
``/sms`` went from 9 hand-offs to 7 (``python -m bench.accept``).

Used through ``create_async_engine(..., async_creator=...)`` (``bot.store.db``); the rest of
the driver is aiosqlite's own. It uses aiosqlite's private members (``Connection._execute``,
``_conn``, ``_connection``, ``_iter_chunk_size``, ``_thread``), so aiosqlite is pinned to the
releases checked (0.22.x, pyproject.toml); ``tests/store/test_onetrip.py`` fails when one of
them moves (with 0.21: ``_thread``). Still worth it (``python -m bench.accept``, 2026-12-03, two
runs each on two shared cores): 7.0 trips to SQLite's thread and 4.1-5.0 ms CPU per ``/sms``
intake with it, 26.0 trips and 6.8-9.0 ms with aiosqlite's own connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager


@dataclass(frozen=True, slots=True)
class _Done:
    """What a statement left behind, read in the database thread before its cursor closed."""

    rows: list[Any]
    description: Any
    rowcount: int
    lastrowid: int | None
    arraysize: int


def _run(
    connection: sqlite3.Connection, method: str, sql: str, parameters: Any, begin: str | None
) -> _Done:
    if begin is not None:
        connection.execute(begin)
    cursor = connection.cursor()
    try:
        getattr(cursor, method)(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Done(rows, cursor.description, cursor.rowcount, cursor.lastrowid, cursor.arraysize)
    finally:
        cursor.close()


_NOTHING = _Done([], None, -1, None, 1)


class Cursor(aiosqlite.Cursor):
    """Opens, executes, fetches and closes in one hand-off; rows are kept until fetched."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._done: _Done | None = None  # the last statement's
        self._rows: list[Any] = []
        self.iter_chunk_size = conn._iter_chunk_size
        self._arraysize = 1

    async def _trip(self, method: str, sql: str, parameters: Any) -> Cursor:
        conn: Any = self._conn
        if method == "execute" and sql.strip().upper().startswith("BEGIN"):
            # Sent with the transaction's first statement, in the same hand-off.
            conn.deferred_begin = sql
            self._done, self._rows = _NOTHING, []
            return self
        begin, conn.deferred_begin = conn.deferred_begin, None
        self._done = await conn._execute(_run, conn._conn, method, sql, parameters, begin)
        self._rows = list(self._done.rows)
        return self

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        return await self._trip("execute", sql, () if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        return await self._trip("executemany", sql, parameters)

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self._arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []

    @property
    def rowcount(self) -> int:
        return self._done.rowcount if self._done is not None else -1

    @property
    def lastrowid(self) -> int | None:
        return self._done.lastrowid if self._done is not None else None

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return self._done.description if self._done is not None else None


class Connection(aiosqlite.Connection):
    """aiosqlite's connection with ``cursor()`` giving one-trip cursors. A ``BEGIN`` is held
    back and sent with the transaction's first statement; a transaction with no statement
    commits or rolls back without a trip."""

    def __init__(self, connector: Any, iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self.deferred_begin: str | None = None

    async def commit(self) -> None:
        """No trip when there is nothing to commit (a transaction without a statement)."""
        self.deferred_begin = None
        if self._connection is not None and not self._conn.in_transaction:
            return
        await super().commit()

    @contextmanager
    async def cursor(self) -> Cursor:  # type: ignore[override]
        """A cursor that is opened in the database thread with its first statement."""
        return Cursor(self)

    async def rollback(self) -> None:
        """No hand-off when there is nothing to roll back. SQLAlchemy rolls back every
        connection it takes back into its pool, after a commit too: one trip in nine on a
        ``/sms`` was that no-op. ``in_transaction`` only reads SQLite's autocommit flag."""
        self.deferred_begin = None
        if self._connection is not None and not self._conn.in_transaction:
            return
        await super().rollback()

    async def write_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """``BEGIN IMMEDIATE``, ``executemany`` and ``COMMIT`` in one hand-off (rolled back
        if anything fails): the shared commit of ``JobWriter``. Only on a connection that is
        not inside a transaction."""
        assert self.deferred_begin is None, "write_many inside a transaction"

        def write(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(sql, rows)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

        run: Any = self._execute
        await run(write, self._conn)


def connect(database: str | Path, **kwargs: Any) -> Connection:
    """As ``aiosqlite.connect``, with one hand-off per statement."""
    location = str(database)

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(location, **kwargs)
        return connection

    return Connection(connector, 64)
