"""Held sends, by the domain alone: a long send is kept until its sender clicks Send, and
then sent exactly once however often (and however fast) Send is clicked; Cancel drops it;
the policy is checked again on Send, and a send it refuses then stays refused; a prompt left
for over an hour expires; only its sender can confirm it. The ports are recorded and
scripted (``domain_ports``); the database and the job runner are real."""

from __future__ import annotations

import asyncio
import time

from domain_ports import Domain, domain
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.policy import Refusal
from bot.bridge.service import HELD_SEND_TTL_SECONDS

from harness import CHANNEL, OUR_NUMBER

PEER = "+31612345678"
LONG = "A long message. " * 40  # 640 characters: 5 segments


async def held(d: Domain, text: str = LONG) -> int:
    pending = await d.bridge.hold_send(channel=CHANNEL, user="U0ANNA", recipients=[PEER], text=text)
    assert isinstance(pending, int)
    return pending


async def test_a_held_send_waits_for_send_and_goes_out_once_however_often_it_is_clicked(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        pending = await held(d)
        await d.until_settled()
        assert d.gateway.sends == [] and d.messenger.calls == [], "nothing before Send"
        clicks = await asyncio.gather(
            *(d.bridge.confirm_send(pending_id=pending, user="U0ANNA") for _ in range(4))
        )
        queued = [c for c in clicks if isinstance(c, list)]
        assert len(queued) == 1 and [q.peer for q in queued[0]] == [PEER]
        assert sorted(c for c in clicks if isinstance(c, str)) == ["sent"] * 3
        await d.until_done("send_sms")
        assert await d.bridge.confirm_send(pending_id=pending, user="U0ANNA") == "sent"
        await d.until_settled()
        assert d.gateway.sends == [{"source": OUR_NUMBER, "destination": PEER, "text": LONG}]
        assert len(d.messenger.named("post_outgoing")) == 1


async def test_a_cancelled_send_is_never_sent(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        pending = await held(d)
        assert await d.bridge.cancel_send(pending_id=pending, user="U0ANNA") == "cancelled"
        assert await d.bridge.confirm_send(pending_id=pending, user="U0ANNA") == "cancelled"
        assert await d.bridge.cancel_send(pending_id=pending, user="U0ANNA") == "cancelled"
        await d.until_settled()
        assert d.gateway.sends == [] and d.messenger.calls == []


async def test_the_policy_is_checked_again_on_send_and_a_refused_send_stays_refused(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        pending = await held(d)
        # The number opts out while the prompt waits.
        await d.bridge.set_opt_out(channel=CHANNEL, user="U0BOB", peer=PEER, opted_out=True)
        refusal = await d.bridge.confirm_send(pending_id=pending, user="U0ANNA")
        assert isinstance(refusal, Refusal) and refusal.rule == "opted-out"
        assert refusal.message.endswith("Nothing was sent.")
        assert await d.bridge.confirm_send(pending_id=pending, user="U0ANNA") == "refused"
        await d.until_settled()
        assert d.gateway.sends == []


async def test_a_send_the_policy_refuses_is_not_held(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        refusal = await d.bridge.hold_send(
            channel=CHANNEL, user="U0ANNA", recipients=["+12025550123"], text=LONG
        )
        assert isinstance(refusal, Refusal) and refusal.rule == "country"


async def test_only_its_sender_can_send_it_and_an_old_prompt_expires(engine: AsyncEngine) -> None:
    later = 0.0
    async with domain(engine, clock=lambda: time.time() + later) as d:
        pending = await held(d)
        assert await d.bridge.confirm_send(pending_id=pending, user="U0BOB") == "unknown"
        assert await d.bridge.cancel_send(pending_id=pending, user="U0BOB") == "unknown"
        later = HELD_SEND_TTL_SECONDS + 1
        assert await d.bridge.confirm_send(pending_id=pending, user="U0ANNA") == "expired"
        assert await d.bridge.confirm_send(pending_id=pending, user="U0ANNA") == "expired"
        await d.until_settled()
        assert d.gateway.sends == []
