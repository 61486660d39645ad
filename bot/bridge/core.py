"""What the bridge's parts share: ``BridgeCore`` holds the bridge's state (``__init__``) and
the helpers its feature mixins call (routing, the sending policy, job writing, Slack calls),
and the intake of a send (``accept_send``), which a confirmed held send goes through.

``Bridge`` (``bot.bridge.service``) is this base with the core bridge on top, and the feature
mixins beside it: held sends (``held``), retries (``retry``), reply edits and the undo window
(``edits``), alert roll-ups (``rollups``) and signatures (``signatures``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import policy
from bot.bridge.directory import Directory
from bot.bridge.jobs import Notice, SendSms, ShowStatus, enqueue
from bot.bridge.ports import Messenger, RateLimited, Rejected, SmsArchive, SmsGateway, Unavailable
from bot.bridge.threads import retire_if_idle
from bot.config import AppConfig, NumberRoute
from bot.jobs.runner import GiveUp, RetryLater
from bot.jobs.writer import JobWriter
from bot.metrics import Metrics
from bot.phone import count_segments, mask
from bot.store import repo
from bot.store.db import in_transaction

# The bridge's log lines keep the logger they had before it was split into modules.
log = logging.getLogger("bot.bridge.service")

# How long a user's signature is kept in memory (see Bridge.signature).
SIGNATURE_TTL_SECONDS = 10.0


class NotRouted(Exception):
    """The channel has no VoIPbin number routed to it."""


class NotRoutedHere(NotRouted):
    """The number asked for (``from:``) is not one of the channel's."""


@dataclass(frozen=True, slots=True)
class Queued:
    peer: str
    our_number: str
    message_id: int


