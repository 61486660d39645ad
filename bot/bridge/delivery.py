"""Carrying out a recorded send: its Slack message posted (for ``/sms``), the SMS sent
through VoIPbin exactly once (an attempt whose outcome was not learned is looked up before
sending again), and the outcome shown."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import status as st
from bot.bridge.context import Clock, load
from bot.bridge.jobs import CheckStuck, SendSms, enqueue
from bot.bridge.messages import (
    UNCONFIRMED_REFUSAL,
    refusal_words,
    unconfirmed_refusal,
    without_unconfirmed,
)
from bot.bridge.outbox import slack
from bot.bridge.ports import (
    MaybeRefused,
    Messenger,
    RateLimited,
    Rejected,
    SmsGateway,
    TimedOut,
    Unavailable,
)
from bot.bridge.statuses import Statuses
from bot.bridge.threads import Threads
from bot.config import AppConfig
from bot.jobs.runner import RetryLater, backoff
from bot.metrics import Metrics
from bot.phone import mask
from bot.store import conversations, early_statuses, sms

log = logging.getLogger("bot.bridge.service")

# Clocks differ: when looking for an SMS that an earlier attempt may have created, look a
# little further back than the attempt's start.
RECONCILE_SKEW_SECONDS = 120.0


class Delivery:
    """The ``send_sms`` job."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        config: AppConfig,
        messenger: Messenger,
        gateway: SmsGateway,
        metrics: Metrics,
        threads: Threads,
        statuses: Statuses,
    ) -> None:
        """``config``: the attempts and backoff of jobs, VoIPbin's timeout and
        ``alerts.stuck_after``."""
        self._engine = engine
        self._clock = clock
        self._config = config
        self._messenger = messenger
        self._gateway = gateway
        self._metrics = metrics
        self._threads = threads
        self._statuses = statuses

    async def job_send_sms(self, job: SendSms, attempt: int) -> None:
        message, conversation = await load(self._engine, job.message_id)
        thread_ts = await self._threads.ensure(conversation, attempt)
        if message.origin == "command" and message.slack_ts is None:
            ts: str = await slack(
                self._messenger.post_outgoing(
                    channel=conversation.channel,
                    thread_ts=thread_ts,
                    view=await self._statuses.view(message, conversation),
                    key=f"msg:{message.id}",
                    reconcile=attempt > 1,
                )
            )
            now = self._clock()
            async with self._engine.begin() as conn:
                await sms.update_message(conn, message.id, now, slack_ts=ts, shown_status="queued")
            message, conversation = await load(self._engine, message.id)
        settled = st.phase(message.status) in (st.Phase.FAILED, st.Phase.CANCELLED)
        if message.voipbin_id is None and not settled:
            last = attempt >= self._config.jobs.max_attempts
            await self._send(message, conversation, last_attempt=last, attempt=attempt)
        # Show the status reached so far (a webhook may have moved it on already).
        await self._statuses.show(message.id)

    async def _send(
        self,
        message: sms.Message,
        conversation: conversations.Conversation,
        *,
        last_attempt: bool,
        attempt: int = 1,
    ) -> None:
        """Send the SMS once. An earlier attempt that did not learn the outcome is looked up
        first (``_reconcile``) so the person is not texted twice. A send VoIPbin answered with
        500 INTERNAL (how it refuses one for the balance or the identity check, and also what
        a failure after storing it looks like) is tried again like any unknown outcome; on
        the ``last_attempt`` it is not sent again: when the look-up after the last 500 finds
        nothing (the next attempt's, or, on the last attempt, one made at once), it was
        refused, and the person is told so in words."""
        source, destination = conversation.our_number, conversation.peer_number
        sent = None
        if message.send_started_at is not None:
            # An earlier attempt called VoIPbin and did not learn the outcome: the SMS may
            # exist. Sending blindly could text the person twice.
            sent = await self._reconcile(message, source, destination)
            if sent is None and last_attempt and unconfirmed_refusal(message.error):
                assert message.error is not None
                await self._fail(message, conversation, without_unconfirmed(message.error))
                return
        if sent is None:
            now = self._clock()
            async with self._engine.begin() as conn:
                await sms.update_message(conn, message.id, now, send_started_at=now)
            try:
                sent = await self._gateway.send(
                    source=source, destination=destination, text=message.text
                )
            except Rejected as exc:
                words = refusal_words(exc.status, exc.detail, reason=exc.code)
                await self._fail(message, conversation, words)
                return
            except RateLimited as exc:
                # A 429 is an answer: VoIPbin did not create the message. Clear the marker
                # so the next attempt does not search for it.
                async with self._engine.begin() as conn:
                    await sms.update_message(conn, message.id, self._clock(), send_started_at=None)
                raise RetryLater(exc.message, after=exc.retry_after, count_attempt=False) from exc
            except MaybeRefused as exc:
                # Remembered on the message (its note while it is retried): the last
                # attempt needs to know what the last send was answered.
                words = refusal_words(exc.status, exc.detail)
                async with self._engine.begin() as conn:
                    await sms.update_message(
                        conn, message.id, self._clock(), error=UNCONFIRMED_REFUSAL + words
                    )
                if not last_attempt:
                    raise RetryLater(
                        f"VoIPbin answered the send {exc.status}; looking for it before "
                        f"sending again: {exc.message}"
                    ) from exc
                # No attempt is left to look it up in (earlier ones timed out): look now. A
                # send VoIPbin stored before failing is in its list at once.
                message, _ = await load(self._engine, message.id)
                sent = await self._reconcile(message, source, destination)
                if sent is None:
                    await self._fail(message, conversation, words)
                    return
            except Unavailable as exc:
                if unconfirmed_refusal(message.error):
                    async with self._engine.begin() as conn:
                        await sms.update_message(conn, message.id, self._clock(), error=None)
                settle = None
                if isinstance(exc, TimedOut):
                    # The send may still be in VoIPbin's hands (we stopped waiting, it did
                    # not stop working) and be stored after a look-up made at once: the next
                    # attempt looks for it only once as long again as we waited has passed.
                    jobs = self._config.jobs
                    settle = self._config.voipbin.timeout_seconds + backoff(
                        attempt, base=jobs.backoff_base_seconds, cap=jobs.backoff_max_seconds
                    )
                raise RetryLater(
                    f"VoIPbin send outcome unknown: {exc.message}", after=settle
                ) from exc
        # Found, or sent this time: an earlier 500 was not a refusal after all.
        cleared = {"error": None} if unconfirmed_refusal(message.error) else {}
        now = self._clock()
        async with self._engine.begin() as conn:
            await early_statuses.lock_voipbin_id(conn, sent.id)
            await sms.update_message(conn, message.id, now, voipbin_id=sent.id, **cleared)
            await sms.raise_status(
                conn, message.id, status=sent.status or "queued", rank=st.rank(sent.status), now=now
            )
            early = await early_statuses.take_early_status(conn, sent.id)
            if early is not None:
                await sms.raise_status(conn, message.id, status=early[0], rank=early[1], now=now)
            await enqueue(
                conn,
                CheckStuck.of(message.id),
                now=now,
                run_after=now + self._config.alerts.stuck_after,
            )
        self._metrics.sms.labels(event="sent", reason="").inc()
        self._metrics.end_to_end.labels(direction="outbound").observe(now - message.created_at)
        log.info(
            "sms sent message_id=%d voipbin_id=%s to=%s", message.id, sent.id, mask(destination)
        )

    async def _reconcile(self, message: sms.Message, source: str, destination: str) -> Any:
        assert message.send_started_at is not None
        try:
            candidates = await self._gateway.find_sent(
                source=source,
                destination=destination,
                text=message.text,
                since=message.send_started_at - RECONCILE_SKEW_SECONDS,
            )
        except RateLimited as exc:
            raise RetryLater(exc.message, after=exc.retry_after, count_attempt=False) from exc
        except (Unavailable, Rejected) as exc:
            raise RetryLater(f"cannot check whether the SMS was sent: {exc.message}") from exc
        async with self._engine.connect() as conn:
            for candidate in candidates:
                if await sms.find_message_by_voipbin_id(conn, candidate.id) is None:
                    log.warning(
                        "sms found after an unknown outcome; not sending again message_id=%d "
                        "voipbin_id=%s",
                        message.id,
                        candidate.id,
                    )
                    return candidate
        return None

    async def _fail(
        self, message: sms.Message, conversation: conversations.Conversation, reason: str
    ) -> None:
        now = self._clock()
        async with self._engine.begin() as conn:
            # A refusal is a definite answer: nothing was created, nothing to reconcile.
            await sms.update_message(conn, message.id, now, error=reason, send_started_at=None)
            await sms.raise_status(
                conn, message.id, status="failed", rank=st.rank("failed"), now=now
            )
        log.error(
            "sms failed message_id=%d to=%s reason=%s",
            message.id,
            mask(conversation.peer_number),
            reason,
        )
