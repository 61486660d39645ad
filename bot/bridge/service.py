"""The bridge: intake of sends, thread replies and webhooks, and the jobs that carry them out.

Intake methods run inside an HTTP request. They only validate and write: the state change and
the job that acts on it commit in one transaction, and the caller answers at once. The job
handlers do the slow, fallible work (Slack posts, VoIPbin calls), each step recorded as it
completes so a retried job resumes where the last attempt stopped.

The bridge is composed of services, each in a module of its own and built on one shared
``BridgeContext`` (``bot.bridge.context``): the send intake (``sending``) and the sending
policy (``checks``), held sends (``held``), retries (``retry``), reply edits and the undo
window (``edits``), alert roll-ups (``rollups``) and signatures (``signatures``). ``Bridge``
composes them, holds the intake and jobs not yet moved out (thread replies, inbound SMS,
statuses), and is the one object the Slack side and ``web.py`` call during the transition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import messages, policy
from bot.bridge import status as st
from bot.bridge.checks import NotRouted, NotRoutedHere, SendChecks
from bot.bridge.context import BridgeContext, Wake
from bot.bridge.directory import Directory
from bot.bridge.edits import ReplyEdits
from bot.bridge.held import HELD_SEND_TTL_SECONDS, HeldSends
from bot.bridge.jobs import (
    CheckStuck,
    JobHandlers,
    MessageJob,
    Notice,
    PostInbound,
    ReleaseReply,
    RollupAlert,
    RollupRedraw,
    SendSms,
    ShowStatus,
    TakeInbound,
    Tell,
    enqueue,
    job_row,
    read,
)
from bot.bridge.messages import who
from bot.bridge.outbox import enqueue_show, slack, thread_notice
from bot.bridge.ports import (
    MaybeRefused,
    Messenger,
    OutgoingView,
    RateLimited,
    Rejected,
    SmsArchive,
    SmsGateway,
    Unavailable,
)
from bot.bridge.retry import Retries
from bot.bridge.rollups import AlertRollups
from bot.bridge.sending import Queued, Sending
from bot.bridge.signatures import SIGNATURE_TTL_SECONDS, Signatures
from bot.bridge.threads import retire_if_idle
from bot.config import AppConfig
from bot.jobs.queue import Job
from bot.jobs.runner import Handler, RetryLater
from bot.jobs.writer import JobWriter
from bot.metrics import Metrics
from bot.phone import count_segments, format_international, mask
from bot.store import interactive, repo, threads
from bot.store.directory import contact_names
from bot.voipbin.webhook import WebhookEvent

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

log = logging.getLogger(__name__)

# Clocks differ: when looking for an SMS that an earlier attempt may have created, look a
# little further back than the attempt's start.
RECONCILE_SKEW_SECONDS = 120.0

# The longest sender the store keeps (conversations.peer_number).
PEER_WIDTH = 64

# The status note of an SMS VoIPbin has not dispatched by ``alerts.stuck_after``; cleared when
# it is dispatched after all.
NOT_DISPATCHED_NOTE = "VoIPbin has not handed it to a carrier"


class Bridge:
    """One per process. ``wake`` tells the local job runner that work was written."""

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
        ctx = BridgeContext(
            engine=engine,
            config=config,
            messenger=messenger,
            gateway=gateway,
            clock=clock,
            metrics=metrics or Metrics(),
            wake=Wake(wake),
            writer=JobWriter(engine),
            directory=Directory(
                engine=engine,
                config=config,
                archive=gateway if isinstance(gateway, SmsArchive) else None,
                clock=clock,
            ),
        )
        self._ctx = ctx
        self._engine = ctx.engine
        self.config = ctx.config
        self._messenger = ctx.messenger
        self._gateway = ctx.gateway
        self._clock = ctx.clock
        self._metrics = ctx.metrics
        self._wake = ctx.wake
        self._writer = ctx.writer
        self.directory = ctx.directory
        # The services.
        self._checks = SendChecks(config=config, metrics=ctx.metrics)
        self.sending = Sending(ctx, self._checks)
        self.held_sends = HeldSends(ctx, self._checks, self.sending)
        self.retries = Retries(ctx, self._checks)
        self.edits = ReplyEdits(ctx)
        self.rollups = AlertRollups(ctx)
        self.signatures = Signatures(ctx)
        # What the Slack side calls, under the names it has always called (one object
        # during the transition; a listener can take the one service it uses instead).
        self.route_of = self._checks.route_of
        self.route_from = self._checks.route_from
        self.accept_send = self.sending.accept_send
        self.hold_send = self.held_sends.hold_send
        self.held = self.held_sends.held
        self.confirm_send = self.held_sends.confirm_send
        self.cancel_send = self.held_sends.cancel_send
        self.accept_retry = self.retries.accept_retry
        self.sent_from = self.retries.sent_from
        self.reply_changed = self.edits.reply_changed
        self.signature = self.signatures.signature
        self.set_signature = self.signatures.set_signature
        self.signed = self.signatures.signed

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
        handlers.register(SendSms, self._job_send_sms)
        handlers.register(TakeInbound, self._job_take_inbound)
        handlers.register(PostInbound, self._job_post_inbound)
        handlers.register(ShowStatus, self._job_show_status)
        handlers.register(CheckStuck, self._job_check_stuck)
        handlers.register(Notice, self._job_notice)
        handlers.register(Tell, self._job_tell)
        handlers.register(ReleaseReply, self.edits.job_release_reply)
        handlers.register(RollupAlert, self.rollups.job_rollup_alert)
        handlers.register(RollupRedraw, self.rollups.job_rollup_redraw)
        return handlers.for_runner()

    # -- intake ----------------------------------------------------------------------------

    async def accept_reply(
        self,
        *,
        team: str,
        channel: str,
        thread_ts: str,
        ts: str,
        user: str,
        text: str,
        event_key: str | None = None,
        user_groups: set[str] | None = None,
    ) -> str:
        """A person replied in a thread: ``"queued"`` when it is one of ours and an SMS was
        queued, ``"refused"`` when the policy stopped it (the person is told why), and
        ``"ignored"`` for other threads and for a redelivery of a reply already taken.
        ``event_key`` (the Slack event id) is recorded with the work, so a redelivery of the
        event can be recognised before doing anything."""
        now = self._clock()
        async with self._engine.begin() as conn:
            if event_key is not None:
                await repo.first_seen(conn, event_key, now)
            conversation = await threads.find_conversation_by_any_thread(
                conn, channel=channel, thread_ts=thread_ts
            )
            if conversation is None:
                return "ignored"
            key = f"reply:{team}:{channel}:{ts}"
            refusal = await self._checks.check_conversation(
                conn,
                conversation,
                user=user,
                user_groups=user_groups,
                text=text,
                now=now,
                sender="this thread",
            )
            if refusal is not None:
                if not await repo.first_seen(conn, f"refused:{key}", now):
                    return "ignored"
                await self._checks.refuse(
                    conn,
                    refusal,
                    user=user,
                    channel=channel,
                    our_number=conversation.our_number,
                    peers=[conversation.peer_number],
                    now=now,
                )
                tell = Tell.of(
                    key=key, channel=channel, user=user, thread_ts=thread_ts, text=refusal.message
                )
                await enqueue(conn, tell, now=now)
                self._wake()
                return "refused"
            message_id = await repo.insert_message(
                conn,
                key=key,
                conversation_id=conversation.id,
                direction="outbound",
                origin="reply",
                text=text,
                author=user,
                slack_ts=ts,
                status="queued",
                status_rank=0,
                now=now,
            )
            if message_id is None:
                return "ignored"
            await self.edits.enqueue_reply_send(conn, conversation, message_id, now)
            await repo.add_audit(
                conn,
                actor=user,
                action="sent",
                now=now,
                channel=channel,
                our_number=conversation.our_number,
                peer_number=conversation.peer_number,
                segments=count_segments(text).segments,
                detail=text,
            )
        self._wake()
        log.info(
            "sms accepted origin=reply conversation_id=%d message_id=%d",
            conversation.id,
            message_id,
        )
        return "queued"

    async def set_opt_out(self, *, channel: str, user: str, peer: str, opted_out: bool) -> bool:
        """Staff set a number's opt-out by hand (``/sms optout|optin``); audited, and said in
        the number's thread. True when the state changed."""
        route = self.route_of(channel)
        now = self._clock()
        async with self._engine.begin() as conn:
            changed = await repo.set_opt_out(
                conn,
                our_number=route.number,
                peer_number=peer,
                opted_out=opted_out,
                by=user,
                now=now,
            )
            if not changed:
                return False
            action = "opt_out" if opted_out else "opt_in"
            await repo.add_audit(
                conn,
                actor=user,
                action=action,
                now=now,
                channel=channel,
                our_number=route.number,
                peer_number=peer,
                detail="set by hand in Slack",
            )
            conversation = await repo.get_or_create_conversation(
                conn, channel=channel, our_number=route.number, peer_number=peer, now=now
            )
            if conversation.thread_ts is not None:
                pretty = format_international(peer)
                text = (
                    f"{pretty} is now opted out: no SMS will be sent to it until it sends START."
                    if opted_out
                    else f"{pretty} is opted back in: SMS can be sent to it again."
                )
                await thread_notice(
                    conn,
                    conversation,
                    key=f"{action}:{conversation.id}:{now}",
                    text=text,
                    now=now,
                    mention=user,
                )
        self._wake()
        return True

    async def owns_thread(self, *, channel: str, thread_ts: str) -> bool:
        async with self._engine.connect() as conn:
            found = await threads.find_conversation_by_any_thread(
                conn, channel=channel, thread_ts=thread_ts
            )
            return found is not None

    async def seen(self, key: str) -> bool:
        """Whether a delivery key (a Slack event id) was already taken in."""
        async with self._engine.connect() as conn:
            return await repo.was_seen(conn, key)

    async def accept_webhook(self, event: WebhookEvent) -> str:
        """Take in a VoIPbin delivery; returns what was done, for logs and metrics."""
        message = event.message
        if message is None or event.type == "message_deleted":
            return "ignored"
        if message.direction == "inbound" and event.type == "message_created":
            return await self._accept_inbound(event)
        if message.direction == "outbound":
            # A Telnyx-path SMS stays "queued" after its dispatch: the update itself (or
            # tm_update) says it reached a carrier.
            status = st.reported(message.status, dispatched=event.dispatched)
            return await self._accept_status(message.id, status)
        return "ignored"

    async def _accept_inbound(self, event: WebhookEvent) -> str:
        """Record the delivery as a ``take_inbound`` job and answer: nothing else runs inside
        the request. The job is written in a transaction shared with concurrent deliveries
        (``JobWriter``), and its key, the VoIPbin message id, makes a redelivery a no-op.
        The job's lane is the sender's conversation (our number, which names the channel,
        and the sender), so the SMS of one sender are taken in, and posted, in the order they
        were accepted. The sender is keyed as VoIPbin wrote it; making it a number (costly:
        libphonenumber) is left to the job."""
        message = event.message
        assert message is not None
        our_number = message.our_number_inbound
        source = message.source.target
        now = self._clock()
        take = TakeInbound.of(
            voipbin_id=message.id,
            our_number=our_number,
            source=source,
            text=message.text,
            received_at=now,
        )
        await self._writer.write(job_row(take, now=now))
        self._wake()
        return "inbound"

    async def _job_take_inbound(self, job: TakeInbound, attempt: int) -> None:
        """An accepted inbound SMS: its conversation, its message row, the job that posts it,
        and STOP/START handling, in one transaction. Run again after a crash, it finds the
        message already stored (its key) and does nothing."""
        from bot.phone import normalize_sender

        voipbin_id, our_number = job.voipbin_id, job.our_number
        sender = normalize_sender(job.source, self.config.region)
        if len(sender) > PEER_WIDTH:
            # Not a number, and longer than any real sender ID (11 characters): keep the
            # message, under the name cut to what the store holds.
            log.warning("inbound sender cut to %d characters voipbin_id=%s", PEER_WIDTH, voipbin_id)
            sender = sender[:PEER_WIDTH]
        text, received_at = job.text, job.received_at
        channel = self.config.channel_for(our_number)
        now = self._clock()
        if channel is None:
            log.error(
                "inbound sms to a number with no channel our_number=%s voipbin_id=%s",
                our_number,
                voipbin_id,
            )
            async with self._engine.begin() as conn:
                await self._alert_channel_only(
                    conn,
                    key=f"unrouted:{voipbin_id}",
                    text=(
                        f"An SMS from {mask(sender)} arrived on {our_number}, which is not "
                        "routed to any channel in app.yaml; it was not posted. Add the number "
                        "to `numbers` in app.yaml."
                    ),
                    now=now,
                )
            self._wake()
            self._metrics.sms.labels(event="received", reason="unrouted").inc()
            return
        async with self._engine.begin() as conn:
            conversation = await repo.get_or_create_conversation(
                conn, channel=channel, our_number=our_number, peer_number=sender, now=now
            )
            conversation = await retire_if_idle(
                conn, conversation, idle_days=self.config.threads.idle_days, now=now
            )
            message_id = await repo.insert_message(
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
            await repo.touch_conversation(conn, conversation.id, now)
            await self._opt_keyword(conn, conversation, text, message_id, now)
        self._wake()
        self._metrics.sms.labels(event="received", reason="").inc()
        log.info(
            "sms received conversation_id=%d message_id=%d voipbin_id=%s",
            conversation.id,
            message_id,
            voipbin_id,
        )

    async def _opt_keyword(
        self,
        conn: AsyncConnection,
        conversation: repo.Conversation,
        text: str,
        message_id: int,
        now: float,
    ) -> None:
        """STOP and friends opt the number out of SMS from this number; START opts back in."""
        word = policy.keyword(text)
        if word is None:
            return
        opted_out = word == "opt_out"
        changed = await repo.set_opt_out(
            conn,
            our_number=conversation.our_number,
            peer_number=conversation.peer_number,
            opted_out=opted_out,
            by="sms",
            now=now,
        )
        if not changed:
            return
        await repo.add_audit(
            conn,
            actor="sms",
            action=word,
            now=now,
            channel=conversation.channel,
            our_number=conversation.our_number,
            peer_number=conversation.peer_number,
            detail=text.strip(),
        )
        pretty = format_international(conversation.peer_number)
        notice = (
            f"{pretty} replied {text.strip().upper()} and is now opted out: no SMS will be sent "
            "to this number until it sends START."
            if opted_out
            else f"{pretty} sent {text.strip().upper()} and is opted back in: SMS can be sent "
            "again."
        )
        await thread_notice(conn, conversation, key=f"{word}:{message_id}", text=notice, now=now)
        log.info("opt-out changed conversation_id=%d opted_out=%s", conversation.id, opted_out)

    async def _accept_status(self, voipbin_id: str, raw_status: str) -> str:
        if not raw_status:
            return "ignored"
        rank = st.rank(raw_status)
        now = self._clock()
        async with self._engine.begin() as conn:
            await repo.lock_voipbin_id(conn, voipbin_id)
            found = await repo.find_message_by_voipbin_id(conn, voipbin_id)
            if found is None:
                # The send's answer has not been stored yet (or the SMS was not ours): keep
                # the status until it is.
                await repo.remember_early_status(
                    conn, voipbin_id=voipbin_id, status=raw_status, rank=rank, now=now
                )
                return "status-early"
            changed = await repo.raise_status(conn, found.id, status=raw_status, rank=rank, now=now)
            if changed:
                if (found.error or "").startswith(NOT_DISPATCHED_NOTE):
                    # Alerted as not dispatched, and dispatched after all: the note is wrong now.
                    await repo.update_message(conn, found.id, now, error=None)
                await enqueue_show(conn, found, raw_status, now)
        if changed:
            self._wake()
            log.info("sms status message_id=%d status=%s", found.id, raw_status)
            return "status"
        return "status-stale"

    # -- job writing helpers ----------------------------------------------------------------

    async def _alert_channel_only(
        self, conn: AsyncConnection, *, key: str, text: str, now: float
    ) -> None:
        if self.config.alerts.channel is None:
            return
        await enqueue(
            conn, Notice.alert_post(self.config.alerts.channel, key=key, text=text), now=now
        )

    async def _alert(
        self,
        conn: AsyncConnection,
        *,
        key: str,
        conversation: repo.Conversation,
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
        if self.config.alerts.channel is not None:
            await self.rollups.enqueue_alert(
                conn, key=key, conversation=conversation, text=text, now=now
            )

    async def _broadcast_allowed(self, conn: AsyncConnection, channel: str, now: float) -> bool:
        """Whether a failure notice is also shown in the channel, besides its thread. When
        an alert channel rolls failures up, one per channel per ``alerts.rollup_seconds`` is:
        the others stay in their threads and are all listed in the one roll-up alert, so a
        bad minute is not a stream of channel posts. Without a roll-up, each is shown."""
        window = self.config.alerts.rollup_seconds
        if self.config.alerts.channel is None or window <= 0:
            return True
        return await interactive.claim_broadcast(conn, channel, now=now, window=window)

    # -- jobs ------------------------------------------------------------------------------

    async def _load(self, message_id: int) -> tuple[repo.Message, repo.Conversation]:
        async with self._engine.connect() as conn:
            message = await repo.get_message(conn, message_id)
            conversation = await repo.get_conversation(conn, message.conversation_id)
            return message, conversation

    async def _ensure_thread(self, conversation: repo.Conversation, attempt: int) -> str:
        if conversation.thread_ts is not None:
            return conversation.thread_ts
        async with self._engine.connect() as conn:
            opted_out = await repo.is_opted_out(
                conn, our_number=conversation.our_number, peer_number=conversation.peer_number
            )
            previous = await threads.previous_thread(conn, conversation.id)
        names = await self.directory.names([conversation.peer_number])
        ts: str = await slack(
            self._messenger.open_thread(
                channel=conversation.channel,
                peer=conversation.peer_number,
                our_number=conversation.our_number,
                # A new thread after an idle one gets a key of its own.
                key=f"root:{conversation.id}" + (f":{previous}" if previous else ""),
                reconcile=attempt > 1,
                opted_out=opted_out,
                name=names.get(conversation.peer_number),
                previous_thread_ts=previous,
            )
        )
        async with self._engine.begin() as conn:
            await repo.set_thread(conn, conversation.id, ts)
        log.info(
            "thread opened conversation_id=%d channel=%s", conversation.id, conversation.channel
        )
        return ts

    async def _who(self, peer: str) -> str:
        """How a notice names the other party: the contact's name and number, or the number."""
        return who(peer, (await self.directory.names([peer])).get(peer))

    async def _view(self, message: repo.Message, conversation: repo.Conversation) -> OutgoingView:
        """What the Slack message of an outgoing SMS shows, with the contact's name as it is
        now (a status redraw after ``/sms name`` shows the new one)."""
        names = await self.directory.names([conversation.peer_number])
        note = message.error or ""
        if _unconfirmed_refusal(note):
            note = UNCONFIRMED_REFUSAL.strip()  # what may follow is not known yet
        if not note and st.phase(message.status) is st.Phase.FAILED:
            # A failed status line always says why, in words (VoIPbin's webhook only
            # carries the status itself).
            note = st.describe_failure(message.status)
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

    async def _job_send_sms(self, job: SendSms, attempt: int) -> None:
        message, conversation = await self._load(job.message_id)
        thread_ts = await self._ensure_thread(conversation, attempt)
        if message.origin == "command" and message.slack_ts is None:
            ts: str = await slack(
                self._messenger.post_outgoing(
                    channel=conversation.channel,
                    thread_ts=thread_ts,
                    view=await self._view(message, conversation),
                    key=f"msg:{message.id}",
                    reconcile=attempt > 1,
                )
            )
            now = self._clock()
            async with self._engine.begin() as conn:
                await repo.update_message(conn, message.id, now, slack_ts=ts, shown_status="queued")
            message, conversation = await self._load(message.id)
        settled = st.phase(message.status) in (st.Phase.FAILED, st.Phase.CANCELLED)
        if message.voipbin_id is None and not settled:
            last = attempt >= self.config.jobs.max_attempts
            await self._send(message, conversation, last_attempt=last)
        # Show the status reached so far (a webhook may have moved it on already).
        await self._show(message.id)

    async def _send(
        self, message: repo.Message, conversation: repo.Conversation, *, last_attempt: bool
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
            if sent is None and last_attempt and _unconfirmed_refusal(message.error):
                assert message.error is not None
                await self._fail(message, conversation, _refusal(message.error))
                return
        if sent is None:
            now = self._clock()
            async with self._engine.begin() as conn:
                await repo.update_message(conn, message.id, now, send_started_at=now)
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
                    await repo.update_message(conn, message.id, self._clock(), send_started_at=None)
                raise RetryLater(exc.message, after=exc.retry_after, count_attempt=False) from exc
            except MaybeRefused as exc:
                # Remembered on the message (its note while it is retried): the last
                # attempt needs to know what the last send was answered.
                words = refusal_words(exc.status, exc.detail)
                async with self._engine.begin() as conn:
                    await repo.update_message(
                        conn, message.id, self._clock(), error=UNCONFIRMED_REFUSAL + words
                    )
                if not last_attempt:
                    raise RetryLater(
                        f"VoIPbin answered the send {exc.status}; looking for it before "
                        f"sending again: {exc.message}"
                    ) from exc
                # No attempt is left to look it up in (earlier ones timed out): look now. A
                # send VoIPbin stored before failing is in its list at once.
                message, _ = await self._load(message.id)
                sent = await self._reconcile(message, source, destination)
                if sent is None:
                    await self._fail(message, conversation, words)
                    return
            except Unavailable as exc:
                if _unconfirmed_refusal(message.error):
                    async with self._engine.begin() as conn:
                        await repo.update_message(conn, message.id, self._clock(), error=None)
                raise RetryLater(f"VoIPbin send outcome unknown: {exc.message}") from exc
        # Found, or sent this time: an earlier 500 was not a refusal after all.
        cleared = {"error": None} if _unconfirmed_refusal(message.error) else {}
        now = self._clock()
        async with self._engine.begin() as conn:
            await repo.lock_voipbin_id(conn, sent.id)
            await repo.update_message(conn, message.id, now, voipbin_id=sent.id, **cleared)
            await repo.raise_status(
                conn, message.id, status=sent.status or "queued", rank=st.rank(sent.status), now=now
            )
            early = await repo.take_early_status(conn, sent.id)
            if early is not None:
                await repo.raise_status(conn, message.id, status=early[0], rank=early[1], now=now)
            await enqueue(
                conn,
                CheckStuck.of(message.id),
                now=now,
                run_after=now + self.config.alerts.stuck_after,
            )
        self._metrics.sms.labels(event="sent", reason="").inc()
        self._metrics.end_to_end.labels(direction="outbound").observe(now - message.created_at)
        log.info(
            "sms sent message_id=%d voipbin_id=%s to=%s", message.id, sent.id, mask(destination)
        )

    async def _reconcile(self, message: repo.Message, source: str, destination: str) -> Any:
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
                if await repo.find_message_by_voipbin_id(conn, candidate.id) is None:
                    log.warning(
                        "sms found after an unknown outcome; not sending again message_id=%d "
                        "voipbin_id=%s",
                        message.id,
                        candidate.id,
                    )
                    return candidate
        return None

    async def _fail(
        self, message: repo.Message, conversation: repo.Conversation, reason: str
    ) -> None:
        now = self._clock()
        async with self._engine.begin() as conn:
            # A refusal is a definite answer: nothing was created, nothing to reconcile.
            await repo.update_message(conn, message.id, now, error=reason, send_started_at=None)
            await repo.raise_status(
                conn, message.id, status="failed", rank=st.rank("failed"), now=now
            )
        log.error(
            "sms failed message_id=%d to=%s reason=%s",
            message.id,
            mask(conversation.peer_number),
            reason,
        )

    async def _show(self, message_id: int, *, force: bool = False) -> None:
        """Bring the Slack message of an SMS up to date with its status, then alert once if
        it failed. ``force`` redraws it even when the status is unchanged (a new note)."""
        message, conversation = await self._load(message_id)
        unchanged = message.status == message.shown_status and not force
        if message.slack_ts is None or unchanged:
            await self._alert_if_failed(message, conversation)
            return
        if message.origin == "command":
            await slack(
                self._messenger.update_outgoing(
                    channel=conversation.channel,
                    ts=message.slack_ts,
                    view=await self._view(message, conversation),
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
            await repo.update_message(conn, message.id, self._clock(), shown_status=message.status)
        await self._alert_if_failed(message, conversation)

    async def _alert_if_failed(
        self, message: repo.Message, conversation: repo.Conversation
    ) -> None:
        if st.phase(message.status) is not st.Phase.FAILED or message.alerted:
            return
        who = await self._who(conversation.peer_number)
        if message.voipbin_id is None and message.error:
            # Refused at the send: the reason says so, and that it was not sent.
            text = f"SMS to {who}: {message.error}"
        else:
            reason = message.error or st.describe_failure(message.status)
            text = f"SMS to {who} failed: {reason}. It was not delivered."
        await self._raise_alert_once(message, conversation, kind="failed", text=text)

    async def _raise_alert_once(
        self, message: repo.Message, conversation: repo.Conversation, *, kind: str, text: str
    ) -> None:
        reason = kind if kind != "failed" else (message.status or "failed")
        self._metrics.sms.labels(event="failed", reason=reason).inc()
        now = self._clock()
        async with self._engine.begin() as conn:
            await repo.update_message(conn, message.id, now, alerted=True)
            await self._alert(
                conn,
                key=f"{kind}:{message.id}",
                conversation=conversation,
                text=text,
                now=now,
                retry=_retry_on_notice(message, kind),
            )
        self._wake()

    async def _job_show_status(self, job: ShowStatus, attempt: int) -> None:
        await self._show(job.message_id, force=job.force)

    async def _job_post_inbound(self, job: PostInbound, attempt: int) -> None:
        message, conversation = await self._load(job.message_id)
        if message.slack_ts is not None:
            return
        thread_ts = await self._ensure_thread(conversation, attempt)
        names = await self.directory.names([conversation.peer_number])
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
            await repo.update_message(conn, message.id, now, slack_ts=ts)
        self._metrics.end_to_end.labels(direction="inbound").observe(now - message.created_at)

    async def _job_check_stuck(self, job: CheckStuck, attempt: int) -> None:
        """``alerts.stuck_after`` after a send: is the SMS still not dispatched? One that
        VoIPbin handed to a carrier is not stuck, even when no status came (its Telnyx path
        leaves it "queued"; nothing reports delivery on either path). Only one VoIPbin never
        dispatched (``tm_update`` null: every provider failed, or it is very late) is
        alerted, once (this job's key is the message's)."""
        message, conversation = await self._load(job.message_id)
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
            await self._accept_status(message.voipbin_id, current)
            return
        minutes = max(1, round(self.config.alerts.stuck_after / 60))
        now = self._clock()
        async with self._engine.begin() as conn:
            await repo.update_message(
                conn,
                message.id,
                now,
                error=f"{NOT_DISPATCHED_NOTE} after {minutes} min",
            )
            await enqueue_show(conn, message, "stuck", now, force=True)
        text = (
            f"SMS to {await self._who(conversation.peer_number)} has not been handed to a "
            f"carrier {minutes} min after it was sent: VoIPbin still shows it queued and never "
            "dispatched it, which happens when none of its SMS providers took it. It may still "
            "arrive if VoIPbin dispatches it late. Check the VoIPbin account (balance, numbers) "
            "before sending it again: if this one does arrive, the person gets it twice."
        )
        await self._raise_alert_once(message, conversation, kind="stuck", text=text)

    async def _job_notice(self, job: Notice, attempt: int) -> None:
        thread_ts: str | None = None
        link: str | None = None
        if job.conversation_id is not None:
            async with self._engine.connect() as conn:
                conversation = await repo.get_conversation(conn, job.conversation_id)
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

    async def _job_tell(self, job: Tell, attempt: int) -> None:
        await slack(
            self._messenger.tell(
                channel=job.channel_id, user=job.user, thread_ts=job.thread_ts, text=job.text
            )
        )

    # -- giving up -------------------------------------------------------------------------

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
            await self._alert_channel_only(
                conn,
                key=f"dead:{job.id}",
                text=messages.job_gave_up(kind=job.kind, reason=reason),
                now=now,
            )
            return
        message = await repo.get_message(conn, typed.message_id)
        conversation = await repo.get_conversation(conn, message.conversation_id)
        name = (await contact_names(conn, [conversation.peer_number])).get(conversation.peer_number)
        notice = typed.dead_notice(
            message, conversation, peer=who(conversation.peer_number, name), reason=reason
        )
        if notice.unsent:
            self._metrics.sms.labels(event="failed", reason="not_sent").inc()
            await repo.update_message(conn, message.id, now, error=reason, alerted=True)
            if await repo.raise_status(
                conn, message.id, status="failed", rank=st.rank("failed"), now=now
            ):
                await enqueue_show(conn, message, "failed", now)
        await self._alert(
            conn,
            key=f"dead:{job.id}",
            conversation=conversation,
            text=notice.text,
            now=now,
            in_thread=conversation.thread_ts is not None,
            retry=_retry_on_notice(message, "failed") if notice.unsent else None,
        )


def _retry_on_notice(message: repo.Message, kind: str) -> int | None:
    """A failed thread reply has no status message of its own (its status is reactions on
    the person's message), so the failure notice carries its Retry button."""
    return message.id if message.origin == "reply" and kind == "failed" else None


# The note of an SMS whose send VoIPbin answered with a refusal-like 500, until a look-up
# settles it; what follows it is the refusal, in words, should none find the SMS.
UNCONFIRMED_REFUSAL = "VoIPbin answered the send with an error; checking whether it was sent. "

# How much of VoIPbin's own error text a person is shown.
PROVIDER_WORDS = 200


def _unconfirmed_refusal(error: str | None) -> bool:
    return error is not None and error.startswith(UNCONFIRMED_REFUSAL)


def _refusal(error: str) -> str:
    return error.removeprefix(UNCONFIRMED_REFUSAL)


def refusal_words(status: int, detail: str, *, reason: str = "") -> str:
    """Why VoIPbin refused a send, in words: its HTTP status, what it usually means, and
    VoIPbin's own text, cut to ``PROVIDER_WORDS`` characters (plain text: the notices and
    status lines escape it). VoIPbin refuses for the balance with 402 or 500, and for an
    unverified identity with 500 or 403 (reference §2.1, bin-api-manager/server/
    error_translate.go)."""
    said = " ".join(detail.split())
    if len(said) > PROVIDER_WORDS:
        said = said[: PROVIDER_WORDS - 1].rstrip() + "…"
    if status in (402, 500) or reason == "IDENTITY_VERIFICATION_REQUIRED":
        words = (
            f"VoIPbin refused the SMS ({status}); this usually means the account's balance "
            "or verification. It was not sent."
        )
    else:
        code = " ".join(str(part) for part in (status or "", reason) if part)
        words = (
            f"VoIPbin refused the SMS ({code}). It was not sent."
            if code
            else ("VoIPbin refused the SMS. It was not sent.")
        )
    return f"{words} VoIPbin said: {said}" if said else words
