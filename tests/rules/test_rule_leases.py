"""The job queue's lease: only the attempt that holds a running job may end it, once, and a
job that runs long keeps its lease while it runs.

Both halves guard "nothing is done twice": a finished or dead job brought back by a stale
attempt runs again (a second SMS), a dead job buried twice alerts twice, and a lease that
lapses under a job still running lets another worker take the job and run it beside it.
Real databases, both kinds; the runner is the real one, with its clock in the test's hands.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import JobsConfig
from bot.jobs import queue
from bot.jobs.queue import Job
from bot.jobs.runner import JobRunner
from bot.store.tables import jobs


async def add(engine: AsyncEngine, key: str, now: float = 100.0) -> None:
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="k", key=key, payload={}, lane="a", now=now)


async def row(engine: AsyncEngine) -> dict[str, object]:
    async with engine.connect() as conn:
        found = (await conn.execute(select(jobs))).mappings().one()
        return dict(found)


# -- the fence ---------------------------------------------------------------------------


async def test_a_finished_job_cannot_be_retried_or_buried_by_its_owner(engine: AsyncEngine) -> None:
    await add(engine, "a1")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    assert await queue.finish(engine, job, owner="w", now=102)
    # a late second outcome of the same attempt (a retried bookkeeping call, a bug)
    assert not await queue.retry_later(engine, job, owner="w", now=103, run_after=104, error="x")
    assert not await queue.bury(engine, job, owner="w", now=103, error="x")
    assert not await queue.finish(engine, job, owner="w", now=103)
    assert (await row(engine))["state"] == "done"
    # nothing brings it back to be run again
    assert await queue.claim(engine, owner="w2", now=500, limit=10, lease_seconds=30) == []


async def test_a_dead_job_stays_dead_and_alerts_once(engine: AsyncEngine) -> None:
    await add(engine, "a1")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    alerts: list[str] = []

    async def alert(conn: AsyncConnection) -> None:
        alerts.append("gave up")

    assert await queue.bury(engine, job, owner="w", now=102, error="gave up", also=alert)
    assert not await queue.bury(engine, job, owner="w", now=103, error="again", also=alert)
    assert not await queue.finish(engine, job, owner="w", now=103)
    assert not await queue.retry_later(engine, job, owner="w", now=103, run_after=104, error="x")
    assert alerts == ["gave up"]
    dead = await row(engine)
    assert (dead["state"], dead["last_error"]) == ("dead", "gave up")
    assert await queue.claim(engine, owner="w2", now=500, limit=10, lease_seconds=30) == []


async def test_a_job_handed_back_cannot_be_finished_by_the_attempt_that_had_it(
    engine: AsyncEngine,
) -> None:
    await add(engine, "a1")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    assert await queue.retry_later(engine, job, owner="w", now=102, run_after=110, error="later")
    assert not await queue.finish(engine, job, owner="w", now=103)
    assert not await queue.bury(engine, job, owner="w", now=103, error="x")
    assert (await row(engine))["state"] == "pending"
    (again,) = await queue.claim(engine, owner="w", now=111, limit=10, lease_seconds=30)
    assert again.attempts == 2


# -- renewal -----------------------------------------------------------------------------


async def test_a_long_running_job_keeps_its_lease(engine: AsyncEngine) -> None:
    """A job that runs for longer than its lease is not taken by another worker meanwhile."""
    clock = [1000.0]
    lease = 5  # the smallest allowed; the runner renews every lease/3 s
    await add(engine, "slow", now=999.0)
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def slow(job: Job) -> None:
        runs.append(job.attempts)
        started.set()
        await asyncio.wait_for(release.wait(), timeout=30)

    runner = JobRunner(
        engine=engine,
        handlers={"k": slow},
        config=JobsConfig(lease_seconds=lease, poll_interval_seconds=0.02),
        clock=lambda: clock[0],
    )
    runner.start()
    try:
        await asyncio.wait_for(started.wait(), timeout=10)
        # Time goes on in steps shorter than the lease, past the lease it was claimed with
        # (1005): after each step the lease must be renewed from the new time, and within a
        # lease's time (a renewal that comes later than that lets the lease lapse first).
        for _ in range(2):
            clock[0] += lease - 1
            deadline = time.monotonic() + lease
            while float((await row(engine))["lease_until"] or 0) <= clock[0] + 1:
                assert time.monotonic() < deadline, "the running job's lease was not renewed"
                await asyncio.sleep(0.05)
        assert clock[0] > 1000.0 + lease
        taken = await queue.claim(engine, owner="other", now=clock[0], limit=10, lease_seconds=5)
        assert taken == []
        release.set()
        deadline = time.monotonic() + 10
        while (await row(engine))["state"] != "done":
            assert time.monotonic() < deadline, "the job did not finish"
            await asyncio.sleep(0.02)
    finally:
        release.set()
        await runner.stop(grace=5)
    assert runs == [1]


# -- attempts and lanes --------------------------------------------------------------------


async def test_a_wait_that_is_not_a_failure_does_not_use_an_attempt(engine: AsyncEngine) -> None:
    """A rate limit's wait (``count_attempt=False``) hands the job back with the attempts it
    had before it was claimed, so waits never bring it nearer to giving up."""
    await add(engine, "a1")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    assert job.attempts == 1
    assert await queue.retry_later(
        engine, job, owner="w", now=102, run_after=103, error="429", count_attempt=False
    )
    (again,) = await queue.claim(engine, owner="w", now=104, limit=10, lease_seconds=30)
    assert again.attempts == 1
    assert await queue.retry_later(engine, again, owner="w", now=105, run_after=106, error="500")
    (third,) = await queue.claim(engine, owner="w", now=107, limit=10, lease_seconds=30)
    assert third.attempts == 2


async def test_jobs_without_a_lane_are_all_claimed_together(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for key in ("n1", "n2", "n3"):
            await queue.enqueue(conn, kind="k", key=key, payload={}, now=100.0)
    claimed = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    assert [j.key for j in claimed] == ["n1", "n2", "n3"]


async def test_a_revived_dead_job_starts_again_from_its_first_attempt(engine: AsyncEngine) -> None:
    """``sms-bridge jobs retry``: the job gets all its attempts again, and its first attempt
    is a first one (a later attempt looks for the earlier one's Slack post first)."""
    await add(engine, "a1")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    assert await queue.bury(engine, job, owner="w", now=102, error="gave up")
    assert await queue.revive(engine, job.id, now=200)
    (again,) = await queue.claim(engine, owner="w", now=201, limit=10, lease_seconds=30)
    assert again.attempts == 1
