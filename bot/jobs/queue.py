"""Job rows: enqueue inside the caller's transaction; claim, finish and retry them.

A job belongs to a *lane* (a conversation): the jobs of one lane run one at a time in the order
they were written, which keeps the messages of a thread in order however many workers or
replicas claim work. A job is claimed with a lease; a worker that dies loses its lease and the
job is claimed again once it expires. Finishing a job checks the lease owner, so a worker whose
lease was taken over cannot overwrite the new owner's result.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import in_transaction
from bot.store.statements import insert_ignore
from bot.store.tables import jobs

PENDING = "pending"
RUNNING = "running"
DONE = "done"
DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    key: str
    lane: str | None
    channel: str | None
    payload: dict[str, Any]
    attempts: int  # this attempt's number, from 1 (counted when claimed, so a crash counts)
    created_at: float


async def enqueue(
    conn: AsyncConnection,
    *,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: float,
    lane: str | None = None,
    channel: str | None = None,
    run_after: float | None = None,
) -> bool:
    """Write a job in the caller's transaction. False when a job with ``key`` already exists,
    which is how redelivered events and retried requests are kept from acting twice."""
    return await insert_ignore(
        conn,
        jobs,
        job_row(
            kind=kind,
            key=key,
            payload=payload,
            now=now,
            lane=lane,
            channel=channel,
            run_after=run_after,
        ),
    )


# The columns ``job_row`` fills (JobWriter compiles its INSERT for exactly these).
JOB_ROW_COLUMNS = (
    "kind",
    "key",
    "lane",
    "channel",
    "payload",
    "state",
    "attempts",
    "run_after",
    "created_at",
    "updated_at",
)


def job_row(
    *,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: float,
    lane: str | None = None,
    channel: str | None = None,
    run_after: float | None = None,
) -> dict[str, Any]:
    """The ``jobs`` row of a new job (see ``enqueue`` for the arguments)."""
    return {
        "kind": kind,
        "key": key,
        "lane": lane,
        "channel": channel,
        "payload": json.dumps(payload, separators=(",", ":")),
        "state": PENDING,
        "attempts": 0,
        "run_after": now if run_after is None else run_after,
        "created_at": now,
        "updated_at": now,
    }


# Written into the SQL as constants, not parameters: SQLite uses a partial index (here
# ix_jobs_active and ix_jobs_lane_active) only when the query repeats its condition literally.
_OPEN: tuple[Any, ...] = (literal_column(f"'{PENDING}'"), literal_column(f"'{RUNNING}'"))


def _claimable(now: float, busy_channels: Iterable[str]) -> Any:
    earlier = jobs.alias("earlier")
    blocked = exists().where(
        and_(
            earlier.c.lane == jobs.c.lane,
            earlier.c.id < jobs.c.id,
            earlier.c.state.in_(_OPEN),
        )
    )
    ready = or_(
        and_(jobs.c.state == PENDING, jobs.c.run_after <= now),
        and_(jobs.c.state == RUNNING, jobs.c.lease_until < now),
    )
    # The first conjunct repeats what ``ready`` implies so that the planner can use the
    # partial index ix_jobs_active (which it cannot prove from the OR below).
    condition = and_(jobs.c.state.in_(_OPEN), ready, or_(jobs.c.lane.is_(None), ~blocked))
    busy = list(busy_channels)
    if busy:
        condition = and_(condition, or_(jobs.c.channel.is_(None), jobs.c.channel.not_in(busy)))
    return condition


_ORDERED_WALK = text("SET LOCAL enable_bitmapscan = off")


async def claim(
    engine: AsyncEngine,
    *,
    owner: str,
    now: float,
    limit: int,
    lease_seconds: float,
    busy_channels: Iterable[str] = (),
) -> list[Job]:
    """Take up to ``limit`` runnable jobs, oldest first, at most one per lane."""
    async with engine.begin() as conn:
        query = select(jobs).where(_claimable(now, busy_channels)).order_by(jobs.c.id).limit(limit)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=jobs)
            # Walk the open jobs in id order and stop at the first runnable ones. With stale
            # statistics (a young table, or a burst after a quiet hour) PostgreSQL expects a
            # single open job and would rather fetch them all and sort them: 60 ms per claim
            # with 20,000 jobs waiting, against well under a millisecond this way.
            await conn.execute(_ORDERED_WALK)
        rows = (await conn.execute(query)).mappings().all()
        picked: list[Job] = []
        lanes: set[str] = set()
        for row in rows:
            # A lane whose head is re-claimed after a lost lease shows up once; never run two
            # jobs of one lane together.
            if row["lane"] is not None:
                if row["lane"] in lanes:
                    continue
                lanes.add(row["lane"])
            picked.append(
                Job(
                    id=row["id"],
                    kind=row["kind"],
                    key=row["key"],
                    lane=row["lane"],
                    channel=row["channel"],
                    payload=json.loads(row["payload"]),
                    attempts=row["attempts"] + 1,
                    created_at=row["created_at"],
                )
            )
        if picked:
            await conn.execute(
                _TAKE,
                {
                    "j_ids": [job.id for job in picked],
                    "j_owner": owner,
                    "j_until": now + lease_seconds,
                    "j_now": now,
                },
            )
        return picked


# The statements every job runs are built once (their values bound at execution): building
# one per call costs its construction and its cache key each time.
_TAKE = (
    update(jobs)
    .where(jobs.c.id.in_(bindparam("j_ids", expanding=True)))
    .values(
        state=RUNNING,
        attempts=jobs.c.attempts + 1,
        lease_owner=bindparam("j_owner"),
        lease_until=bindparam("j_until"),
        updated_at=bindparam("j_now"),
    )
)
# The fence of finish, retry_later and bury: only the attempt holding the lease may end it.
# Its values are bound at execution ({"j_id": ..., "j_owner": ...}).
_OWNED = and_(
    jobs.c.id == bindparam("j_id"),
    jobs.c.lease_owner == bindparam("j_owner"),
    jobs.c.state == RUNNING,
)
_FINISH = (
    update(jobs).where(_OWNED).values(state=DONE, lease_until=None, updated_at=bindparam("j_now"))
)


# finish, retry_later and bury run again once on a new connection if the pooled one was dead
# (``in_transaction``): otherwise a job whose work is done would wait for its lease to
# expire, and hold up its lane meanwhile, because the database restarted.


async def finish(engine: AsyncEngine, job: Job, *, owner: str, now: float) -> bool:
    async def done(conn: AsyncConnection) -> bool:
        result = await conn.execute(_FINISH, {"j_id": job.id, "j_owner": owner, "j_now": now})
        return bool(result.rowcount)

    return await in_transaction(engine, done)


async def retry_later(
    engine: AsyncEngine,
    job: Job,
    *,
    owner: str,
    now: float,
    run_after: float,
    error: str,
    count_attempt: bool = True,
) -> bool:
    async def later(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            update(jobs)
            .where(_OWNED)
            .values(
                state=PENDING,
                attempts=job.attempts if count_attempt else job.attempts - 1,
                run_after=run_after,
                lease_owner=None,
                lease_until=None,
                last_error=error[:2000],
                updated_at=now,
            ),
            {"j_id": job.id, "j_owner": owner},
        )
        return bool(result.rowcount)

    return await in_transaction(engine, later)


async def bury(
    engine: AsyncEngine,
    job: Job,
    *,
    owner: str,
    now: float,
    error: str,
    also: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> bool:
    """Give up on a job: it becomes a dead-letter row, and ``also`` (the alert) is written in
    the same transaction so giving up is never silent."""

    async def dead(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            update(jobs)
            .where(_OWNED)
            .values(
                state=DEAD,
                lease_until=None,
                last_error=error[:2000],
                updated_at=now,
            ),
            {"j_id": job.id, "j_owner": owner},
        )
        if not result.rowcount:
            return False
        if also is not None:
            await also(conn)
        return True

    return await in_transaction(engine, dead)


async def renew(
    engine: AsyncEngine, job_ids: list[int], *, owner: str, now: float, lease_seconds: float
) -> None:
    if not job_ids:
        return
    async with engine.begin() as conn:
        await conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(job_ids), jobs.c.lease_owner == owner, jobs.c.state == RUNNING)
            .values(lease_until=now + lease_seconds)
        )


async def release(
    engine: AsyncEngine,
    job_ids: list[int],
    *,
    owner: str,
    now: float,
    run_after: float | None = None,
) -> None:
    """Hand unfinished jobs back at shutdown, to be taken again from ``run_after`` (default:
    at once)."""
    if not job_ids:
        return
    async with engine.begin() as conn:
        await conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(job_ids), jobs.c.lease_owner == owner, jobs.c.state == RUNNING)
            # The attempt keeps its count: it may have done part of its work (a Slack post),
            # and a count above 1 is what makes the next attempt look for it first.
            .values(
                state=PENDING,
                lease_owner=None,
                lease_until=None,
                run_after=now if run_after is None else run_after,
                updated_at=now,
            )
        )


async def release_stray(engine: AsyncEngine, *, owner: str, keep: Iterable[int], now: float) -> int:
    """Hand back every job ``owner`` holds a lease on but is not running (``keep`` are the
    ones it runs): after the database was away, those whose end could not be written (or
    whose claim's answer was lost) are taken again at once instead of when the lease
    expires. Their attempt counts, so the next one looks for work already done."""
    kept = list(keep)
    condition = and_(jobs.c.lease_owner == owner, jobs.c.state == RUNNING)
    if kept:
        condition = and_(condition, jobs.c.id.not_in(kept))
    async with engine.begin() as conn:
        result = await conn.execute(
            update(jobs)
            .where(condition)
            .values(
                state=PENDING, lease_owner=None, lease_until=None, run_after=now, updated_at=now
            )
        )
        return int(result.rowcount)


async def prune_done(engine: AsyncEngine, *, before: float) -> int:
    """Delete finished jobs older than ``before``; their keys stop deduplicating then."""
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(jobs).where(jobs.c.state == DONE, jobs.c.updated_at < before)
        )
        return int(result.rowcount)


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: int
    kind: str
    key: str
    state: str
    attempts: int
    run_after: float
    created_at: float
    last_error: str | None


async def list_jobs(engine: AsyncEngine, states: Iterable[str], limit: int = 200) -> list[JobInfo]:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(
                        jobs.c.id,
                        jobs.c.kind,
                        jobs.c.key,
                        jobs.c.state,
                        jobs.c.attempts,
                        jobs.c.run_after,
                        jobs.c.created_at,
                        jobs.c.last_error,
                    )
                    .where(jobs.c.state.in_(list(states)))
                    .order_by(jobs.c.id)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
        return [JobInfo(**dict(row)) for row in rows]


async def revive(engine: AsyncEngine, job_id: int, *, now: float) -> bool:
    """Put a dead job back in the queue (``sms-bridge jobs retry``)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state == DEAD)
            .values(state=PENDING, attempts=0, run_after=now, created_at=now, updated_at=now)
        )
        return bool(result.rowcount)


