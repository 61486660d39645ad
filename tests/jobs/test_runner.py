"""The runner: what it does with each outcome of a job (done, retried after a backoff or
after the time asked, waiting without using an attempt, buried with its alert), giving up by
age as well as by attempts, stopping within its grace, the per-channel limit, and the sweep
of old keys. What is asserted is the job's row, the alert handed to ``on_dead`` and the
outcomes reported to the metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import JobsConfig
from bot.jobs import queue
from bot.jobs.queue import Job
from bot.jobs.runner import GiveUp, JobRunner, RetryLater, backoff
from bot.store import seen_events
from bot.store.tables import jobs

from harness import wait_until


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


# -- what the runner does with each outcome of a handler ------------------------------------
# The clock is the test's (it stands still unless moved), so a job handed back for later
# stays pending, and its row says when it runs again.

T0 = 10_000.0


class Ran:
    """A runner over one handler, recording what it reports (the job metrics) and what it
    buries (the alert written with the dead row)."""

    def __init__(
        self,
        engine: AsyncEngine,
        handler: Callable[[Job], Awaitable[None]],
        config: JobsConfig,
        clock: list[float] | None = None,
        **extra: Any,
    ) -> None:
        self.clock = clock if clock is not None else [T0]
        self.observed: list[str] = []
        self.deaths: list[str] = []

        async def on_dead(conn: AsyncConnection, job: Job, reason: str) -> None:
            self.deaths.append(reason)

        self.runner = JobRunner(
            engine=engine,
            handlers={"k": handler},
            config=config,
            on_dead=on_dead,
            clock=lambda: self.clock[0],
            observe=lambda kind, outcome: self.observed.append(outcome),
            **extra,
        )


async def rows(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        found = (await conn.execute(select(jobs))).mappings().all()
    return {row["key"]: dict(row) for row in found}


async def until(
    engine: AsyncEngine, key: str, ready: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    """The job's row once ``ready`` holds for it (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        row = (await rows(engine)).get(key)
        if row is not None and ready(row):
            return row
        assert time.monotonic() < deadline, f"job {key!r} never got there: {row}"
        await asyncio.sleep(0.02)


async def add(engine: AsyncEngine, key: str, *, now: float = T0, **extra: Any) -> None:
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="k", key=key, payload={}, now=now, **extra)


FAST = {"poll_interval_seconds": 0.02}


async def test_a_job_that_can_never_succeed_dies_at_its_first_attempt_and_alerts_once(
    engine: AsyncEngine,
) -> None:
    calls: list[int] = []

    async def blocked(job: Job) -> None:
        calls.append(job.attempts)
        raise GiveUp("the number is not ours")

    await add(engine, "j")
    ran = Ran(engine, blocked, JobsConfig(max_attempts=5, **FAST))
    ran.runner.start()
    try:
        dead = await until(engine, "j", lambda r: r["state"] == "dead")
    finally:
        await ran.runner.stop(grace=1)
    assert (dead["attempts"], dead["last_error"]) == (1, "the number is not ours")
    assert calls == [1]
    assert ran.deaths == ["the number is not ours"]
    assert ran.observed == ["dead"]


async def test_a_job_of_a_kind_nobody_handles_is_buried_with_the_reason(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="gone", key="j", payload={}, now=T0)

    async def never(job: Job) -> None:
        raise AssertionError("not this handler")

    ran = Ran(engine, never, JobsConfig(**FAST))
    ran.runner.start()
    try:
        dead = await until(engine, "j", lambda r: r["state"] == "dead")
    finally:
        await ran.runner.stop(grace=1)
    assert dead["last_error"] == "no handler for job kind 'gone'"
    assert ran.deaths == ["no handler for job kind 'gone'"]


