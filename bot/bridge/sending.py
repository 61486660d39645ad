"""Recording sends from ``/sms`` and the modal (a confirmed held send comes through here too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import policy
from bot.bridge.checks import SendChecks, log
from bot.bridge.context import Clock
from bot.bridge.outbox import enqueue_send
from bot.bridge.threads import retire_if_idle
from bot.phone import count_segments, mask
from bot.store import audit, conversations, sms
from bot.store.db import in_transaction


@dataclass(frozen=True, slots=True)
class Queued:
    peer: str
    our_number: str
    message_id: int


class Sending:
    """The intake of a send to one or more numbers."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        wake: Callable[[], None],
        checks: SendChecks,
        idle_days: float | None,
    ) -> None:
        """``idle_days``: a thread idle that long is retired (``threads.idle_days``)."""
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._checks = checks
        self._idle_days = idle_days

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
        route = self._checks.route_from(channel, our_number)
        our_number = route.number
        now = self._clock()
        segments = count_segments(text).segments

        async def record(conn: AsyncConnection) -> list[Queued] | policy.Refusal:
            queued: list[Queued] = []
            if claim is not None and not await claim(conn):
                return []
            refusal = await self._checks.check_or_refuse(
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
                conversation = await conversations.get_or_create_conversation(
                    conn, channel=channel, our_number=our_number, peer_number=peer, now=now
                )
                conversation = await retire_if_idle(
                    conn, conversation, idle_days=self._idle_days, now=now
                )
                message_id = await sms.insert_message(
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
                await enqueue_send(conn, conversation, message_id, now)
                await audit.add_audit(
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
