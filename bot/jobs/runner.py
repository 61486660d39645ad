"""The in-process worker that runs jobs: claims, leases, retries with backoff, gives up loudly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import JobsConfig
from bot.jobs import queue
from bot.jobs.pressure import BackPressure
from bot.jobs.queue import Job

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
OnDead = Callable[[AsyncConnection, Job, str], Awaitable[None]]


class RetryLater(Exception):
    """Run the job again later. ``after`` overrides the backoff (e.g. a Retry-After header);
    ``count_attempt=False`` for waits that are not failures (rate limits)."""

    def __init__(self, reason: str, *, after: float | None = None, count_attempt: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.after = after
        self.count_attempt = count_attempt


class GiveUp(Exception):
    """The job can never succeed; bury it now (and alert)."""


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with jitter: a random delay between ``base / 2`` and
    ``min(cap, base * 2**attempt)``, so retries of many jobs spread out."""
    return random.uniform(base / 2, min(cap, base * (2**attempt)))


# While requests queue at the front door, jobs start one at a time and take at most this
# share of the process's time: after a claim and its job took t seconds, the next claim
# waits t * (1 - share) / share, and never less than the first bound nor more than the
# second (so a cheap job still waits a little, and jobs still move during a burst that
# never ends).
PRESSED_SHARE = 0.1
PRESSED_PAUSE_SECONDS = (0.05, 1.0)


