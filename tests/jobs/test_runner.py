"""The runner: gives up by age as well as by attempts, and leaves a dead row with the alert."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import JobsConfig
from bot.jobs import queue
from bot.jobs.queue import Job
from bot.jobs.runner import JobRunner, RetryLater


async def run_until_dead(
    engine: AsyncEngine, config: JobsConfig, clock: float | None = None
) -> list[str]:
    deaths: list[str] = []
    calls = 0

    async def failing(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise RetryLater("upstream is down")

    async def on_dead(conn: AsyncConnection, job: Job, reason: str) -> None:
        deaths.append(reason)

    runner = JobRunner(
        engine=engine,
        handlers={"k": failing},
        config=config,
        on_dead=on_dead,
        clock=time.time if clock is None else (lambda: clock),
    )
    runner.start()
    try:
        for _ in range(500):
            if (await queue.list_jobs(engine, ["dead"])) and deaths:
                break
            runner.wake()
            await asyncio.sleep(0.02)
    finally:
        await runner.stop(grace=1)
    return deaths


async def test_a_job_older_than_the_age_limit_gives_up(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="k", key="old", payload={}, now=1000.0)
    config = JobsConfig(max_attempts=100, max_age_seconds=60, poll_interval_seconds=0.01)
    deaths = await run_until_dead(engine, config, clock=1000.0 + 61)
    assert len(deaths) == 1 and "too old" in deaths[0]


async def test_a_job_gives_up_after_its_attempts(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="k", key="many", payload={}, now=time.time())
    config = JobsConfig(
        max_attempts=3,
        poll_interval_seconds=0.01,
        backoff_base_seconds=0.0001,
        backoff_max_seconds=0.0001,
    )
    deaths = await run_until_dead(engine, config)
    assert len(deaths) == 1 and "3 attempts" in deaths[0]
    (dead,) = await queue.list_jobs(engine, ["dead"])
    assert dead.attempts == 3 and "upstream is down" in (dead.last_error or "")
