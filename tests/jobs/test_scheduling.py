"""How the runner shares the process with requests and with Slack's pacing, the shared
transactions of JobWriter, and the wait before a handed-back job is taken again."""

from __future__ import annotations

import asyncio
import itertools
import logging
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import JobsConfig
from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.jobs import queue
from bot.jobs import writer as writer_module
from bot.jobs.pressure import BackPressure
from bot.jobs.queue import Job, job_row
from bot.jobs.runner import JobRunner
from bot.jobs.writer import JobWriter
from bot.store.db import create_engine
from bot.store.tables import jobs

from harness import serve, wait_until


async def _enqueue(
    engine: AsyncEngine, count: int, *, kind: str = "k", channel: str | None = None
) -> None:
    async with engine.begin() as conn:
        for n in range(count):
            await queue.enqueue(
                conn,
                kind=kind,
                key=f"{kind}-{n}",
                payload={},
                lane=f"{kind}-lane-{n}",
                channel=channel,
                now=time.time(),
            )


async def test_the_front_door_counts_slack_and_voipbin_requests_for_the_runner(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """Webhooks whose bodies are still arriving are requests in flight: four of them press
    the runner's BackPressure, and once they are answered the pressure is off again (after
    its hold)."""
    arrive = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"{"
        await arrive.wait()
        yield b"}"

    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        pressure: BackPressure = service.app.state.components.pressure
        webhooks = [
            asyncio.create_task(service.http.post("/voipbin/webhook", content=slow_body()))
            for _ in range(BackPressure.PRESSURE)
        ]
        await wait_until(lambda: pressure.requests == BackPressure.PRESSURE)
        assert pressure.pressed()
        arrive.set()
        answers = await asyncio.gather(*webhooks)
        assert all(answer.status_code < 500 for answer in answers)
        assert pressure.requests == 0
        await wait_until(lambda: not pressure.pressed())


async def test_under_pressure_jobs_run_one_at_a_time_and_take_their_share_only(
    engine: AsyncEngine,
) -> None:
    """A job of 40 ms, under pressure, is followed by a pause of 40 ms * (1 - share) / share
    before the next claim: jobs take at most PRESSED_SHARE of the time while requests queue.
    Without pressure they run side by side again at once: the last request answered wakes
    the runner."""
    await _enqueue(engine, 12)
    running = peak = 0
    starts: list[float] = []
    pressure = BackPressure()
    for _ in range(BackPressure.PRESSURE):  # requests queueing at the front door
        pressure.request_started()
    work = 0.04

    async def handler(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        starts.append(time.monotonic())
        await asyncio.sleep(work)
        running -= 1

    runner = JobRunner(
        engine=engine,
        handlers={"k": handler},
        # A long poll: under pressure the pause, not the poll, says when the next claim is.
        config=JobsConfig(concurrency=8, poll_interval_seconds=5),
        pressure=pressure,
    )
    runner.start()
    try:
        await wait_until(lambda: len(starts) >= 4)
        assert peak == 1
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        # The jobs' share is a tenth of the time: 40 ms of work, then 360 ms for requests.
        pause = 0.36
        # Slowness can only make the gaps longer; the share bounds them from below...
        assert min(gaps) >= 0.9 * (work + pause), gaps
        # ...and the pause is no longer than the share asks, with room for a slow machine.
        assert statistics.median(gaps) < 1.5 * (work + pause), gaps
        for _ in range(BackPressure.PRESSURE):  # the last one answered wakes the runner
            pressure.request_answered()
        await wait_until(lambda: len(starts) == 12)
    finally:
        await runner.stop(grace=1)
    assert peak > 1, "without pressure, jobs run side by side again"


async def test_under_pressure_a_long_job_still_lets_the_next_one_start_within_the_cap(
    engine: AsyncEngine,
) -> None:
    """The pause is capped at a second (PRESSED_PAUSE_SECONDS[1]): a burst that never ends does not
    stop the jobs, however long each one takes."""
    await _enqueue(engine, 3)
    starts: list[float] = []
    work = 0.3  # its pause, uncapped, would be 2.7 s
    pressure = BackPressure()
    for _ in range(BackPressure.PRESSURE):  # and never answered
        pressure.request_started()

    async def handler(job: Job) -> None:
        starts.append(time.monotonic())
        await asyncio.sleep(work)

    lateness: list[float] = []

    async def ticker() -> None:  # the requests' side: how late the event loop answers
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.02)
            lateness.append(time.monotonic() - before - 0.02)

    runner = JobRunner(
        engine=engine,
        handlers={"k": handler},
        config=JobsConfig(concurrency=8, poll_interval_seconds=0.01),
        pressure=pressure,
    )
    runner.start()
    tick = asyncio.create_task(ticker())
    try:
        await wait_until(lambda: len(starts) == 2, timeout=10)
    finally:
        tick.cancel()
        await runner.stop(grace=1)
    # While it pauses the runner waits, it does not spin: the event loop stays free.
    assert max(lateness) < 0.5, f"the event loop was held for {max(lateness):.2f} s"
    gap = starts[1] - starts[0]
    # The cap is a second: the next job starts a second after the last one ended.
    assert gap >= work + 0.9
    assert gap < work + 1.5, "the pause was not capped at a second"


async def test_jobs_waiting_for_a_rate_limit_do_not_hold_the_slots(engine: AsyncEngine) -> None:
    """Two jobs wait for a (simulated) pacing token with concurrency 2: the other channel's
    job still starts. Without the waiting count it would wait behind them."""
    await _enqueue(engine, 2, kind="paced", channel="C1")
    await _enqueue(engine, 1, kind="other", channel="C2")
    pressure = BackPressure()
    release = asyncio.Event()
    done: list[str] = []

    async def paced(job: Job) -> None:
        with pressure.pacing_wait():
            await release.wait()
        done.append(job.key)

    async def other(job: Job) -> None:
        done.append(job.key)

    runner = JobRunner(
        engine=engine,
        handlers={"paced": paced, "other": other},
        config=JobsConfig(concurrency=2, poll_interval_seconds=0.01),
        per_channel_limit=3,
        pressure=pressure,
    )
    runner.start()
    try:
        await wait_until(lambda: "other-0" in done)
        assert pressure.waiting == 2, "the paced jobs are still waiting while the other one ran"
        release.set()
        await wait_until(lambda: len(done) == 3)
    finally:
        await runner.stop(grace=1)


async def test_concurrent_writes_share_transactions_and_each_lands_once(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    writer = JobWriter(engine)
    now = time.time()
    rows = [job_row(kind="k", key=f"w-{n}", payload={"n": n}, now=now) for n in range(200)]
    # Every row twice, as a sender retrying a delivery would: the key keeps one.
    with caplog.at_level(logging.WARNING, logger="bot.jobs.writer"):
        await asyncio.gather(*(writer.write(row) for row in rows + rows))
        await writer.aclose()
    # Written by the driver directly, not by the fallback through SQLAlchemy.
    assert "not written" not in caplog.text
    async with engine.connect() as conn:
        keys = (await conn.execute(select(jobs.c.key))).scalars().all()
    assert sorted(keys) == sorted(row["key"] for row in rows)
    assert writer.rows == 400 and 1 <= writer.batches < 400


async def test_a_write_made_as_the_last_commit_ends_still_lands(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request woken in the same turn of the event loop as the committer's last commit
    writes its row just after the committer found nothing more to write: it must get a
    committer of its own. (It waited for ever: the bench's webhooks hung 1 run in 2.) The
    real insert runs; the wrapper only makes that request arrive at that moment."""
    writer = JobWriter(engine)
    now = time.time()
    insert = writer_module.insert_ignoring_conflicts
    late: list[asyncio.Future[None]] = []

    async def insert_then_a_request_arrives(*args: Any, **kwargs: Any) -> None:
        await insert(*args, **kwargs)
        if not late:
            row = job_row(kind="k", key="late", payload={}, now=now)
            late.append(asyncio.ensure_future(writer.write(row)))

    monkeypatch.setattr(writer_module, "insert_ignoring_conflicts", insert_then_a_request_arrives)
    await writer.write(job_row(kind="k", key="first", payload={}, now=now))
    await asyncio.wait_for(late[0], timeout=5)
    async with engine.connect() as conn:
        keys = (await conn.execute(select(jobs.c.key))).scalars().all()
    assert sorted(keys) == ["first", "late"]


async def test_batches_in_flight_together_with_the_same_keys_do_not_deadlock(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """The second batch gathers while the first commits (PostgreSQL: both in flight), with
    the same keys in the opposite order, as redeliveries racing their first delivery: each
    key lands once and no batch fails (a deadlock would fail one and write it row by row)."""
    writer = JobWriter(engine)
    now = time.time()
    rows = [job_row(kind="k", key=f"d-{n:03d}", payload={"n": n}, now=now) for n in range(150)]
    first = [asyncio.ensure_future(writer.write(row)) for row in rows]
    for _ in range(3):
        await asyncio.sleep(0)  # the first batch is taken and on its way
    second = [asyncio.ensure_future(writer.write(row)) for row in reversed(rows)]
    with caplog.at_level(logging.WARNING, logger="bot.jobs.writer"):
        await asyncio.gather(*first, *second)
        await writer.aclose()
    assert "one by one" not in caplog.text
    assert writer.batches >= 2
    async with engine.connect() as conn:
        keys = (await conn.execute(select(jobs.c.key))).scalars().all()
    assert sorted(keys) == sorted(row["key"] for row in rows)


async def test_a_failed_batch_fails_every_write_in_it(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")  # no tables: inserts fail
    writer = JobWriter(engine)
    rows = [job_row(kind="k", key=f"f-{n}", payload={}, now=0.0) for n in range(5)]
    try:
        results = await asyncio.gather(*(writer.write(r) for r in rows), return_exceptions=True)
    finally:
        await engine.dispose()
    assert all(isinstance(r, Exception) for r in results)
    assert writer.rows == 0


@pytest.mark.parametrize("others", [6, 1])
async def test_a_row_the_database_refuses_fails_alone(engine: AsyncEngine, others: int) -> None:
    """One bad row in a shared batch (of seven, or of two): the others are written, only its
    request fails."""
    writer = JobWriter(engine)
    now = time.time()
    good = [job_row(kind="k", key=f"g-{n}", payload={}, now=now) for n in range(others)]
    bad = job_row(kind="k", key="bad", payload={}, now=now) | {"kind": None}  # NOT NULL
    half = others // 2
    results = await asyncio.gather(
        *(writer.write(row) for row in [*good[:half], bad, *good[half:]]), return_exceptions=True
    )
    assert [isinstance(r, Exception) for r in results] == (
        [False] * half + [True] + [False] * (others - half)
    )
    async with engine.connect() as conn:
        keys = (await conn.execute(select(jobs.c.key))).scalars().all()
    assert sorted(keys) == sorted(row["key"] for row in good)


async def test_a_handed_back_job_waits_to_settle_before_it_is_taken_again(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="k", key="settle", payload={}, now=50.0)
    (job,) = await queue.claim(engine, owner="a", now=100.0, limit=1, lease_seconds=30)
    await queue.release(engine, [job.id], owner="a", now=101.0, run_after=111.0)
    assert await queue.claim(engine, owner="b", now=110.0, limit=1, lease_seconds=30) == []
    (again,) = await queue.claim(engine, owner="b", now=111.0, limit=1, lease_seconds=30)
    assert again.id == job.id and again.attempts == 2


async def test_rows_handed_in_while_a_lone_row_fails_are_still_written(
    engine: AsyncEngine,
) -> None:
    """A row that fails alone is answered with its error; the rows that arrived meanwhile
    are written by the same committer (nothing else would take them until the next write)."""
    writer = JobWriter(engine)
    now = time.time()
    bad = job_row(kind="k", key="bad", payload={}, now=now) | {"kind": None}  # NOT NULL
    failing = asyncio.ensure_future(writer.write(bad))
    for _ in range(3):
        await asyncio.sleep(0)  # the lone row's batch is taken and on its way
    good = [job_row(kind="k", key=f"m-{n}", payload={}, now=now) for n in range(3)]
    await asyncio.wait_for(asyncio.gather(*(writer.write(row) for row in good)), timeout=10)
    with pytest.raises(IntegrityError):
        await failing
    async with engine.connect() as conn:
        keys = (await conn.execute(select(jobs.c.key))).scalars().all()
    assert sorted(keys) == sorted(row["key"] for row in good)