async def oldest_pending(engine: AsyncEngine) -> float | None:
    """``run_after`` of the oldest job that is due and waiting, if any."""
    async with engine.connect() as conn:
        value = (
            await conn.execute(select(func.min(jobs.c.run_after)).where(jobs.c.state == PENDING))
        ).scalar_one()
        return None if value is None else float(value)


# A pending job not due yet: a check scheduled ahead (is the SMS still queued after
# alerts.stuck_after?), or a retry waiting out its backoff. Counted apart, so that "pending"
# is work waiting to run now, and an alert on it does not fire after every ordinary send.
SCHEDULED = "scheduled"


async def depth(engine: AsyncEngine, *, now: float | None = None) -> dict[str, int]:
    """Number of jobs per state (done excluded); with ``now``, the pending jobs not due
    before then are counted as ``SCHEDULED`` instead of ``pending``."""
    state: Any = jobs.c.state
    if now is not None:
        later = and_(jobs.c.state == PENDING, jobs.c.run_after > bindparam("now", now))
        state = case((later, literal(SCHEDULED)), else_=jobs.c.state)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(state.label("state"), func.count())
                .where(jobs.c.state != DONE)
                .group_by(state)
            )
        ).all()
        return {str(name): int(count) for name, count in rows}


async def cancel_unstarted(conn: AsyncConnection, key: str, now: float) -> bool:
    """Take back a job that no worker has claimed yet (it is marked done and never runs);
    False when it has started, finished or does not exist."""
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.key == key, jobs.c.state == PENDING, jobs.c.attempts == 0)
        .values(state=DONE, last_error="cancelled", updated_at=now)
    )
    return bool(result.rowcount)
