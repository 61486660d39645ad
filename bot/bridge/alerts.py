"""Telling people that something failed: notices in the conversation's thread (broadcast to
the channel, at most once per roll-up window), posts in the alert channel (rolled up by
``rollups``), and what a job that gave up leaves behind (``on_dead``). The notice and tell jobs
that post them run here too."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import messages
from bot.bridge import status as st
from bot.bridge.context import Clock
from bot.bridge.directory import Directory
from bot.bridge.jobs import MessageJob, Notice, Tell, enqueue, read
from bot.bridge.messages import who
from bot.bridge.outbox import enqueue_show, slack, thread_notice
from bot.bridge.ports import Messenger
from bot.bridge.rollups import AlertRollups
from bot.config import AlertsConfig
from bot.jobs.queue import Job
from bot.metrics import Metrics
from bot.store import conversations, seen_events, sms
from bot.store.directory import contact_names

# The bridge's log lines keep the logger they had before it was split into modules.
log = logging.getLogger("bot.bridge.service")


class Alerts:
    """Failure notices and alerts, and the jobs that post notices."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        wake: Callable[[], None],
        config: AlertsConfig,
        messenger: Messenger,
        metrics: Metrics,
        directory: Directory,
        rollups: AlertRollups,
    ) -> None:
        """``config``: where alerts go (``alerts.channel``) and how they roll up."""
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._config = config
        self._messenger = messenger
        self._metrics = metrics
        self._directory = directory
        self._rollups = rollups

    async def alert_channel_only(
        self, conn: AsyncConnection, *, key: str, text: str, now: float
    ) -> None:
        if self._config.channel is None:
            return
        await enqueue(conn, Notice.alert_post(self._config.channel, key=key, text=text), now=now)

    async def alert(
        self,
        conn: AsyncConnection,
        *,
        key: str,
        conversation: conversations.Conversation,
        text: str,
        now: float,
        in_thread: bool = True,
        retry: int | None = None,
    ) -> None:
        """A notice in the conversation's thread, broadcast to the channel, and a post in the
        alert channel when one is configured."""
        if in_thread:
            broadcast = await self._broadcast_allowed(conn, conversation.channel, now)
            await thread_notice(
                conn, conversation, key=key, text=text, now=now, broadcast=broadcast, retry=retry
            )
        else:
            await enqueue(
                conn, Notice.in_channel(conversation.channel, key=key, text=text), now=now
            )
        if self._config.channel is not None:
            await self._rollups.enqueue_alert(
                conn, key=key, conversation=conversation, text=text, now=now
            )

    async def _broadcast_allowed(self, conn: AsyncConnection, channel: str, now: float) -> bool:
        """Whether a failure notice is also shown in the channel, besides its thread. When
        an alert channel rolls failures up, one per channel per ``alerts.rollup_seconds`` is:
        the others stay in their threads and are all listed in the one roll-up alert, so a
        bad minute is not a stream of channel posts. Without a roll-up, each is shown."""
        window = self._config.rollup_seconds
        if self._config.channel is None or window <= 0:
            return True
        return await seen_events.claim_broadcast(conn, channel, now=now, window=window)

    async def raise_alert_once(
        self,
        message: sms.Message,
        conversation: conversations.Conversation,
        *,
        kind: str,
        text: str,
    ) -> None:
        reason = kind if kind != "failed" else (message.status or "failed")
        self._metrics.sms.labels(event="failed", reason=reason).inc()
        now = self._clock()
        async with self._engine.begin() as conn:
            await sms.update_message(conn, message.id, now, alerted=True)
            await self.alert(
                conn,
                key=f"{kind}:{message.id}",
                conversation=conversation,
                text=text,
                now=now,
                retry=retry_on_notice(message, kind),
            )
        self._wake()

    async def name_of(self, peer: str) -> str:
        """How a notice names the other party: the contact's name and number, or the number."""
        return who(peer, (await self._directory.names([peer])).get(peer))

    async def job_notice(self, job: Notice, attempt: int) -> None:
        thread_ts: str | None = None
        link: str | None = None
        if job.conversation_id is not None:
            async with self._engine.connect() as conn:
                conversation = await conversations.get_conversation(conn, job.conversation_id)
            if job.alert:
                if conversation.thread_ts is not None:
                    link = await self._messenger.permalink(
                        channel=conversation.channel, ts=conversation.thread_ts
                    )
            else:
                thread_ts = conversation.thread_ts
        await slack(
            self._messenger.post_notice(
                channel=job.channel_id,
                thread_ts=thread_ts,
                text=job.text,
                broadcast=thread_ts is not None and job.broadcast,
                key=job.key,
                reconcile=attempt > 1,
                link=link,
                mention=job.mention or None,
                retry=job.retry or None,
            )
        )

    async def job_tell(self, job: Tell, attempt: int) -> None:
        await slack(
            self._messenger.tell(
                channel=job.channel_id, user=job.user, thread_ts=job.thread_ts, text=job.text
            )
        )

    async def on_dead(self, conn: AsyncConnection, job: Job, reason: str) -> None:
        """A job gave up: make it visible (written in the same transaction as the dead row).
        What is said comes from the job's model (``BridgeJob.alerted_when_dead``,
        ``MessageJob.dead_notice``)."""
        now = self._clock()
        try:
            typed = read(job)
        except ValueError:  # a payload that fits no model: said as a job about no message
            typed = None
        if typed is not None and not typed.alerted_when_dead:
            # An alert that cannot be posted: the error log is the last resort.
            log.error("alert could not be posted key=%s reason=%s", job.key, reason)
            return
        if not isinstance(typed, MessageJob):
            await self.alert_channel_only(
                conn,
                key=f"dead:{job.id}",
                text=messages.job_gave_up(kind=job.kind, reason=reason),
                now=now,
            )
            return
        message = await sms.get_message(conn, typed.message_id)
        conversation = await conversations.get_conversation(conn, message.conversation_id)
        name = (await contact_names(conn, [conversation.peer_number])).get(conversation.peer_number)
        notice = typed.dead_notice(
            message, conversation, peer=who(conversation.peer_number, name), reason=reason
        )
        if notice.unsent:
            self._metrics.sms.labels(event="failed", reason="not_sent").inc()
            await sms.update_message(conn, message.id, now, error=reason, alerted=True)
            if await sms.raise_status(
                conn, message.id, status="failed", rank=st.rank("failed"), now=now
            ):
                await enqueue_show(conn, message, "failed", now)
        await self.alert(
            conn,
            key=f"dead:{job.id}",
            conversation=conversation,
            text=notice.text,
            now=now,
            in_thread=conversation.thread_ts is not None,
            retry=retry_on_notice(message, "failed") if notice.unsent else None,
        )


def retry_on_notice(message: sms.Message, kind: str) -> int | None:
    """A failed thread reply has no status message of its own (its status is reactions on
    the person's message), so the failure notice carries its Retry button."""
    return message.id if message.origin == "reply" and kind == "failed" else None
