"""Group commit: requests that only need to record a job share one transaction.

An inbound SMS is answered 200 only once its job is durably in the database. Committing one
transaction per delivery costs more than everything else the request does (on SQLite every
statement also crosses to the driver's thread and back), so concurrent deliveries are written
together: whoever arrives while a batch is being committed waits for the next one, which takes
everyone waiting. Under light load a batch is one row and nothing waits; under a burst the cost
of a commit is shared by the whole batch. No timer is involved, so a lone delivery is never
delayed to fill a batch.

A batch goes to the database driver directly (one INSERT compiled by SQLAlchemy once, run
with the driver's ``executemany`` in a transaction of its own; on SQLite the whole
transaction is one hand-off to the driver's thread): SQLAlchemy's execution layer cost more
per batch than the insert itself (intake ~5,000 -> ~6,000/s, docs/PERFORMANCE.md). The
connection still comes from, and goes back to, SQLAlchemy's pool.

On PostgreSQL two batches may be in flight at once (the second gathers while the first
waits for its WAL flush); on SQLite, with one writer, one.

When a batch fails, its rows are written one by one, so a row the database refuses fails
only its own request (the sender gets an error and retries); the jobs' unique keys make a
retried or redelivered row a no-op, so nothing is written twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.jobs.queue import JOB_ROW_COLUMNS
from bot.store.db import in_transaction
from bot.store.repo import ignore_conflicts
from bot.store.tables import jobs

log = logging.getLogger(__name__)


class JobWriter:
    """Writes job rows (``queue.job_row``) in shared transactions; one per process."""

    def __init__(
        self, engine: AsyncEngine, *, max_batch: int = 500, commits: int | None = None
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        # SQLite has one writer (one connection per process): one commit at a time. A
        # server database takes a second batch while the first waits for its WAL flush.
        self._commits = commits or (1 if engine.dialect.name == "sqlite" else 2)
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # ON CONFLICT DO NOTHING: a job whose key exists (a redelivery) is skipped, not an error.
        # Compiled once, for the driver: its SQL and the order of its parameters.
        self._insert = ignore_conflicts(engine.dialect.name, jobs)
        compiled = self._insert.inline().compile(
            dialect=engine.dialect, column_keys=list(JOB_ROW_COLUMNS)
        )
        self._sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        self._sqlite = engine.dialect.name == "sqlite"
        self.batches = 0  # for tests and benchmarks: how many transactions were used
        self.rows = 0

    async def write(self, row: dict[str, Any]) -> None:
        """Return once ``row`` is committed; raise what the commit raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((row, done))
        if len(self._tasks) < self._commits:
            task = loop.create_task(self._commit_all(), name="job-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # The commit goes on if the caller goes away (a client that hung up): its row is then
        # written anyway, and the sender's retry finds the key taken.
        await asyncio.shield(done)

    async def _commit_all(self) -> None:
        while self._waiting:
            # One turn of the event loop first: requests already read and parsed join this
            # batch instead of waiting for the next commit.
            await asyncio.sleep(0)
            batch = self._waiting[: self._max_batch]
            if not batch:
                break  # the other committer took them
            del self._waiting[: len(batch)]
            try:
                await self._commit(batch)
            except Exception as exc:
                if len(batch) == 1:
                    self._fail(batch, exc)
                    continue
                # One row the database refuses must not fail the others with it (their
                # senders would retry, meet the same row again, and fail forever): each is
                # written alone, and only the row that fails is answered with its error.
                log.warning("job batch of %d not written (%s); writing one by one", len(batch), exc)
                for one in batch:
                    try:
                        await self._commit([one])
                    except Exception as alone:
                        self._fail([one], alone)

    async def _commit(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        # In key order: two batches in flight that share keys (a redelivery racing the first
        # delivery) then take the keys' locks in the same order and cannot deadlock.
        rows = sorted((row for row, _ in batch), key=lambda row: str(row["key"]))
        args = [tuple(row.get(name) for name in self._names) for row in rows]
        try:
            await self._write(args)
        except Exception as exc:
            # Once more through SQLAlchemy, which tells a dead connection (the database
            # restarted while it sat in the pool) from a refused row: for the first it
            # discards the whole pool and runs the transaction again on a new connection.
            log.warning("job batch not written (%s); once more through SQLAlchemy", exc)

            async def insert(conn: AsyncConnection) -> None:
                await conn.execute(self._insert, rows)

            await in_transaction(self._engine, insert)
        self.batches += 1
        self.rows += len(batch)
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _write(self, args: list[tuple[Any, ...]]) -> None:
        async with self._engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                if self._sqlite:
                    await driver.write_many(self._sql, args)
                else:
                    # asyncpg's executemany is atomic on its own: every row's Bind and
                    # Execute, then one Sync, i.e. one implicit transaction in one round
                    # trip; BEGIN and COMMIT around it would be two more.
                    await driver.executemany(self._sql, args)
            except BaseException:
                # Whatever failed, this connection is not reused: a dead one must not go
                # back to the pool, and a live one is cheap to open again.
                await conn.invalidate()
                raise

    @staticmethod
    def _fail(batch: list[tuple[dict[str, Any], asyncio.Future[None]]], exc: Exception) -> None:
        log.warning("job row not written: %s", exc)
        for _, done in batch:
            if not done.done():
                done.set_exception(exc)

    async def aclose(self) -> None:
        """Wait for rows already handed in (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.batches:
            log.info(
                "job writer: %d rows in %d shared commits (%.1f per commit)",
                self.rows,
                self.batches,
                self.rows / self.batches,
            )