class JobRunner:
    """Claims and runs jobs until stopped. One per process; replicas share the table."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        handlers: Mapping[str, Handler],
        config: JobsConfig,
        on_dead: OnDead | None = None,
        per_channel_limit: int = 2,
        clock: Callable[[], float] = time.time,
        observe: Callable[[str, str], None] | None = None,
        pressure: BackPressure | None = None,
        settle_seconds: float = 0.0,
    ) -> None:
        """``observe(kind, outcome)`` is called when a job finishes, is retried or dies.
        ``pressure`` (``BackPressure``, shared with the front door and the Slack pacer; it
        wakes this runner): the running jobs that only wait for a rate limit's next token
        (Slack's per-channel pacing, ``pressure.waiting``) do not count against
        ``concurrency``; each channel still has at most ``per_channel_limit`` jobs in
        flight, so the waiters are bounded too. While requests queue at this process's
        front door (``pressure.pressed()``: a burst of webhooks or commands) jobs run one
        at a time, so the CPU goes to answering the requests: every request is recorded
        before its answer, so nothing waits but the jobs, which catch up when the burst is
        over (and Slack paces posts to about one per second per channel anyway). Jobs still
        start, one at a time, taking at most ``PRESSED_SHARE`` of the time, so a burst that
        never ends cannot starve them.
        ``settle_seconds``: how long a job handed back at shutdown waits before it is taken
        again: a call it was making when it was stopped (a Slack post, a VoIPbin send) may
        still land, and the next attempt looks for it (reconciles) only after it had time to
        land or time out: otherwise both would count, and the SMS would be shown or sent
        twice. The API clients' timeout is the right value."""
        self._pressure = pressure if pressure is not None else BackPressure()
        self._settle_seconds = settle_seconds
        self._next_pressed_claim = 0.0
        self._pressed_job: int | None = None  # the job claimed under pressure, until done
        self._observe = observe or (lambda kind, outcome: None)
        self._engine = engine
        self._handlers = dict(handlers)
        self._config = config
        self._on_dead = on_dead
        self._per_channel_limit = per_channel_limit
        self._clock = clock
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._inflight: dict[int, tuple[Job, asyncio.Task[None]]] = {}
        self._main: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        # Set when the database failed us (a claim, or a job's end not written): the next
        # round that reaches it hands back the leases we hold but no longer run.
        self._stray = False
        self._pressure.listen(self.wake)

    def wake(self) -> None:
        """New work was written: look for it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name="job-runner")

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish within ``grace`` seconds, then release the
        rest so another worker takes them at once."""
        grace = self._config.shutdown_grace_seconds if grace is None else grace
        self._stopping.set()
        self._wake.set()
        if self._main is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        running = {task: job.id for job, task in self._inflight.values()}
        if not running:
            return
        _, unfinished = await asyncio.wait(running, timeout=grace)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished)
            leftover = [running[task] for task in unfinished]
            now = self._clock()
            await queue.release(
                self._engine,
                leftover,
                owner=self.owner,
                now=now,
                run_after=now + self._settle_seconds,
            )
            log.warning("released unfinished jobs at shutdown count=%d", len(leftover))

    async def _run(self) -> None:
        renewer = asyncio.create_task(self._renew_leases(), name="job-lease-renewer")
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                claimed = 0
                try:
                    if self._stray:
                        await self._release_stray()
                    claimed = await self._claim()
                    await self._maintain()
                except Exception:
                    self._stray = True
                    log.exception("job claim failed; retrying")
                if claimed == 0 or self._busy() >= self._limit():
                    timeout = self._config.poll_interval_seconds
                    if self._pressure.pressed():
                        left = self._next_pressed_claim - time.monotonic()
                        timeout = min(timeout, max(left, PRESSED_PAUSE_SECONDS[0]))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _release_stray(self) -> None:
        # Cleared first: a job whose end fails meanwhile sets it again (it is in ``keep``).
        self._stray = False
        released = await queue.release_stray(
            self._engine, owner=self.owner, keep=list(self._inflight), now=self._clock()
        )
        if released:
            log.warning("handed back jobs left after a database failure count=%d", released)

    def _busy(self) -> int:
        """Jobs in flight that are doing work (not waiting for a pacing token)."""
        return self.inflight - self._pressure.waiting

    def _limit(self) -> int:
        return 1 if self._pressure.pressed() else self._config.concurrency

    async def _claim(self) -> int:
        pressed = self._pressure.pressed()
        free = self._limit() - self._busy()
        if free <= 0:
            return 0
        # Under pressure every request wakes the runner; one claim query per wake-up would
        # cost the database (and this process) as much as the requests themselves. Look only
        # when the last look (and the job it found) has had its pause (``_pause_after``).
        if pressed and time.monotonic() < self._next_pressed_claim:
            return 0
        per_channel = Counter(job.channel for job, _ in self._inflight.values() if job.channel)
        busy = [ch for ch, n in per_channel.items() if n >= self._per_channel_limit]
        started = time.monotonic()
        jobs = await queue.claim(
            self._engine,
            owner=self.owner,
            now=self._clock(),
            limit=free,
            lease_seconds=self._config.lease_seconds,
            busy_channels=busy,
        )
        if pressed:
            # The look pays for itself now; a job found pays for its own time when it is
            # done (until then it holds the one slot, unless it only waits for pacing).
            self._pause_after(time.monotonic() - started)
            self._pressed_job = jobs[0].id if jobs else None
        for job in jobs:
            task = asyncio.create_task(self._execute(job), name=f"job-{job.id}-{job.kind}")
            self._inflight[job.id] = (job, task)
        return len(jobs)

    def _pause_after(self, spent: float) -> None:
        """Under pressure: no claim before the work just done has been paid for with
        ``(1 - PRESSED_SHARE) / PRESSED_SHARE`` times its time for the requests."""
        low, high = PRESSED_PAUSE_SECONDS
        pause = min(max(spent * (1 - PRESSED_SHARE) / PRESSED_SHARE, low), high)
        self._next_pressed_claim = max(self._next_pressed_claim, time.monotonic() + pause)

    async def _maintain(self) -> None:
        now = self._clock()
        if now - self._last_prune < 300:
            return
        self._last_prune = now
        from bot.store import early_statuses, seen_events  # local: maintenance is rare

        ttl = self._config.seen_events_ttl_seconds
        async with self._engine.begin() as conn:
            await seen_events.prune(conn, seen_before=now - ttl)
            await early_statuses.prune(conn, received_before=now - ttl)
        await queue.prune_done(self._engine, before=now - ttl)

    async def _renew_leases(self) -> None:
        interval = max(1.0, self._config.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await queue.renew(
                    self._engine,
                    list(self._inflight),
                    owner=self.owner,
                    now=self._clock(),
                    lease_seconds=self._config.lease_seconds,
                )
            except Exception:
                log.exception("lease renewal failed")

    async def _execute(self, job: Job) -> None:
        started = time.monotonic()
        try:
            await self._attempt(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Bookkeeping failed (the database went away): the job is handed back as soon as
            # the database answers again (or, if this process dies first, its lease expires)
            # and claimed again; its handler is idempotent.
            self._stray = True
            log.exception("job bookkeeping failed job_id=%d kind=%s", job.id, job.kind)
        finally:
            self._inflight.pop(job.id, None)
            if job.id == self._pressed_job:
                self._pressed_job = None
                self._pause_after(time.monotonic() - started)
            self._wake.set()

    async def _attempt(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            await self._give_up(job, f"no handler for job kind {job.kind!r}")
            return
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except GiveUp as exc:
            await self._give_up(job, str(exc))
            return
        except RetryLater as exc:
            await self._retry(job, exc.reason, after=exc.after, count_attempt=exc.count_attempt)
            return
        except Exception as exc:
            log.warning(
                "job failed job_id=%d kind=%s attempt=%d error=%s",
                job.id,
                job.kind,
                job.attempts,
                _describe(exc),
            )
            await self._retry(job, _describe(exc), after=None, count_attempt=True)
            return
        await queue.finish(self._engine, job, owner=self.owner, now=self._clock())
        self._observe(job.kind, "done")

    async def _retry(
        self, job: Job, reason: str, *, after: float | None, count_attempt: bool
    ) -> None:
        now = self._clock()
        attempts = job.attempts if count_attempt else job.attempts - 1
        too_old = now - job.created_at > self._config.max_age_seconds
        if attempts >= self._config.max_attempts or too_old:
            why = "too many attempts" if not too_old else "too old"
            await self._give_up(job, f"{reason} (gave up: {why}, {attempts} attempts)")
            return
        delay = (
            after
            if after is not None
            else backoff(
                attempts,
                base=self._config.backoff_base_seconds,
                cap=self._config.backoff_max_seconds,
            )
        )
        await queue.retry_later(
            self._engine,
            job,
            owner=self.owner,
            now=now,
            run_after=now + delay,
            error=reason,
            count_attempt=count_attempt,
        )
        self._observe(job.kind, "retry" if count_attempt else "wait")

    async def _give_up(self, job: Job, reason: str) -> None:
        log.error("job dead job_id=%d kind=%s key=%s error=%s", job.id, job.kind, job.key, reason)
        on_dead = self._on_dead

        async def also(conn: AsyncConnection) -> None:
            if on_dead is not None:
                await on_dead(conn, job, reason)

        await queue.bury(
            self._engine, job, owner=self.owner, now=self._clock(), error=reason, also=also
        )
        self._observe(job.kind, "dead")
        self._wake.set()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
