"""The status of outgoing SMS: VoIPbin's reports taken in (forward only), shown on the SMS's
Slack message, alerted once when it failed, and the check for an SMS VoIPbin never
dispatched (``alerts.stuck_after``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import messages
from bot.bridge import status as st
from bot.bridge.alerts import Alerts
from bot.bridge.context import Clock, load
from bot.bridge.directory import Directory
from bot.bridge.jobs import CheckStuck, ShowStatus
from bot.bridge.messages import UNCONFIRMED_REFUSAL, unconfirmed_refusal
from bot.bridge.outbox import enqueue_show, slack
from bot.bridge.ports import (
    Messenger,
    OutgoingView,
    RateLimited,
    Rejected,
    SmsGateway,
    Unavailable,
)
from bot.config import AlertsConfig
from bot.jobs.runner import RetryLater
from bot.store import conversations, early_statuses, sms

log = logging.getLogger("bot.bridge.service")


class Statuses:
    """Status reports, status lines, failure alerts of outgoing SMS."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        wake: Callable[[], None],
        config: AlertsConfig,
        messenger: Messenger,
        gateway: SmsGateway,
        directory: Directory,
        alerts: Alerts,
    ) -> None:
        """``config``: when an SMS still not dispatched is alerted (``alerts.stuck_after``)."""
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._config = config
        self._messenger = messenger
        self._gateway = gateway
        self._directory = directory
        self._alerts = alerts

    async def accept_status(self, voipbin_id: str, raw_status: str) -> str:
        if not raw_status:
            return "ignored"
        rank = st.rank(raw_status)
        now = self._clock()
        async with self._engine.begin() as conn:
            await early_statuses.lock_voipbin_id(conn, voipbin_id)
            found = await sms.find_message_by_voipbin_id(conn, voipbin_id)
            if found is None:
                # The send's answer has not been stored yet (or the SMS was not ours): keep
                # the status until it is.
                await early_statuses.remember_early_status(
                    conn, voipbin_id=voipbin_id, status=raw_status, rank=rank, now=now
                )
                return "status-early"
            changed = await sms.raise_status(conn, found.id, status=raw_status, rank=rank, now=now)
            if changed:
                if (found.error or "").startswith(messages.NOT_DISPATCHED_NOTE):
                    # Alerted as not dispatched, and dispatched after all: the note is wrong now.
                    await sms.update_message(conn, found.id, now, error=None)
                await enqueue_show(conn, found, raw_status, now)
        if changed:
            self._wake()
            log.info("sms status message_id=%d status=%s", found.id, raw_status)
            return "status"
        return "status-stale"

    async def view(
        self, message: sms.Message, conversation: conversations.Conversation
    ) -> OutgoingView:
        """What the Slack message of an outgoing SMS shows, with the contact's name as it is
        now (a status redraw after ``/sms name`` shows the new one)."""
        names = await self._directory.names([conversation.peer_number])
        note = message.error or ""
        if unconfirmed_refusal(note):
            note = UNCONFIRMED_REFUSAL.strip()  # what may follow is not known yet
        if not note and st.phase(message.status) is st.Phase.FAILED:
            # A failed status line always says why, in words (VoIPbin's webhook only
            # carries the status itself).
            note = messages.failure_words(message.status)
        return OutgoingView(
            peer=conversation.peer_number,
            our_number=conversation.our_number,
            author=message.author or "",
            text=message.text,
            status=message.status,
            note=note,
            message_id=message.id,
            name=names.get(conversation.peer_number),
        )

    async def show(self, message_id: int, *, force: bool = False) -> None:
        """Bring the Slack message of an SMS up to date with its status, then alert once if
        it failed. ``force`` redraws it even when the status is unchanged (a new note)."""
        message, conversation = await load(self._engine, message_id)
        unchanged = message.status == message.shown_status and not force
        if message.slack_ts is None or unchanged:
            await self._alert_if_failed(message, conversation)
            return
        if message.origin == "command":
            await slack(
                self._messenger.update_outgoing(
                    channel=conversation.channel,
                    ts=message.slack_ts,
                    view=await self.view(message, conversation),
                )
            )
        elif message.origin == "reply":
            await slack(
                self._messenger.mark_reply(
                    channel=conversation.channel,
                    ts=message.slack_ts,
                    status=message.status,
                    previous=message.shown_status,
                )
            )
        async with self._engine.begin() as conn:
            await sms.update_message(conn, message.id, self._clock(), shown_status=message.status)
        await self._alert_if_failed(message, conversation)

    async def _alert_if_failed(
        self, message: sms.Message, conversation: conversations.Conversation
    ) -> None:
        if st.phase(message.status) is not st.Phase.FAILED or message.alerted:
            return
        peer = await self._alerts.name_of(conversation.peer_number)
        if message.voipbin_id is None and message.error:
            # Refused at the send: the reason says so, and that it was not sent.
            text = messages.send_refused(peer=peer, reason=message.error)
        else:
            reason = message.error or messages.failure_words(message.status)
            text = messages.send_failed(peer=peer, reason=reason)
        await self._alerts.raise_alert_once(message, conversation, kind="failed", text=text)

    async def job_show_status(self, job: ShowStatus, attempt: int) -> None:
        await self.show(job.message_id, force=job.force)

    async def job_check_stuck(self, job: CheckStuck, attempt: int) -> None:
        """``alerts.stuck_after`` after a send: is the SMS still not dispatched? One that
        VoIPbin handed to a carrier is not stuck, even when no status came (its Telnyx path
        leaves it "queued"; nothing reports delivery on either path). Only one VoIPbin never
        dispatched (``tm_update`` null: every provider failed, or it is very late) is
        alerted, once (this job's key is the message's)."""
        message, conversation = await load(self._engine, job.message_id)
        if st.phase(message.status) is not st.Phase.PENDING or message.voipbin_id is None:
            return
        try:
            current = await self._gateway.status(message.voipbin_id)
        except RateLimited as exc:
            raise RetryLater(exc.message, after=exc.retry_after, count_attempt=False) from exc
        except (Unavailable, Rejected) as exc:
            raise RetryLater(f"cannot read the SMS status: {exc.message}") from exc
        if st.phase(current) is not st.Phase.PENDING:
            # The webhook that said so was lost or is late: take the status from here.
            await self.accept_status(message.voipbin_id, current)
            return
        minutes = max(1, round(self._config.stuck_after / 60))
        now = self._clock()
        async with self._engine.begin() as conn:
            await sms.update_message(
                conn,
                message.id,
                now,
                error=messages.not_dispatched_note(minutes),
            )
            await enqueue_show(conn, message, "stuck", now, force=True)
        peer = await self._alerts.name_of(conversation.peer_number)
        text = messages.not_dispatched(peer=peer, minutes=minutes)
        await self._alerts.raise_alert_once(message, conversation, kind="stuck", text=text)
