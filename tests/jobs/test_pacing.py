"""Pacing shared on the database (bot/jobs/pacing.py): two pacers on two engines stand for two
processes. Together they keep one pace; a hold set by one stops the other, even a call that
is already waiting for its turn; a database that does not answer leaves each pacing alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.jobs.pacing import Held, Pacer, Rate
from bot.jobs.pressure import BackPressure
from bot.store.db import create_engine, migrate

from harness import wait_until


@pytest.fixture
async def two_engines(pg_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    first, second = create_engine(pg_url), create_engine(pg_url)
    await migrate(first)
    yield first, second
    await first.dispose()
    await second.dispose()


async def _turns(pacer: Pacer, bucket: str, rate: Rate, count: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await pacer.turn(bucket, rate)
        times.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))
    return times


async def test_two_processes_keep_one_pace_together(
    two_engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    rate = Rate(per_second=20.0, burst=2)
    a, b = Pacer(two_engines[0]), Pacer(two_engines[1])
    assert a.shared and b.shared
    start = time.monotonic()
    got = await asyncio.gather(_turns(a, "slack:C1", rate, 10), _turns(b, "slack:C1", rate, 10))
    times = sorted(got[0] + got[1])
    # 20 turns, 2 at once, then one every 50 ms: never faster (each alone would go twice as
    # fast), and not much slower either.
    for k, at in enumerate(times):
        assert at - start >= (k - 1) * rate.interval - 0.01, f"turn {k} came early"
    assert times[-1] - start < 19 * rate.interval + 0.5
    # Another bucket has a pace of its own: it is not held up by the first one.
    other = time.monotonic()
    await a.turn("slack:C2", rate)
    assert time.monotonic() - other < 0.2


async def test_a_hold_stops_every_process_and_the_calls_already_waiting(
    two_engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    rate = Rate(per_second=2.0, burst=1)
    pressure = BackPressure()
    a, b = Pacer(two_engines[0]), Pacer(two_engines[1], pressure=pressure)
    await b.turn("slack:C1", rate)  # at once; the next one waits 0.5 s
    waiting = asyncio.create_task(b.turn("slack:C1", rate))
    await wait_until(lambda: pressure.waiting == 1)  # then A gets a 429
    await a.hold("slack:C1", 2.0, rate)
    with pytest.raises(Held) as held:
        await waiting
    assert 1.0 < held.value.retry_after <= 2.0
    with pytest.raises(Held):
        await b.turn("slack:C1", rate)
    # Once the hold is over the bucket starts again, one turn at a time.
    await asyncio.sleep(held.value.retry_after)
    start = time.monotonic()
    await b.turn("slack:C1", rate)
    await a.turn("slack:C1", rate)
    assert time.monotonic() - start >= rate.interval - 0.05


async def test_a_database_that_does_not_answer_leaves_each_process_pacing_alone() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    try:
        pacer = Pacer(engine)
        rate = Rate(per_second=10.0, burst=1)
        start = time.monotonic()
        await _turns(pacer, "voipbin:account", rate, 4)
        spent = time.monotonic() - start
        assert 3 * rate.interval - 0.02 <= spent < 3.0
    finally:
        await engine.dispose()


async def test_in_memory_a_waiting_call_is_held_too() -> None:
    rate = Rate(per_second=4.0, burst=1)
    pressure = BackPressure()
    pacer = Pacer(pressure=pressure)
    assert not pacer.shared
    await pacer.turn("slack:C1", rate)
    waiting = asyncio.create_task(pacer.turn("slack:C1", rate))
    await wait_until(lambda: pressure.waiting == 1)
    await pacer.hold("slack:C1", 1.0, rate)
    with pytest.raises(Held):
        await waiting


@pytest.mark.parametrize("where", ["memory", "database"])
async def test_a_turn_too_far_away_is_given_back(
    where: str, two_engines: tuple[AsyncEngine, AsyncEngine]
) -> None:
    rate = Rate(per_second=1.0, burst=1)
    pacer = Pacer(two_engines[0] if where == "database" else None)
    await pacer.turn("slack:chat.update", rate, max_wait=0.5)
    for _ in range(3):
        with pytest.raises(Held) as held:
            await pacer.turn("slack:chat.update", rate, max_wait=0.5)
        # The turn refused is handed back: the next caller is not pushed further away.
        assert 0.5 < held.value.retry_after <= 1.0