async def test_a_failing_job_is_tried_again_after_a_backoff_that_grows(
    engine: AsyncEngine,
) -> None:
    """The error is kept on the row; attempt n waits between base/2 and base * 2**n."""
    calls: list[int] = []

    async def failing(job: Job) -> None:
        calls.append(job.attempts)
        raise ValueError("upstream said no")

    await add(engine, "j")
    config = JobsConfig(max_attempts=5, backoff_base_seconds=10, backoff_max_seconds=10_000, **FAST)
    ran = Ran(engine, failing, config)
    ran.runner.start()
    try:
        first = await until(engine, "j", lambda r: r["state"] == "pending" and r["attempts"] == 1)
        assert first["last_error"] == "ValueError: upstream said no"
        assert T0 + 5 <= first["run_after"] <= T0 + 20
        assert calls == [1], "taken again before its backoff"
        ran.clock[0] = first["run_after"]
        ran.runner.wake()
        second = await until(engine, "j", lambda r: r["state"] == "pending" and r["attempts"] == 2)
        assert ran.clock[0] + 5 <= second["run_after"] <= ran.clock[0] + 40
    finally:
        await ran.runner.stop(grace=1)
    assert calls == [1, 2]
    assert ran.observed == ["retry", "retry"]
    assert ran.deaths == []


async def test_a_retry_after_a_given_time_waits_exactly_that_long(engine: AsyncEngine) -> None:
    """``RetryLater(after=...)`` (a Retry-After header) replaces the backoff."""

    async def later(job: Job) -> None:
        raise RetryLater("slack asked us to wait", after=30)

    await add(engine, "j")
    config = JobsConfig(backoff_base_seconds=1000, backoff_max_seconds=1000, **FAST)
    ran = Ran(engine, later, config)
    ran.runner.start()
    try:
        row = await until(engine, "j", lambda r: r["state"] == "pending" and r["attempts"] == 1)
    finally:
        await ran.runner.stop(grace=1)
    assert (row["run_after"], row["last_error"]) == (T0 + 30, "slack asked us to wait")
    assert ran.observed == ["retry"]


async def test_waits_for_a_rate_limit_never_use_up_the_attempts(engine: AsyncEngine) -> None:
    """With one attempt allowed, a job that first waits three times for a rate limit
    (``count_attempt=False``) still runs, and dies of nothing."""
    calls: list[int] = []

    async def paced(job: Job) -> None:
        calls.append(job.attempts)
        if len(calls) <= 3:
            raise RetryLater("429", after=0, count_attempt=False)

    await add(engine, "j")
    ran = Ran(engine, paced, JobsConfig(max_attempts=1, **FAST))
    ran.runner.start()
    try:
        done = await until(engine, "j", lambda r: r["state"] in ("done", "dead"))
    finally:
        await ran.runner.stop(grace=1)
    assert done["state"] == "done", done["last_error"]
    assert calls == [1, 1, 1, 1]
    assert ran.observed == ["wait", "wait", "wait", "done"]
    assert ran.deaths == []


def test_backoff_spreads_retries_between_half_the_base_and_the_growing_cap() -> None:
    for attempt, top in ((1, 2.0), (2, 4.0), (3, 8.0), (6, 20.0)):
        delays = [backoff(attempt, base=1.0, cap=20.0) for _ in range(2000)]
        assert 0.5 <= min(delays) < 0.5 + 0.05 * (top - 0.5), (attempt, min(delays))
        assert top - 0.05 * (top - 0.5) < max(delays) <= top, (attempt, max(delays))


# -- stopping ------------------------------------------------------------------------------


async def test_stop_waits_the_grace_it_is_given_then_hands_the_rest_back_to_settle(
    engine: AsyncEngine,
) -> None:
    """A job that ends within the grace is done; one that does not is cancelled and handed
    back, to be taken again once a call it was making has had time to land."""
    finishing = asyncio.Event()
    started: list[str] = []

    async def work(job: Job) -> None:
        started.append(job.key)
        if job.key == "quick":
            await finishing.wait()
        else:
            await asyncio.Event().wait()  # never ends by itself

    await add(engine, "quick", lane="a")
    await add(engine, "stuck", lane="b")
    config = JobsConfig(shutdown_grace_seconds=60, **FAST)
    ran = Ran(engine, work, config, settle_seconds=7)
    ran.runner.start()
    await wait_until(lambda: len(started) == 2)
    stopping = asyncio.create_task(ran.runner.stop(grace=1))
    finishing.set()
    began = time.monotonic()
    await asyncio.wait_for(stopping, timeout=10)
    assert time.monotonic() - began < 5, "stop did not keep to the grace it was given"
    found = await rows(engine)
    assert found["quick"]["state"] == "done"
    stuck = found["stuck"]
    assert (stuck["state"], stuck["lease_owner"], stuck["attempts"]) == ("pending", None, 1)
    assert stuck["run_after"] == T0 + 7


