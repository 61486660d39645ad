"""The job queue as an operator sees it (``/sms health``): how many jobs wait, retry, run or
died, and the latest errors. Only reads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import jobs


@dataclass(frozen=True, slots=True)
class QueueState:
    """The job table at a glance. ``waiting``: due and not yet tried; ``retrying``: tried and
    waiting for another attempt; ``scheduled``: timers not due yet (stuck-SMS checks);
    ``oldest_created_at``: when the oldest waiting or retrying job was written."""

    waiting: int
    retrying: int
    running: int
    scheduled: int
    dead: int
    oldest_created_at: float | None


@dataclass(frozen=True, slots=True)
class JobProblem:
    id: int
    kind: str
    state: str
    attempts: int
    last_error: str
    updated_at: float


async def queue_state(conn: AsyncConnection, now: float) -> QueueState:
    pending = jobs.c.state == "pending"
    tried = jobs.c.attempts > 0
    due = jobs.c.run_after <= now

    waiting_or_retrying = and_(pending, or_(tried, due))
    row = (
        await conn.execute(
            select(
                func.count().filter(and_(pending, ~tried, due)),
                func.count().filter(and_(pending, tried)),
                func.count().filter(jobs.c.state == "running"),
                func.count().filter(and_(pending, ~tried, ~due)),
                func.count().filter(jobs.c.state == "dead"),
                func.min(jobs.c.created_at).filter(
                    or_(waiting_or_retrying, jobs.c.state == "running")
                ),
            ).where(jobs.c.state != "done")
        )
    ).one()
    return QueueState(
        waiting=int(row[0]),
        retrying=int(row[1]),
        running=int(row[2]),
        scheduled=int(row[3]),
        dead=int(row[4]),
        oldest_created_at=None if row[5] is None else float(row[5]),
    )


async def job_problems(conn: AsyncConnection, *, limit: int = 5) -> list[JobProblem]:
    """The most recent errors of jobs that are dead or still retrying, newest first."""
    rows = (
        (
            await conn.execute(
                select(
                    jobs.c.id,
                    jobs.c.kind,
                    jobs.c.state,
                    jobs.c.attempts,
                    jobs.c.last_error,
                    jobs.c.updated_at,
                )
                .where(jobs.c.state.in_(("pending", "dead")), jobs.c.last_error.is_not(None))
                .order_by(jobs.c.updated_at.desc(), jobs.c.id.desc())
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    return [JobProblem(**dict(row)) for row in rows]
