"""Opt-outs: STOP and friends in an inbound SMS opt its number out of SMS from ours, START
opts it back in, and staff set it by hand (``/sms optout|optin``); each change is audited and
said in the number's thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge import messages, policy
from bot.bridge.checks import SendChecks
from bot.bridge.context import Clock
from bot.bridge.outbox import thread_notice
from bot.phone import format_international
from bot.store import audit, conversations, opt_outs

log = logging.getLogger("bot.bridge.service")


class OptOuts:
    """Who may not be texted, and the changes to it."""

    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, wake: Callable[[], None], checks: SendChecks
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._wake = wake
        self._checks = checks

    async def set_by_hand(self, *, channel: str, user: str, peer: str, opted_out: bool) -> bool:
        """Staff set a number's opt-out by hand (``/sms optout|optin``); audited, and said in
        the number's thread. True when the state changed."""
        route = self._checks.route_of(channel)
        now = self._clock()
        async with self._engine.begin() as conn:
            changed = await opt_outs.set_opt_out(
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
            await audit.add_audit(
                conn,
                actor=user,
                action=action,
                now=now,
                channel=channel,
                our_number=route.number,
                peer_number=peer,
                detail="set by hand in Slack",
            )
            conversation = await conversations.get_or_create_conversation(
                conn, channel=channel, our_number=route.number, peer_number=peer, now=now
            )
            if conversation.thread_ts is not None:
                pretty = format_international(peer)
                text = (
                    messages.opted_out_by_hand(pretty)
                    if opted_out
                    else messages.opted_in_by_hand(pretty)
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

    async def keyword(
        self,
        conn: AsyncConnection,
        conversation: conversations.Conversation,
        text: str,
        message_id: int,
        now: float,
    ) -> None:
        """STOP and friends opt the number out of SMS from this number; START opts back in."""
        word = policy.keyword(text)
        if word is None:
            return
        opted_out = word == "opt_out"
        changed = await opt_outs.set_opt_out(
            conn,
            our_number=conversation.our_number,
            peer_number=conversation.peer_number,
            opted_out=opted_out,
            by="sms",
            now=now,
        )
        if not changed:
            return
        await audit.add_audit(
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
        said = text.strip().upper()
        notice = (
            messages.opted_out_by_sms(pretty, said)
            if opted_out
            else messages.opted_in_by_sms(pretty, said)
        )
        await thread_notice(conn, conversation, key=f"{word}:{message_id}", text=notice, now=now)
        log.info("opt-out changed conversation_id=%d opted_out=%s", conversation.id, opted_out)