# -- lanes by channel -----------------------------------------------------------------------


async def test_at_most_the_channel_limit_of_one_channels_jobs_run_at_once(
    engine: AsyncEngine,
) -> None:
    release: dict[str, asyncio.Event] = {}
    running: list[str] = []

    async def work(job: Job) -> None:
        running.append(job.key)
        release[job.key] = asyncio.Event()
        await release[job.key].wait()
        running.remove(job.key)

    ran = Ran(engine, work, JobsConfig(**FAST), per_channel_limit=2)
    ran.runner.start()
    try:
        await add(engine, "c1-a", lane="1", channel="C1")
        ran.runner.wake()
        await wait_until(lambda: running == ["c1-a"])
        await add(engine, "c1-b", lane="2", channel="C1")  # a second one joins the first
        ran.runner.wake()
        await wait_until(lambda: sorted(running) == ["c1-a", "c1-b"])
        await add(engine, "c1-c", lane="3", channel="C1")
        await add(engine, "c2-a", lane="4", channel="C2")
        ran.runner.wake()
        await wait_until(lambda: "c2-a" in running)
        assert sorted(running) == ["c1-a", "c1-b", "c2-a"], "a third job of C1 ran"
        release["c1-a"].set()
        await wait_until(lambda: "c1-c" in running)
        for event in list(release.values()):
            event.set()
        await wait_until(lambda: running == [])
    finally:
        for event in list(release.values()):
            event.set()
        await ran.runner.stop(grace=1)


# -- maintenance ---------------------------------------------------------------------------


async def test_old_delivery_keys_and_finished_jobs_are_forgotten_every_few_minutes(
    engine: AsyncEngine,
) -> None:
    """Older than ``seen_events_ttl_seconds``: forgotten; younger: kept. The sweep runs at
    start and then once every five minutes, not on every look for work."""
    ttl = 3600
    old, fresh = T0 - ttl - 10, T0 - 10

    async def done_job(key: str, at: float) -> None:
        # Written finished in one transaction: the runner, once started, never sees it
        # pending (it would take it, and by its clock the test's own lease has run out).
        async with engine.begin() as conn:
            await queue.enqueue(conn, kind="k", key=key, payload={}, now=at)
            await conn.execute(
                update(jobs).where(jobs.c.key == key).values(state=queue.DONE, updated_at=at)
            )

    await done_job("old", old)
    await done_job("fresh", fresh)
    async with engine.begin() as conn:
        assert await seen_events.first_seen(conn, "voipbin:old", old)
        assert await seen_events.first_seen(conn, "voipbin:fresh", fresh)

    ran_keys: list[str] = []

    async def work(job: Job) -> None:
        ran_keys.append(job.key)

    ran = Ran(engine, work, JobsConfig(seen_events_ttl_seconds=ttl, **FAST))
    ran.runner.start()
    try:
        deadline = time.monotonic() + 10
        while "old" in await rows(engine):
            assert time.monotonic() < deadline, "the old finished job was never pruned"
            await asyncio.sleep(0.02)
        assert "fresh" in await rows(engine)
        async with engine.connect() as conn:
            assert not await seen_events.was_seen(conn, "voipbin:old")
            assert await seen_events.was_seen(conn, "voipbin:fresh")

        # Four minutes on, a job grown old meanwhile is still there after a round of work...
        ran.clock[0] = T0 + 240
        await done_job("later", T0 + 240 - ttl - 10)
        await add(engine, "run", now=T0 + 240)
        ran.runner.wake()
        await until(engine, "run", lambda r: r["state"] == "done")
        await add(engine, "run2", now=T0 + 240)  # claimed in a round after the first's sweep
        ran.runner.wake()
        await until(engine, "run2", lambda r: r["state"] == "done")
        assert "later" in await rows(engine)
        # ...and gone after the fifth minute.
        ran.clock[0] = T0 + 301
        ran.runner.wake()
        deadline = time.monotonic() + 10
        while "later" in await rows(engine):
            assert time.monotonic() < deadline, "not pruned five minutes after the last sweep"
            await asyncio.sleep(0.02)
    finally:
        await ran.runner.stop(grace=1)


