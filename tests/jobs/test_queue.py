"""The job table: order per lane, leases, fencing, dead letters. Real databases, both kinds."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.jobs import queue


async def add(engine: AsyncEngine, key: str, lane: str | None, now: float = 100.0) -> bool:
    async with engine.begin() as conn:
        return await queue.enqueue(
            conn, kind="k", key=key, payload={"key": key}, lane=lane, channel="C1", now=now
        )


async def test_a_key_is_taken_once(engine: AsyncEngine) -> None:
    assert await add(engine, "a", "x")
    assert not await add(engine, "a", "x")


async def test_one_job_per_lane_at_a_time_in_order(engine: AsyncEngine) -> None:
    for key, lane in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("n1", None), ("a3", "a")]:
        await add(engine, key, lane)
    first = await queue.claim(engine, owner="w1", now=101, limit=10, lease_seconds=30)
    assert [j.key for j in first] == ["a1", "b1", "n1"]
    # another worker finds nothing: the heads are running, the rest wait behind them
    assert await queue.claim(engine, owner="w2", now=101, limit=10, lease_seconds=30) == []
    assert await queue.finish(engine, first[0], owner="w1", now=102)
    second = await queue.claim(engine, owner="w2", now=102, limit=10, lease_seconds=30)
    assert [j.key for j in second] == ["a2"]


async def test_a_retried_job_keeps_its_lane_blocked(engine: AsyncEngine) -> None:
    await add(engine, "a1", "a")
    await add(engine, "a2", "a")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    await queue.retry_later(engine, job, owner="w", now=101, run_after=200, error="boom")
    assert await queue.claim(engine, owner="w", now=150, limit=10, lease_seconds=30) == []
    again = await queue.claim(engine, owner="w", now=201, limit=10, lease_seconds=30)
    assert [j.key for j in again] == ["a1"]
    assert again[0].attempts == 2


async def test_an_expired_lease_is_claimed_again_and_the_old_owner_is_fenced(
    engine: AsyncEngine,
) -> None:
    await add(engine, "a1", "a")
    (job,) = await queue.claim(engine, owner="dead", now=101, limit=10, lease_seconds=30)
    assert await queue.claim(engine, owner="w", now=120, limit=10, lease_seconds=30) == []
    (again,) = await queue.claim(engine, owner="w", now=132, limit=10, lease_seconds=30)
    assert again.id == job.id and again.attempts == 2
    # the worker that lost its lease cannot finish, retry or bury the job any more
    assert not await queue.finish(engine, job, owner="dead", now=133)
    assert not await queue.retry_later(
        engine, job, owner="dead", now=133, run_after=200, error="late"
    )
    assert not await queue.bury(engine, job, owner="dead", now=133, error="late")
    assert await queue.finish(engine, again, owner="w", now=133)


async def test_a_renewed_lease_is_not_taken(engine: AsyncEngine) -> None:
    await add(engine, "a1", "a")
    (job,) = await queue.claim(engine, owner="w1", now=101, limit=10, lease_seconds=30)
    await queue.renew(engine, [job.id], owner="w1", now=125, lease_seconds=30)
    assert await queue.claim(engine, owner="w2", now=140, limit=10, lease_seconds=30) == []


async def test_busy_channels_are_skipped(engine: AsyncEngine) -> None:
    await add(engine, "a1", "a")
    assert (
        await queue.claim(
            engine, owner="w", now=101, limit=10, lease_seconds=30, busy_channels=["C1"]
        )
        == []
    )


async def test_dead_jobs_unblock_their_lane_and_can_be_revived(engine: AsyncEngine) -> None:
    await add(engine, "a1", "a")
    await add(engine, "a2", "a")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    assert await queue.bury(engine, job, owner="w", now=102, error="gave up")
    (nxt,) = await queue.claim(engine, owner="w", now=103, limit=10, lease_seconds=30)
    assert nxt.key == "a2"
    dead = await queue.list_jobs(engine, ["dead"])
    assert [(d.key, d.last_error) for d in dead] == [("a1", "gave up")]
    assert await queue.revive(engine, job.id, now=104)
    assert not await queue.revive(engine, job.id, now=104)
    assert (await queue.depth(engine))["pending"] == 1


async def test_release_hands_jobs_back_at_once(engine: AsyncEngine) -> None:
    await add(engine, "a1", "a")
    (job,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    await queue.release(engine, [job.id], owner="w", now=102)
    (again,) = await queue.claim(engine, owner="w2", now=102, limit=10, lease_seconds=30)
    assert again.id == job.id
    assert again.attempts == 2  # it may have done part of its work: reconcile first


async def test_pruning_forgets_old_finished_jobs_only(engine: AsyncEngine) -> None:
    for key in ("old-done", "new-done", "old-pending", "old-dead"):
        await add(engine, key, None)
    claimed = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    by_key = {job.key: job for job in claimed}
    assert await queue.finish(engine, by_key["old-done"], owner="w", now=110)
    assert await queue.bury(engine, by_key["old-dead"], owner="w", now=110, error="gave up")
    await queue.release(engine, [by_key["old-pending"].id], owner="w", now=110)
    assert await queue.finish(engine, by_key["new-done"], owner="w", now=300)

    assert await queue.prune_done(engine, before=200) == 1
    # the old finished job's key is free again; every other job still holds its key
    assert await add(engine, "old-done", None, now=400)
    for key in ("new-done", "old-pending", "old-dead"):
        assert not await add(engine, key, None, now=400), key
    assert [j.key for j in await queue.list_jobs(engine, ["dead"])] == ["old-dead"]


async def test_depth_counts_due_jobs_as_pending_and_later_ones_as_scheduled(
    engine: AsyncEngine,
) -> None:
    await add(engine, "running", None)
    (_running,) = await queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30)
    await add(engine, "due-now", None, now=150)
    async with engine.begin() as conn:
        await queue.enqueue(
            conn, kind="k", key="later", payload={}, lane=None, channel="C1", now=150, run_after=151
        )
    assert await queue.depth(engine, now=150) == {"running": 1, "pending": 1, "scheduled": 1}
    assert await queue.depth(engine) == {"running": 1, "pending": 2}


async def test_the_oldest_pending_job_is_reported_and_none_when_there_is_none(
    engine: AsyncEngine,
) -> None:
    assert await queue.oldest_pending(engine) is None
    await add(engine, "a1", None, now=120.5)
    await add(engine, "a2", None, now=130)
    assert await queue.oldest_pending(engine) == 120.5


async def test_a_claim_skips_a_job_another_worker_holds_instead_of_waiting(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: nothing to skip")
    await add(engine, "a1", None)
    await add(engine, "a2", None)
    async with engine.connect() as other:
        # another worker's claim, between its SELECT ... FOR UPDATE and its commit
        await other.execute(text("SELECT id FROM jobs WHERE key = 'a1' FOR UPDATE"))
        claimed = await asyncio.wait_for(
            queue.claim(engine, owner="w", now=101, limit=10, lease_seconds=30), timeout=10
        )
        assert [j.key for j in claimed] == ["a2"]
        await other.rollback()


async def test_a_renewed_lease_runs_out_a_lease_after_the_renewal(engine: AsyncEngine) -> None:
    await add(engine, "a1", "a")
    (job,) = await queue.claim(engine, owner="w1", now=101, limit=10, lease_seconds=30)
    await queue.renew(engine, [job.id], owner="w1", now=125, lease_seconds=30)  # until 155
    # another worker cannot renew a lease it does not hold
    await queue.renew(engine, [job.id], owner="w2", now=140, lease_seconds=30)
    assert await queue.claim(engine, owner="w2", now=150, limit=10, lease_seconds=30) == []
    (again,) = await queue.claim(engine, owner="w2", now=156, limit=10, lease_seconds=30)
    assert again.id == job.id