class BridgeCore:
    """The bridge's state and the helpers every part of it uses."""

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
        self._metrics = metrics or Metrics()
        self._engine = engine
        self.config = config
        self._messenger = messenger
        self._gateway = gateway
        self._wake = wake
        self._clock = clock
        self._writer = JobWriter(engine)
        self._signatures: TTLCache[str, str | None] = TTLCache(
            maxsize=10_000, ttl=SIGNATURE_TTL_SECONDS
        )
        self.directory = Directory(
            engine=engine,
            config=config,
            archive=gateway if isinstance(gateway, SmsArchive) else None,
            clock=clock,
        )

    # -- routing and the sending policy ----------------------------------------------------

    def route_of(self, channel: str) -> NumberRoute:
        """The number a channel sends from (its first). Raises NotRouted."""
        numbers = self.config.numbers_for(channel)
        route = self.config.route_for(numbers[0]) if numbers else None
        if route is None:
            raise NotRouted(channel)
        return route

    def route_from(self, channel: str, our_number: str | None = None) -> NumberRoute:
        """The number a send from ``channel`` goes out from: ``our_number`` when it is one of
        the channel's numbers (NotRoutedHere when it is not), else the channel's default."""
        if our_number is None:
            return self.route_of(channel)
        route = self.config.route_for(our_number)
        if route is None or route.channel != channel:
            raise NotRoutedHere(our_number)
        return route

    async def _check(
        self,
        conn: AsyncConnection,
        *,
        route: NumberRoute,
        user: str,
        user_groups: set[str],
        peers: list[str],
        text: str,
        now: float,
    ) -> policy.Refusal | None:
        """Every rule of the sending policy, in the transaction that will record the send."""
        refusal = policy.check_sender(route, user=user, user_groups=user_groups)
        refusal = refusal or policy.check_text(self.config, text)
        for peer in peers:
            refusal = refusal or policy.check_destination(self.config, peer)
            if refusal is None and await repo.is_opted_out(
                conn, our_number=route.number, peer_number=peer
            ):
                refusal = policy.opted_out_refusal(peer)
        rules = self.config.policy
        quotas = (
            rules.daily_segments_per_user,
            rules.daily_segments_total,
            rules.per_number_per_minute,
        )
        if refusal is None and any(limit is not None for limit in quotas):
            per_user, total, last_minute = await repo.usage(
                conn,
                actor=user if rules.daily_segments_per_user is not None else None,
                day=now - (now % 86400),
                our_number=route.number if rules.per_number_per_minute is not None else None,
                minute=now - 60,
            )
            usage = policy.Usage(
                user_segments_today=per_user,
                total_segments_today=total,
                sends_last_minute=last_minute,
            )
            segments = count_segments(text).segments * len(peers)
            refusal = policy.check_usage(
                self.config, segments=segments, usage=usage, our_number=route.number
            )
        return refusal

    async def _check_conversation(
        self,
        conn: AsyncConnection,
        conversation: repo.Conversation,
        *,
        user: str,
        user_groups: set[str] | None,
        text: str,
        now: float,
        sender: str,
    ) -> policy.Refusal | None:
        """``_check`` for an SMS to ``conversation``'s number from its own number (a thread
        reply, a retry), which may have left app.yaml since: then it is refused as
        not-routed. ``sender`` names what cannot send in that message."""
        route = self.config.route_for(conversation.our_number)
        if route is None:
            return policy.Refusal(
                "not-routed",
                f"{conversation.our_number} is no longer in the bridge's app.yaml, so "
                f"{sender} cannot send. Nothing was sent.",
            )
        return await self._check(
            conn,
            route=route,
            user=user,
            user_groups=user_groups or set(),
            peers=[conversation.peer_number],
            text=text,
            now=now,
        )

    async def _check_or_refuse(
        self,
        conn: AsyncConnection,
        *,
        route: NumberRoute,
        channel: str,
        user: str,
        user_groups: set[str] | None,
        peers: list[str],
        text: str,
        now: float,
    ) -> policy.Refusal | None:
        """``_check``, and when a rule refuses, its audit rows (``_refuse``)."""
        refusal = await self._check(
            conn,
            route=route,
            user=user,
            user_groups=user_groups or set(),
            peers=peers,
            text=text,
            now=now,
        )
        if refusal is not None:
            await self._refuse(
                conn,
                refusal,
                user=user,
                channel=channel,
                our_number=route.number,
                peers=peers,
                now=now,
            )
        return refusal

    async def _refuse(
        self,
        conn: AsyncConnection,
        refusal: policy.Refusal,
        *,
        user: str,
        channel: str,
        our_number: str,
        peers: list[str],
        now: float,
    ) -> None:
        for peer in peers or [""]:
            await repo.add_audit(
                conn,
                actor=user,
                action="refused",
                now=now,
                channel=channel,
                our_number=our_number,
                peer_number=peer or None,
                detail=refusal.rule,
            )
        self._metrics.sms.labels(event="refused", reason=refusal.rule).inc()
        log.info("sms refused rule=%s channel=%s user=%s", refusal.rule, channel, user)

    # -- job writing helpers ---------------------------------------------------------------

    async def _enqueue_send(
        self, conn: AsyncConnection, conversation: repo.Conversation, message_id: int, now: float
    ) -> None:
        await enqueue(conn, SendSms.of(conversation, message_id), now=now)
        await repo.touch_conversation(conn, conversation.id, now)

    async def _enqueue_show(
        self,
        conn: AsyncConnection,
        message: repo.Message,
        label: str,
        now: float,
        *,
        force: bool = False,
    ) -> None:
        """Redraw a message's status. The job runs in the conversation's lane: two redraws of
        one message never race, so an older status can never be drawn over a newer one."""
        await enqueue(conn, ShowStatus.of(message, label, force=force), now=now)

    async def _thread_notice(
        self,
        conn: AsyncConnection,
        conversation: repo.Conversation,
        *,
        key: str,
        text: str,
        now: float,
        broadcast: bool = False,
        mention: str | None = None,
        retry: int | None = None,
    ) -> None:
        """A notice in the conversation's thread, after everything already queued for it (it
        runs in the conversation's lane, so it never lands before the message it is about).
        ``retry``: a failed thread reply's message id, for a Retry button on the notice."""
        notice = Notice.in_thread(
            conversation, key=key, text=text, broadcast=broadcast, mention=mention, retry=retry
        )
        await enqueue(conn, notice, now=now)

    # -- Slack calls from jobs -------------------------------------------------------------

    async def _slack(self, call: Any) -> Any:
        """Run a Slack call, turning its errors into job outcomes."""
        try:
            return await call
        except RateLimited as exc:
            raise RetryLater(exc.message, after=exc.retry_after, count_attempt=False) from exc
        except Unavailable as exc:
            raise RetryLater(exc.message) from exc
        except Rejected as exc:
            raise GiveUp(f"Slack refused: {exc.message}") from exc

    # -- the core intake the feature mixins build on (a held send, once confirmed, is
    # sent through accept_send) ----------------------------------------------------------

    async def _retire_if_idle(
        self, conn: AsyncConnection, conversation: repo.Conversation, now: float
    ) -> repo.Conversation:
        """Thread lifecycle (``threads.idle_days``): see ``bot.bridge.threads``."""
        return await retire_if_idle(
            conn, conversation, idle_days=self.config.threads.idle_days, now=now
        )

    async def accept_send(
        self,
        *,
        channel: str,
        user: str,
        recipients: list[str],
        text: str,
        request_key: str,
        user_groups: set[str] | None = None,
        our_number: str | None = None,
        claim: Callable[[AsyncConnection], Awaitable[bool]] | None = None,
    ) -> list[Queued] | policy.Refusal:
        """Record an SMS per recipient from ``/sms`` in ``channel``, sent from the channel's
        number, or refuse them all with the rule that stops them. ``request_key`` identifies
        this command, so repeating it adds nothing. ``our_number`` picks one of the channel's
        numbers (``from:``; NotRouted if it is not routed here). ``claim`` runs first in the
        same transaction; when it returns False nothing is recorded (``[]``)."""
        route = self.route_from(channel, our_number)
        our_number = route.number
        now = self._clock()
        segments = count_segments(text).segments

        async def record(conn: AsyncConnection) -> list[Queued] | policy.Refusal:
            queued: list[Queued] = []
            if claim is not None and not await claim(conn):
                return []
            refusal = await self._check_or_refuse(
                conn,
                route=route,
                channel=channel,
                user=user,
                user_groups=user_groups,
                peers=recipients,
                text=text,
                now=now,
            )
            if refusal is not None:
                return refusal
            for peer in recipients:
                conversation = await repo.get_or_create_conversation(
                    conn, channel=channel, our_number=our_number, peer_number=peer, now=now
                )
                conversation = await self._retire_if_idle(conn, conversation, now)
                message_id = await repo.insert_message(
                    conn,
                    key=f"cmd:{request_key}:{peer}",
                    conversation_id=conversation.id,
                    direction="outbound",
                    origin="command",
                    text=text,
                    author=user,
                    status="queued",
                    status_rank=0,
                    now=now,
                )
                if message_id is None:
                    continue
                await self._enqueue_send(conn, conversation, message_id, now)
                await repo.add_audit(
                    conn,
                    actor=user,
                    action="sent",
                    now=now,
                    channel=channel,
                    our_number=our_number,
                    peer_number=peer,
                    segments=segments,
                    detail=text,
                )
                queued.append(Queued(peer=peer, our_number=our_number, message_id=message_id))
            return queued

        # Run again on a new connection if the pooled one was dead: the message keys make
        # a repeat harmless.
        outcome = await in_transaction(self._engine, record)
        if not isinstance(outcome, list) or not outcome:
            return outcome
        queued = outcome
        self._wake()
        log.info(
            "sms accepted origin=command channel=%s user=%s recipients=%s",
            channel,
            user,
            ",".join(mask(q.peer) for q in queued),
        )
        return queued
