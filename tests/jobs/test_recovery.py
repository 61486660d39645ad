"""Recovery in seconds (issue 15): a job whose end could not be written because the database
went away is taken again within seconds of the database's return, not when its lease runs
out, and the next attempt knows it is one (so it looks for work already done). A private
PostgreSQL server is stopped and started; the shared one is never touched."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from bot.config import JobsConfig
from bot.jobs import queue
from bot.jobs.queue import Job
from bot.jobs.runner import JobRunner
from bot.store.db import create_engine, migrate
from bot.store.tables import jobs

from harness import wait_until
from pgserver import private_postgres

pytestmark = pytest.mark.slow


async def test_a_job_cut_off_by_a_database_outage_is_taken_again_within_seconds() -> None:
    with private_postgres() as pg:
        engine = create_engine(pg.url)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                await queue.enqueue(conn, kind="k", key="one", payload={}, now=time.time())
            attempts: list[tuple[int, float]] = []
            working = asyncio.Event()

            async def handler(job: Job) -> None:
                attempts.append((job.attempts, time.monotonic()))
                if len(attempts) == 1:
                    await working.wait()  # the database goes away while the job works

            # A lease far longer than the test may take: only a hand-back makes it in time.
            config = JobsConfig(lease_seconds=120, poll_interval_seconds=0.1)
            runner = JobRunner(engine=engine, handlers={"k": handler}, config=config)
            runner.start()
            try:
                await wait_until(lambda: len(attempts) == 1)
                await asyncio.to_thread(pg.stop)
                working.set()  # done, but its end cannot be written
                await wait_until(lambda: runner.inflight == 0)
                await asyncio.to_thread(pg.start)
                back = time.monotonic()
                await wait_until(lambda: len(attempts) == 2, timeout=15)
                assert attempts[1][1] - back < 5, "taken again more than 5 s after the return"
                assert attempts[1][0] == 2, "the second attempt must know it is one"

                async def state() -> str:
                    async with engine.connect() as conn:
                        found = (await conn.execute(select(jobs.c.state))).scalar_one()
                        return str(found)

                for _ in range(100):
                    if await state() == "done":
                        break
                    await asyncio.sleep(0.05)
                assert await state() == "done"
                assert len(attempts) == 2
            finally:
                await runner.stop(grace=1)
        finally:
            await engine.dispose()
