"""The sending policy applied to a send: which number it goes out from, every rule checked in
the transaction that records it, and the audit rows of a refusal."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.bridge import messages, policy
from bot.config import AppConfig, NumberRoute
from bot.metrics import Metrics
from bot.phone import count_segments
from bot.store import audit, conversations, opt_outs

# The bridge's log lines keep the logger they had before it was split into modules.
log = logging.getLogger("bot.bridge.service")


class NotRouted(Exception):
    """The channel has no VoIPbin number routed to it."""


class NotRoutedHere(NotRouted):
    """The number asked for (``from:``) is not one of the channel's."""


class SendChecks:
    """Routing and the sending policy, for every service that records an SMS."""

    def __init__(self, *, config: AppConfig, metrics: Metrics) -> None:
        self.config = config
        self._metrics = metrics

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

    async def check(
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
            if refusal is None and await opt_outs.is_opted_out(
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
            per_user, total, last_minute = await audit.usage(
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

    async def check_conversation(
        self,
        conn: AsyncConnection,
        conversation: conversations.Conversation,
        *,
        user: str,
        user_groups: set[str] | None,
        text: str,
        now: float,
        sender: str,
    ) -> policy.Refusal | None:
        """``check`` for an SMS to ``conversation``'s number from its own number (a thread
        reply, a retry), which may have left app.yaml since: then it is refused as
        not-routed. ``sender`` names what cannot send in that message."""
        route = self.config.route_for(conversation.our_number)
        if route is None:
            return policy.Refusal(
                "not-routed", messages.no_longer_routed(conversation.our_number, sender=sender)
            )
        return await self.check(
            conn,
            route=route,
            user=user,
            user_groups=user_groups or set(),
            peers=[conversation.peer_number],
            text=text,
            now=now,
        )

    async def check_or_refuse(
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
        """``check``, and when a rule refuses, its audit rows (``refuse``)."""
        refusal = await self.check(
            conn,
            route=route,
            user=user,
            user_groups=user_groups or set(),
            peers=peers,
            text=text,
            now=now,
        )
        if refusal is not None:
            await self.refuse(
                conn,
                refusal,
                user=user,
                channel=channel,
                our_number=route.number,
                peers=peers,
                now=now,
            )
        return refusal

    async def refuse(
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
            await audit.add_audit(
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
