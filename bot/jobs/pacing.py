"""Pacing for the whole deployment: one pace per Slack channel, per rate-limited Slack method
and per VoIPbin account, and a 429's ``Retry-After`` that holds every process.

A bucket is paced with GCRA (the "theoretical arrival time" form of a token bucket): ``tat``
is when the bucket would be empty again if every turn handed out so far were used at the
steady rate. A caller takes a turn by moving ``tat`` on by one interval; it may go at once if
``tat`` is no more than ``burst - 1`` intervals ahead of now, else it waits until it is. The
turns are handed out in the order they are asked for, so the caller that asked first goes
first (fair, and nobody starves), and a turn nobody uses (its process died) just passes.

On PostgreSQL (several replicas or workers) the buckets are rows of ``pacing``, and a turn is
one statement (an upsert that advances ``tat`` and returns it) on the database's clock, so
every process takes its turns from the same line. On SQLite there is one process and the
buckets live in memory. If the database does not answer a turn within ``SHARED_TIMEOUT``,
the process paces on its own meanwhile: one process's trouble with the database must not stop
its posts, nor anyone else's.

A 429 sets ``held_until`` (and moves ``tat`` past it, so the bucket starts again without a
burst): every process refuses turns until then, and a caller that was already waiting for its
turn looks again before it goes (in memory at once; on the database with one short read, only
when it had to wait).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.jobs.pressure import BackPressure

log = logging.getLogger(__name__)

# How long a turn or a hold may take on the database before this process paces alone.
SHARED_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` turns a second on average, ``burst`` of them at once."""

    per_second: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of now ``tat`` may be for a turn to go at once."""
        return max(0, self.burst - 1) * self.interval


class Held(Exception):
    """The bucket is held after a 429: try again in ``retry_after`` seconds."""

    def __init__(self, bucket: str, retry_after: float) -> None:
        super().__init__(f"{bucket} is rate limited for {retry_after:.1f} s")
        self.bucket = bucket
        self.retry_after = retry_after


# One round trip: create the bucket or advance it, unless it is held. ``now`` is the
# database's clock (the same for every process), read once per statement.
_TURN = text(
    """
    WITH clock AS (SELECT extract(epoch FROM statement_timestamp())::float8 AS now)
    INSERT INTO pacing AS p (bucket, tat, held_until)
    SELECT :bucket, clock.now + :interval, 0 FROM clock
    ON CONFLICT (bucket) DO UPDATE SET tat = CASE
        WHEN p.held_until > (SELECT now FROM clock) THEN p.tat
        ELSE greatest(p.tat, (SELECT now FROM clock)) + :interval
    END
    RETURNING p.tat AS tat, p.held_until AS held_until, (SELECT now FROM clock) AS now
    """
)

_HOLD = text(
    """
    WITH clock AS (SELECT extract(epoch FROM statement_timestamp())::float8 AS now)
    INSERT INTO pacing AS p (bucket, tat, held_until)
    SELECT :bucket, clock.now + :seconds + :tolerance, clock.now + :seconds FROM clock
    ON CONFLICT (bucket) DO UPDATE SET
        held_until = greatest(p.held_until, (SELECT now FROM clock) + :seconds),
        tat = greatest(p.tat, (SELECT now FROM clock) + :seconds + :tolerance)
    """
)

# A turn too far away, handed back (not before a hold's end plus its tolerance).
_GIVE_BACK = text(
    "UPDATE pacing SET tat = greatest(tat - :interval, held_until + :tolerance)"
    " WHERE bucket = :bucket"
)

_HELD = text(
    "SELECT held_until - extract(epoch FROM statement_timestamp())::float8 AS left"
    " FROM pacing WHERE bucket = :bucket"
)


class Pacer:
    """Hands out turns per bucket. ``engine`` on PostgreSQL: shared by every process on that
    database; otherwise (None, or SQLite) in this process's memory. ``pressure``: told of
    every counted wait (``BackPressure.pacing_wait``), so the job runner does not count the
    waiting jobs against its concurrency."""

    def __init__(
        self,
        engine: AsyncEngine | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        pressure: BackPressure | None = None,
    ) -> None:
        self._shared: AsyncEngine | None = None
        if engine is not None and engine.dialect.name == "postgresql":
            self._shared = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._pressure = pressure

    @property
    def shared(self) -> bool:
        return self._shared is not None

    async def turn(
        self,
        bucket: str,
        rate: Rate,
        *,
        counted: bool = True,
        max_wait: float | None = None,
    ) -> None:
        """Wait for ``bucket``'s next turn. Raises ``Held`` while a 429 holds it, also when
        the hold began while this call was waiting. ``counted``: the wait is told to
        ``pressure``. ``max_wait``: a turn further away than that is
        given back and ``Held`` raised with the wait instead (the caller comes back later
        rather than hold its place, and a worker slot, meanwhile)."""
        self._check_local(bucket)
        shared = self._shared is not None
        wait = await self._reserve_shared(bucket, rate) if shared else None
        if wait is None:
            shared = False
            wait = self._reserve_local(bucket, rate)
        if wait <= 0:
            return
        if max_wait is not None and wait > max_wait:
            # Giving a turn back only moves later turns of others later: never too early.
            if shared:
                await self._give_back_shared(bucket, rate)
            else:
                self._tat[bucket] = self._tat[bucket] - rate.interval
            raise Held(bucket, wait)
        if counted and self._pressure is not None:
            with self._pressure.pacing_wait():
                await asyncio.sleep(wait)
        else:
            await asyncio.sleep(wait)
        self._check_local(bucket)
        if self._shared is not None:
            await self._check_shared(bucket)

    def check(self, bucket: str) -> None:
        """Raise ``Held`` while a 429 this process got holds ``bucket`` (no turn taken)."""
        self._check_local(bucket)

    async def hold(self, bucket: str, seconds: float, rate: Rate) -> None:
        """A 429 said ``Retry-After: seconds``: no turn for ``bucket`` until then, in any
        process; afterwards it starts again at its steady rate, without a burst."""
        now = self._clock()
        self._held[bucket] = max(self._held.get(bucket, 0.0), now + seconds)
        self._tat[bucket] = max(self._tat.get(bucket, 0.0), now + seconds + rate.tolerance)
        if self._shared is None:
            return
        try:
            async with asyncio.timeout(SHARED_TIMEOUT):
                async with self._shared.connect() as conn:
                    await conn.execute(
                        _HOLD,
                        {"bucket": bucket, "seconds": seconds, "tolerance": rate.tolerance},
                    )
        except Exception as exc:  # the hold still stands in this process
            log.warning("pacing hold not shared bucket=%s error=%s", bucket, type(exc).__name__)

    # -- in memory ---------------------------------------------------------------------------

    def _check_local(self, bucket: str) -> None:
        left = self._held.get(bucket, 0.0) - self._clock()
        if left > 0:
            raise Held(bucket, left)

    def _reserve_local(self, bucket: str, rate: Rate) -> float:
        now = self._clock()
        tat = max(self._tat.get(bucket, 0.0), now) + rate.interval
        self._tat[bucket] = tat
        return tat - rate.interval - rate.tolerance - now

    # -- on the database ---------------------------------------------------------------------

    async def _reserve_shared(self, bucket: str, rate: Rate) -> float | None:
        """Seconds to wait for the turn taken on the database; None when the database did
        not answer (the caller paces in memory instead)."""
        assert self._shared is not None
        try:
            async with asyncio.timeout(SHARED_TIMEOUT):
                async with self._shared.connect() as conn:
                    row = (
                        await conn.execute(_TURN, {"bucket": bucket, "interval": rate.interval})
                    ).one()
        except Exception as exc:  # pace alone rather than stop
            log.warning("pacing turn not shared bucket=%s error=%s", bucket, type(exc).__name__)
            return None
        tat, held_until, now = float(row.tat), float(row.held_until), float(row.now)
        if held_until > now:
            raise Held(bucket, held_until - now)
        return tat - rate.interval - rate.tolerance - now

    async def _give_back_shared(self, bucket: str, rate: Rate) -> None:
        assert self._shared is not None
        try:
            async with asyncio.timeout(SHARED_TIMEOUT):
                async with self._shared.connect() as conn:
                    await conn.execute(
                        _GIVE_BACK,
                        {"bucket": bucket, "interval": rate.interval, "tolerance": rate.tolerance},
                    )
        except Exception as exc:  # the turn is lost: later turns are only later for it
            log.warning("pacing turn not given back bucket=%s error=%s", bucket, type(exc).__name__)

    async def _check_shared(self, bucket: str) -> None:
        assert self._shared is not None
        try:
            async with asyncio.timeout(SHARED_TIMEOUT):
                async with self._shared.connect() as conn:
                    left = (await conn.execute(_HELD, {"bucket": bucket})).scalar_one_or_none()
        except Exception as exc:  # the turn was ours: go
            log.warning("pacing hold not read bucket=%s error=%s", bucket, type(exc).__name__)
            return
        if left is not None and float(left) > 0:
            raise Held(bucket, float(left))
