"""Inbound SMS: a delivery accepted (one job row, nothing else inside the request), taken in
(its conversation, its message, STOP/START), and posted in its sender's thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import messages
from bot.bridge import status as st
from bot.bridge.alerts import Alerts
from bot.bridge.context import Clock, load
from bot.bridge.directory import Directory
from bot.bridge.jobs import PostInbound, TakeInbound, enqueue, job_row
from bot.bridge.opt_outs import OptOuts
from bot.bridge.outbox import slack
from bot.bridge.ports import InboundSms, Messenger
from bot.bridge.threads import Threads, retire_if_idle
from bot.config import AppConfig
from bot.jobs.writer import JobWriter
from bot.metrics import Metrics
from bot.phone import mask
from bot.store import conversations, sms

log = logging.getLogger("bot.bridge.service")

# The longest sender the store keeps (conversations.peer_number).
PEER_WIDTH = 64


class Inbound:
    """SMS sent to our numbers."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        writer: JobWriter,
        clock: Clock,
        wake: Callable[[], None],
        config: AppConfig,
        messenger: Messenger,
        metrics: Metrics,
        directory: Directory,
        threads: Threads,
        alerts: Alerts,
        opt_outs: OptOuts,
    ) -> None:
        """``writer``: the shared job writer deliveries are recorded through; ``config``:
        the region, the channel of each number and ``threads.idle_days``."""
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._wake = wake
        self._config = config
        self._messenger = messenger
        self._metrics = metrics
        self._directory = directory
        self._threads = threads
        self._alerts = alerts
        self._opt_outs = opt_outs

    async def accept(self, sms: InboundSms) -> str:
        """Record the delivery as a ``take_inbound`` job and answer: nothing else runs inside
        the request. The job is written in a transaction shared with concurrent deliveries
        (``JobWriter``), and its key, the provider's message id, makes a redelivery a no-op.
        The job's lane is the sender's conversation (our number, which names the channel,
        and the sender), so the SMS of one sender are taken in, and posted, in the order they
        were accepted. The sender is keyed as the provider wrote it; making it a number
        (costly: libphonenumber) is left to the job."""
        now = self._clock()
        take = TakeInbound.of(
            voipbin_id=sms.sms_id,
            our_number=sms.our_number,
            source=sms.sender,
            text=sms.text,
            received_at=now,
        )
        await self._writer.write(job_row(take, now=now))
        self._wake()
        return "inbound"

    async def job_take_inbound(self, job: TakeInbound, attempt: int) -> None:
        """An accepted inbound SMS: its conversation, its message row, the job that posts it,
        and STOP/START handling, in one transaction. Run again after a crash, it finds the
        message already stored (its key) and does nothing."""
        from bot.phone import normalize_sender

        voipbin_id, our_number = job.voipbin_id, job.our_number
        sender = normalize_sender(job.source, self._config.region)
        if len(sender) > PEER_WIDTH:
            # Not a number, and longer than any real sender ID (11 characters): keep the
            # message, under the name cut to what the store holds.
            log.warning("inbound sender cut to %d characters voipbin_id=%s", PEER_WIDTH, voipbin_id)
            sender = sender[:PEER_WIDTH]
        text, received_at = job.text, job.received_at
        channel = self._config.channel_for(our_number)
        now = self._clock()
        if channel is None:
            log.error(
                "inbound sms to a number with no channel our_number=%s voipbin_id=%s",
                our_number,
                voipbin_id,
            )
            async with self._engine.begin() as conn:
                await self._alerts.alert_channel_only(
                    conn,
                    key=f"unrouted:{voipbin_id}",
                    text=messages.unrouted(sender=mask(sender), our_number=our_number),
                    now=now,
                )
            self._wake()
            self._metrics.sms.labels(event="received", reason="unrouted").inc()
            return
        async with self._engine.begin() as conn:
            conversation = await conversations.get_or_create_conversation(
                conn, channel=channel, our_number=our_number, peer_number=sender, now=now
            )
            conversation = await retire_if_idle(
                conn, conversation, idle_days=self._config.threads.idle_days, now=now
            )
            message_id = await sms.insert_message(
                conn,
                key=f"in:{voipbin_id}",
                conversation_id=conversation.id,
                direction="inbound",
                origin="inbound",
                text=text,
                voipbin_id=voipbin_id,
                status="received",
                status_rank=st.rank("received"),
                # Accepted is when the bridge took responsibility: end-to-end latency counts
                # from there.
                now=received_at,
            )
            if message_id is None:
                return
            await enqueue(conn, PostInbound.of(conversation, message_id), now=now)
            await conversations.touch_conversation(conn, conversation.id, now)
            await self._opt_outs.keyword(conn, conversation, text, message_id, now)
        self._wake()
        self._metrics.sms.labels(event="received", reason="").inc()
        log.info(
            "sms received conversation_id=%d message_id=%d voipbin_id=%s",
            conversation.id,
            message_id,
            voipbin_id,
        )

    async def job_post_inbound(self, job: PostInbound, attempt: int) -> None:
        message, conversation = await load(self._engine, job.message_id)
        if message.slack_ts is not None:
            return
        thread_ts = await self._threads.ensure(conversation, attempt)
        names = await self._directory.names([conversation.peer_number])
        ts: str = await slack(
            self._messenger.post_inbound(
                channel=conversation.channel,
                thread_ts=thread_ts,
                sender=conversation.peer_number,
                text=message.text,
                key=f"msg:{message.id}",
                reconcile=attempt > 1,
                name=names.get(conversation.peer_number),
            )
        )
        now = self._clock()
        async with self._engine.begin() as conn:
            await sms.update_message(conn, message.id, now, slack_ts=ts)
        self._metrics.end_to_end.labels(direction="inbound").observe(now - message.created_at)
