"""Opt-outs set by hand, by the domain alone (STOP / START by SMS are in
``test_inbound_service``): ``/sms optout`` stops every send to the number, /sms, a thread
reply and a retry alike, and says so in its thread naming who did it; ``/sms optin`` lets
SMS through again; setting what already is changes nothing. The ports are recorded and
scripted (``domain_ports``); the database and the job runner are real."""

from __future__ import annotations

from domain_ports import Domain, domain
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.policy import Refusal
from bot.bridge.ports import InboundSms
from bot.bridge.sending import Queued

from harness import CHANNEL, OUR_NUMBER

PEER = "+31612345678"


async def send(d: Domain, key: str) -> list[Queued] | Refusal:
    return await d.bridge.accept_send(
        channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="hello", request_key=key
    )


async def opt(d: Domain, *, out: bool) -> bool:
    return await d.bridge.set_opt_out(channel=CHANNEL, user="U0STAFF", peer=PEER, opted_out=out)


async def test_an_opt_out_by_hand_stops_sends_until_an_opt_in(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        assert await opt(d, out=True) is True
        assert await opt(d, out=True) is False, "already opted out"
        refused = await send(d, "k1")
        assert isinstance(refused, Refusal) and refused.rule == "opted-out"
        assert refused.message == (
            "+31 6 12345678 has opted out (they replied STOP) and gets no SMS from this number. "
            "They can send START to opt back in; if they asked in another way, staff can use "
            "/sms optin +31612345678. Nothing was sent."
        )
        assert await opt(d, out=False) is True
        assert await opt(d, out=False) is False, "already opted in"
        assert isinstance(await send(d, "k2"), list)
        await d.until(lambda: len(d.gateway.sends) == 1)
        await d.until_settled()
        # No thread yet when it was set: nothing was said in one.
        assert d.messenger.named("post_notice") == []


async def test_an_opt_out_by_hand_is_said_in_the_thread_and_refuses_replies_there(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        await d.bridge.accept_inbound(
            InboundSms(sms_id="in-1", our_number=OUR_NUMBER, sender=PEER, text="hi")
        )
        await d.until(lambda: bool(d.messenger.named("post_inbound")))
        (thread_ts,) = d.messenger.answers("open_thread")
        await opt(d, out=True)
        await d.until(lambda: len(d.messenger.named("post_notice")) == 1)
        (notice,) = d.messenger.named("post_notice")
        assert notice["thread_ts"] == thread_ts and notice["mention"] == "U0STAFF"
        assert notice["text"] == (
            "+31 6 12345678 is now opted out: no SMS will be sent to it until it sends START."
        )
        taken = await d.bridge.accept_reply(
            team="T1", channel=CHANNEL, thread_ts=thread_ts, ts="2.1", user="U0ANNA", text="hi"
        )
        assert taken == "refused"
        await d.until(lambda: bool(d.messenger.named("tell")))
        (tell,) = d.messenger.named("tell")
        assert tell["user"] == "U0ANNA" and tell["thread_ts"] == thread_ts
        assert tell["text"].startswith("+31 6 12345678 has opted out (they replied STOP)")

        await opt(d, out=False)
        await d.until(lambda: len(d.messenger.named("post_notice")) == 2)
        assert d.messenger.named("post_notice")[1]["text"] == (
            "+31 6 12345678 is opted back in: SMS can be sent to it again."
        )
        taken = await d.bridge.accept_reply(
            team="T1", channel=CHANNEL, thread_ts=thread_ts, ts="2.2", user="U0ANNA", text="ok"
        )
        assert taken == "queued"
        await d.until(lambda: len(d.gateway.sends) == 1)
        assert d.gateway.sends[0]["text"] == "ok"