# -- the database failing the runner ----------------------------------------------------------
# A trigger makes the database refuse one kind of write, as a full disk or a dropped
# connection would, while every other statement goes through.


async def refuse(engine: AsyncEngine, name: str, when_sqlite: str, when_pg: str) -> None:
    """Make the database refuse an UPDATE of a job matching the condition (OLD / NEW)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE UPDATE ON jobs WHEN {when_sqlite} "
                    "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
                )
            )
        else:
            await conn.execute(
                text(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF {when_pg} THEN RAISE EXCEPTION 'the disk is full'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            await conn.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE UPDATE ON jobs FOR EACH ROW "
                    f"EXECUTE FUNCTION {name}()"
                )
            )


async def allow(engine: AsyncEngine, name: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(f"DROP TRIGGER {name}" + ("" if conn.dialect.name == "sqlite" else " ON jobs"))
        )


async def test_a_job_whose_end_was_not_written_is_handed_back_at_once_not_at_its_lease(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """The first attempt's work is done but its end cannot be written; the claims go on
    working. The job is handed back by the next round (and said so in the log) and its
    second attempt, which knows it is one, finishes it, long before its lease would run
    out."""
    calls: list[int] = []

    async def work(job: Job) -> None:
        calls.append(job.attempts)

    condition = "NEW.state = 'done' AND OLD.attempts = 1"
    await refuse(engine, "refuse_first_end", condition, condition)
    await add(engine, "j")
    ran = Ran(engine, work, JobsConfig(lease_seconds=600, **FAST))
    with caplog.at_level(logging.WARNING, logger="bot.jobs.runner"):
        ran.runner.start()
        try:
            done = await until(engine, "j", lambda r: r["state"] == "done")
        finally:
            await ran.runner.stop(grace=1)
    assert (calls, done["attempts"]) == ([1, 2], 2)
    assert "handed back jobs left after a database failure count=1" in caplog.text


async def test_a_lease_renewal_the_database_refused_is_made_again(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """One refused renewal does not end the renewing: the next one keeps the lease."""
    clock = [T0]
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.wait_for(release.wait(), timeout=30)

    renewal = (
        "OLD.state = 'running' AND NEW.state = 'running' AND NEW.lease_until > OLD.lease_until"
    )
    await add(engine, "j")
    ran = Ran(engine, slow, JobsConfig(lease_seconds=5, **FAST), clock=clock)
    with caplog.at_level(logging.ERROR, logger="bot.jobs.runner"):
        ran.runner.start()
        try:
            await asyncio.wait_for(started.wait(), timeout=10)
            await refuse(engine, "refuse_renewal", renewal, renewal)
            clock[0] += 4
            await wait_until(lambda: "lease renewal failed" in caplog.text)
            await allow(engine, "refuse_renewal")
            await until(engine, "j", lambda r: r["lease_until"] >= clock[0] + 5)
            release.set()
            await until(engine, "j", lambda r: r["state"] == "done")
        finally:
            release.set()
            await ran.runner.stop(grace=5)


async def test_an_idle_runner_looks_for_work_once_a_poll_unless_woken(engine: AsyncEngine) -> None:
    """Idle, the runner asks the database for work once per ``poll_interval_seconds`` (here
    a minute) or when woken, never in a loop that keeps the database and the CPU busy."""
    looks: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            looks.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        ran = Ran(engine, lambda job: asyncio.sleep(0), JobsConfig(poll_interval_seconds=60))
        ran.runner.start()
        try:
            await wait_until(lambda: len(looks) >= 1)
            await asyncio.sleep(0.5)  # a window to count in: nothing is expected to happen
            assert len(looks) == 1, f"{len(looks)} looks for work in half a second"
            ran.runner.wake()
            await wait_until(lambda: len(looks) >= 2)
        finally:
            await ran.runner.stop(grace=1)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_claim_the_database_fails_is_tried_again_a_poll_later_not_at_once(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """While the database fails every look for work, the runner tries once per poll (here a
    minute) or when woken, and logs each failure once: no loop hammering a database that is
    down, and no flood of the same error in the log."""

    def failures() -> int:
        return sum(r.getMessage() == "job claim failed; retrying" for r in caplog.records)

    ran = Ran(engine, lambda job: asyncio.sleep(0), JobsConfig(poll_interval_seconds=60))
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE jobs RENAME TO jobs_away"))
    try:
        with caplog.at_level(logging.ERROR, logger="bot.jobs.runner"):
            ran.runner.start()
            try:
                await wait_until(lambda: failures() >= 1)
                await asyncio.sleep(0.5)  # a window to count in: nothing is expected to happen
                assert failures() == 1
                ran.runner.wake()
                await wait_until(lambda: failures() >= 2)
            finally:
                await ran.runner.stop(grace=1)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE jobs_away RENAME TO jobs"))


async def test_a_job_whose_attempts_were_used_up_by_crashes_gives_up_at_its_next_wait(
    engine: AsyncEngine,
) -> None:
    """Attempts are counted when a job is claimed, so an attempt cut off by a crash counts.
    A job claimed for the third time with two attempts allowed (two workers died holding
    it) gives up even when what it meets is a rate limit: waits do not count, but they do
    not give back the attempts already used either."""
    await add(engine, "j", lane="a")
    for n in range(2):  # two workers take it and die (their leases run out)
        await queue.claim(engine, owner=f"dead-{n}", now=T0 + 100 * n, limit=1, lease_seconds=30)

    async def paced(job: Job) -> None:
        raise RetryLater("429", after=0, count_attempt=False)

    ran = Ran(engine, paced, JobsConfig(max_attempts=2, **FAST), clock=[T0 + 300])
    ran.runner.start()
    try:
        dead = await until(engine, "j", lambda r: r["state"] == "dead", timeout=10)
    finally:
        await ran.runner.stop(grace=1)
    assert dead["attempts"] == 3
    assert ran.deaths == ["429 (gave up: too many attempts, 2 attempts)"]


async def test_a_running_jobs_lease_is_renewed_every_third_of_its_length(
    engine: AsyncEngine,
) -> None:
    """On the wall clock: a lease of 12 s is renewed every 4 s, so one renewal that fails
    (or a slow database) still leaves the lease time to be renewed before it runs out."""
    lease = 12
    await add(engine, "slow", now=time.time())
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.wait_for(release.wait(), timeout=60)

    runner = JobRunner(
        engine=engine,
        handlers={"k": slow},
        config=JobsConfig(lease_seconds=lease, **FAST),
    )
    runner.start()
    try:
        await asyncio.wait_for(started.wait(), timeout=10)
        last = (await rows(engine))["slow"]["lease_until"]
        since = time.monotonic()
        renewals = 0
        while renewals < 2:
            now = (await rows(engine))["slow"]["lease_until"]
            if now != last:
                renewals, last, since = renewals + 1, now, time.monotonic()
            waited = time.monotonic() - since
            assert waited < lease / 3 + 1.5, f"no renewal for {waited:.1f} s of a {lease} s lease"
            await asyncio.sleep(0.05)
    finally:
        release.set()
        await runner.stop(grace=5)
