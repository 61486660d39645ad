"""The bridge: intake of sends, thread replies and webhooks, and the jobs that carry them out.

Intake methods run inside an HTTP request. They only validate and write: the state change and
the job that acts on it commit in one transaction, and the caller answers at once. The job
handlers do the slow, fallible work (Slack posts, VoIPbin calls), each step recorded as it
completes so a retried job resumes where the last attempt stopped.

The work is done by services, each a plain class in a module of its own, given here the
parts it uses (the engine, the clock, the runner's doorbell, a port, a section of the config)
and the other services it calls: the sending policy (``checks``), sends (``sending``, carried
out by ``delivery``), held sends (``held``), retries (``retry``), thread replies (``replies``)
and their edits and undo window (``edits``), inbound SMS (``inbound``), opt-outs
(``opt_outs``), statuses (``statuses``), failure notices and alerts (``alerts``, rolled up by
``rollups``), thread roots (``threads``) and signatures (``signatures``). ``Bridge`` builds
them, registers their job handlers, and hands them out: ``bot.slack.app`` gives each Slack
listener the services it calls, ``web.py`` and ``bot/nopublic`` call ``accept``; the names
it has always had stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import status as st
from bot.bridge.alerts import Alerts
from bot.bridge.checks import NotRouted, NotRoutedHere, SendChecks
from bot.bridge.context import Wake
from bot.bridge.delivery import RECONCILE_SKEW_SECONDS, Delivery
from bot.bridge.directory import Directory
from bot.bridge.edits import ReplyEdits
from bot.bridge.held import HELD_SEND_TTL_SECONDS, HeldSends
from bot.bridge.inbound import PEER_WIDTH, Inbound
from bot.bridge.jobs import (
    CheckStuck,
    JobHandlers,
    Notice,
    PostInbound,
    ReleaseReply,
    RollupAlert,
    RollupRedraw,
    SendSms,
    ShowStatus,
    TakeInbound,
    Tell,
)
from bot.bridge.opt_outs import OptOuts
from bot.bridge.ports import Delivery as ProviderDelivery
from bot.bridge.ports import InboundSms, Messenger, SmsArchive, SmsGateway, StatusReport
from bot.bridge.replies import Replies
from bot.bridge.retry import Retries
from bot.bridge.rollups import AlertRollups
from bot.bridge.sending import Queued, Sending
from bot.bridge.signatures import SIGNATURE_TTL_SECONDS, Signatures
from bot.bridge.statuses import Statuses
from bot.bridge.threads import Threads
from bot.config import AppConfig
from bot.jobs.runner import Handler
from bot.jobs.writer import JobWriter
from bot.metrics import Metrics

__all__ = [
    "HELD_SEND_TTL_SECONDS",
    "PEER_WIDTH",
    "RECONCILE_SKEW_SECONDS",
    "SIGNATURE_TTL_SECONDS",
    "Bridge",
    "NotRouted",
    "NotRoutedHere",
    "Queued",
]


class Bridge:
    """One per process: the bridge's services, composed. ``wake`` tells the local job runner
    that work was written."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        config: AppConfig,
        messenger: Messenger,
        gateway: SmsGateway,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self._wake = Wake(wake)
        self._writer = JobWriter(engine)
        metrics = metrics or Metrics()
        # Each service is given the parts it uses, here and nowhere else.
        self.directory = Directory(
            engine=engine,
            config=config,
            archive=gateway if isinstance(gateway, SmsArchive) else None,
            clock=clock,
        )
        self.checks = checks = SendChecks(config=config, metrics=metrics)
        self.sending = Sending(
            engine=engine,
            clock=clock,
            wake=self._wake,
            checks=checks,
            idle_days=config.threads.idle_days,
        )
        self.held_sends = HeldSends(engine=engine, clock=clock, checks=checks, sending=self.sending)
        self.retries = Retries(engine=engine, clock=clock, wake=self._wake, checks=checks)
        self.edits = ReplyEdits(engine=engine, clock=clock, wake=self._wake, config=config.policy)
        self.replies = Replies(
            engine=engine, clock=clock, wake=self._wake, checks=checks, edits=self.edits
        )
        self.opt_outs = OptOuts(engine=engine, clock=clock, wake=self._wake, checks=checks)
        self.rollups = AlertRollups(
            engine=engine, clock=clock, messenger=messenger, config=config.alerts
        )
        self.alerts = Alerts(
            engine=engine,
            clock=clock,
            wake=self._wake,
            config=config.alerts,
            messenger=messenger,
            metrics=metrics,
            directory=self.directory,
            rollups=self.rollups,
        )
        self.statuses = Statuses(
            engine=engine,
            clock=clock,
            wake=self._wake,
            config=config.alerts,
            messenger=messenger,
            gateway=gateway,
            directory=self.directory,
            alerts=self.alerts,
        )
        self.threads = Threads(engine=engine, messenger=messenger, directory=self.directory)
        self.delivery = Delivery(
            engine=engine,
            clock=clock,
            config=config,
            messenger=messenger,
            gateway=gateway,
            metrics=metrics,
            threads=self.threads,
            statuses=self.statuses,
        )
        self.inbound = Inbound(
            engine=engine,
            clock=clock,
            wake=self._wake,
            writer=self._writer,
            config=config,
            messenger=messenger,
            metrics=metrics,
            directory=self.directory,
            threads=self.threads,
            alerts=self.alerts,
            opt_outs=self.opt_outs,
        )
        self.signatures = Signatures(engine=engine, clock=clock)
        # The names callers have always used (the tests, the demo); the Slack listeners take
        # the services themselves (``bot.slack.app``), web.py and bot/nopublic ``accept``.
        self.route_of = checks.route_of
        self.route_from = checks.route_from
        self.accept_send = self.sending.accept_send
        self.hold_send = self.held_sends.hold_send
        self.held = self.held_sends.held
        self.confirm_send = self.held_sends.confirm_send
        self.cancel_send = self.held_sends.cancel_send
        self.accept_retry = self.retries.accept_retry
        self.sent_from = self.retries.sent_from
        self.accept_reply = self.replies.accept_reply
        self.owns_thread = self.replies.owns_thread
        self.seen = self.replies.seen
        self.reply_changed = self.edits.reply_changed
        self.set_opt_out = self.opt_outs.set_by_hand
        self.signature = self.signatures.signature
        self.set_signature = self.signatures.set_signature
        self.signed = self.signatures.signed
        self.on_dead = self.alerts.on_dead

    def set_wake(self, wake: Callable[[], None]) -> None:
        self._wake.set(wake)

    async def aclose(self) -> None:
        """Wait for deliveries handed to the shared writer (at shutdown, before the engine
        goes)."""
        await self._writer.aclose()

    @property
    def handlers(self) -> Mapping[str, Handler]:
        """The handler of each job kind, for ``JobRunner``: each gets its job typed."""
        handlers = JobHandlers()
        handlers.register(SendSms, self.delivery.job_send_sms)
        handlers.register(TakeInbound, self.inbound.job_take_inbound)
        handlers.register(PostInbound, self.inbound.job_post_inbound)
        handlers.register(ShowStatus, self.statuses.job_show_status)
        handlers.register(CheckStuck, self.statuses.job_check_stuck)
        handlers.register(Notice, self.alerts.job_notice)
        handlers.register(Tell, self.alerts.job_tell)
        handlers.register(ReleaseReply, self.edits.job_release_reply)
        handlers.register(RollupAlert, self.rollups.job_rollup_alert)
        handlers.register(RollupRedraw, self.rollups.job_rollup_redraw)
        return handlers.for_runner()

    async def accept(self, delivery: ProviderDelivery) -> str:
        """Take in what the provider delivered; returns what was done, for logs and metrics."""
        if isinstance(delivery, InboundSms):
            return await self.accept_inbound(delivery)
        return await self.accept_status(delivery)

    async def accept_status(self, report: StatusReport) -> str:
        """Record a status the provider reported for an SMS we sent."""
        # A Telnyx-path SMS stays "queued" after its dispatch: the report says it reached
        # a carrier.
        status = st.reported(report.status, dispatched=report.dispatched)
        return await self.statuses.accept_status(report.sms_id, status)

    async def accept_inbound(self, sms: InboundSms) -> str:
        """Record an inbound SMS (``Inbound.accept``)."""
        return await self.inbound.accept(sms)
