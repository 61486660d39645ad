"""Engine creation and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import ConfigError
from bot.store import onetrip

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaError(Exception):
    """The database schema cannot be used by this version of sms-bridge."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message names DATABASE_URL and why."""


# The drivers sms-bridge ships, and what the URLs people write mean with them.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def database_url(url: str) -> URL:
    """``DATABASE_URL`` as people write it (``postgresql://``, Heroku's ``postgres://``,
    ``sqlite:///``), with the async driver sms-bridge ships (asyncpg, aiosqlite). Another
    driver (``postgresql+psycopg://``) is not installed, so it is refused here, by name,
    rather than failing later with ``ModuleNotFoundError``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL {url!r} is not a database URL; use postgresql://user:password@host/db "
            "or sqlite+aiosqlite:///path/to/sms-bridge.db"
        ) from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"DATABASE_URL uses {parsed.drivername}://, which sms-bridge does not ship a driver "
            "for; use postgresql://… (asyncpg) or sqlite:///… (aiosqlite)"
        )
    return parsed.set(drivername=driver)


def shown_url(url: str | URL) -> str:
    """The URL without its password, for messages."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(original, socket.gaierror) and original.strerror:
        return f"the host is not known ({original.strerror.lower()})"
    if isinstance(original, OSError) and original.errno:
        return os.strerror(original.errno).lower()
    text = str(original).strip() or type(original).__name__
    # asyncpg's errors reach SQLAlchemy as "<class 'asyncpg....'>: message".
    return text.split(">: ", 1)[-1].splitlines()[0]


def unavailable(engine: AsyncEngine, exc: BaseException) -> DatabaseUnavailable:
    """``exc``, raised while reaching the database, as the words an operator acts on."""
    url = shown_url(engine.url.set(drivername=engine.url.get_backend_name()))
    reason = _reason(exc)
    if "readonly" in reason or "read-only" in reason:
        advice = (
            "the file or its folder is read-only; the user running sms-bridge must be able "
            "to write both (SQLite writes a -wal and a -shm file beside it)"
        )
    elif is_sqlite(engine):
        advice = "check that the folder exists and that sms-bridge may write in it"
    else:
        advice = "check that the server runs and that the host, port, user and database are right"
    return DatabaseUnavailable(f"cannot use the database at DATABASE_URL={url}: {reason}; {advice}")


