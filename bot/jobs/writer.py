"""Group commit: requests that only need to record a job share one transaction.

An inbound SMS is answered 200 only once its job is durably in the database. Committing one
transaction per delivery costs more than everything else the request does (on SQLite every
statement also crosses to the driver's thread and back), so concurrent deliveries are written
together: whoever arrives while a batch is being committed waits for the next one, which takes
everyone waiting. Under light load a batch is one row and nothing waits; under a burst the cost
of a commit is shared by the whole batch. No timer is involved, so a lone delivery is never
delayed to fill a batch.

A batch is one ``store.bulk.insert_ignoring_conflicts``: one transaction of its own at the
database driver's speed (which driver runs underneath is that function's business).

On PostgreSQL two batches may be in flight at once (the second gathers while the first
waits for its WAL flush); on SQLite, with one writer, one.

When a batch fails, its rows are written one by one, so a row the database refuses fails
only its own request (the sender gets an error and retries); the jobs' unique keys make a
retried or redelivered row a no-op, so nothing is written twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.jobs.queue import JOB_ROW_COLUMNS
from bot.store.bulk import insert_ignoring_conflicts
from bot.store.db import is_sqlite
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
        self._commits = commits or (1 if is_sqlite(engine) else 2)
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
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
        try:
            await self._commit_waiting()
        finally:
            # Here, with no await since the loop last found nothing waiting: a write that
            # comes after this starts a committer of its own. Left to the task's done callback
            # (a turn of the event loop later), a write made in between (a request woken in
            # the same turn) found this committer still counted, started none, and waited for
            # ever.
            self._tasks.discard(cast("asyncio.Task[None]", asyncio.current_task()))

    async def _commit_waiting(self) -> None:
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
        # ON CONFLICT DO NOTHING: a job whose key exists (a redelivery) is skipped, not an error.
        await insert_ignoring_conflicts(self._engine, jobs, JOB_ROW_COLUMNS, rows)
        self.batches += 1
        self.rows += len(batch)
        for _, done in batch:
            if not done.done():
                done.set_result(None)

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