# What reaching a database raises when it is down, refuses us, or cannot be opened.
REACH_ERRORS = (OSError, TimeoutError, DBAPIError)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine. SQLite gets one connection per process, WAL, a busy timeout and
    ``BEGIN IMMEDIATE`` transactions.

    SQLite lets one writer in at a time. With a pool of several connections, the service's
    concurrent requests and jobs queued for that lock inside SQLite's busy handler, which
    polls with sleeps of up to 100 ms: measured, the service then did ~3 webhooks/s on 0.2 of
    a core (docs/PERFORMANCE.md §2). With a single connection they queue on the pool instead
    and are woken the moment the connection is free; statements take well under a
    millisecond, so nothing is gained by more connections. ``BEGIN IMMEDIATE`` still matters
    for other processes on the same file (``sms-bridge jobs``, ``audit``): a reader that
    became a writer halfway through would fail with "database is locked" instead of
    waiting on the busy timeout. The code never holds a transaction across a network call,
    and never opens a second connection while holding one (that would wait for the pool
    forever: ``pool_timeout`` turns such a bug into an error).
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"

        async def one_trip_connection() -> Any:
            connection = onetrip.connect(database, timeout=30, check_same_thread=False)
            try:
                return await connection
            except BaseException:
                # aiosqlite stops its thread without waiting for it; should the loop close
                # first (a CLI command ending on this error), the thread's answer lands on a
                # closed loop and prints a traceback of its own.
                await asyncio.to_thread(connection._thread.join, 5)
                raise

        engine = create_async_engine(
            parsed,
            async_creator=one_trip_connection,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_async_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
    _ping_after_idle(engine)
    return engine


async def in_transaction(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``work`` in one transaction, run again once if the connection turned out to be dead
    (the database restarted while it sat in the pool): SQLAlchemy then discards the pool,
    so the second run gets a new connection. ``work`` must be safe to repeat (its rows are
    keyed), which it is when the first run's transaction never committed."""
    try:
        async with engine.begin() as conn:
            return await work(conn)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost; running the transaction again")
    async with engine.begin() as conn:
        return await work(conn)


# A pooled connection unused for this long is checked before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it has been idle, instead of on every
    checkout (``pool_pre_ping``): asyncpg's ping is a transaction, ``;`` and a rollback,
    three round trips that under load cost each shared commit as much as the commit itself
    (py-spy: a third of the writer's time with two replicas). A connection back in use
    within a second is alive in all but the rare case of a database restart in that second;
    then the statement fails, SQLAlchemy discards the whole pool, and the work is run again
    (``in_transaction`` for the shared commits and ``/sms``; jobs are retried, Slack and
    VoIPbin redeliver an event that got an error). Raising
    ``DisconnectionError`` from ``checkout`` makes the pool connect afresh (SQLAlchemy's
    documented pessimistic recipe)."""

    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(_: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection lost: {exc}") from exc


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> tuple[str | None, str]:
    if connection.dialect.name == "postgresql":
        # Two replicas starting together must not both run the same migration.
        connection.execute(text("SELECT pg_advisory_xact_lock(7391202)"))
    config = _alembic_config(connection)
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    assert head is not None
    current = _revision(connection)
    if current is not None and current != head:
        try:
            known = scripts.get_revision(current)
        except Exception:
            known = None
        if known is None:
            raise SchemaError(
                f"the database schema is at revision {current}, which this version of "
                f"sms-bridge does not know (its newest is {head}); the database was upgraded "
                "by a newer sms-bridge. Run that version, or restore a backup."
            )
    if current != head:
        command.upgrade(config, "head")
    return current, head


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _missing_sqlite_file(engine: AsyncEngine) -> str | None:
    """Where a SQLite database that is not there was looked for, or None."""
    database = engine.url.database or ""
    if not is_sqlite(engine) or database in ("", ":memory:"):
        return None
    path = Path(database)
    if path.is_file():
        return None
    if path.is_absolute():
        return str(path)
    return f"{path.resolve()}, relative to the folder {Path.cwd()}"


async def require_database(engine: AsyncEngine, *, tables: bool = True) -> None:
    """Refuse to go on unless the database exists (``sms-bridge jobs``, ``audit`` and
    ``worker`` read and work on the service's database; opening a SQLite path that is not
    there would quietly create an empty one and answer "no jobs"), and with ``tables`` unless
    sms-bridge's schema is in it. The message says where it looked."""
    url = shown_url(engine.url.set(drivername=engine.url.get_backend_name()))
    advice = (
        "run this where `sms-bridge serve` runs, or set DATABASE_URL to the service's "
        "database (`sms-bridge migrate` creates a new one)"
    )
    missing = _missing_sqlite_file(engine)
    if missing is not None:
        raise DatabaseUnavailable(f"no database at {missing} (DATABASE_URL={url}); {advice}")
    if not tables:
        return
    try:
        async with engine.connect() as conn:
            revision = await conn.run_sync(_revision)
    except REACH_ERRORS as exc:
        raise unavailable(engine, exc) from exc
    if revision is None:
        raise DatabaseUnavailable(
            f"the database at DATABASE_URL={url} has no sms-bridge tables; {advice}"
        )


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema up to date; refuse a database newer than this code
    (``SchemaError``) and one that cannot be reached or written (``DatabaseUnavailable``)."""
    try:
        async with engine.begin() as conn:
            before, head = await conn.run_sync(_upgrade)
    except REACH_ERRORS as exc:
        raise unavailable(engine, exc) from exc
    if before != head:
        log.info("database schema upgraded from=%s to=%s", before or "empty", head)
