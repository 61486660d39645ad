"""Inbound SMS, by the domain alone: an SMS to a routed number is posted in its sender's
thread (opened once, then used, and a new one linked to it once the old one has been idle for
``threads.idle_days``), one to an unrouted number alerts, STOP / START opt the sender out and
back in, and a redelivery is taken once. The ports are recorded and scripted
(``domain_ports``); the database and the job runner are real."""

from __future__ import annotations

import time

from domain_ports import Domain, domain, fast_config
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.policy import Refusal
from bot.bridge.ports import InboundSms

from harness import ALERTS, CHANNEL, OUR_NUMBER

PEER = "+31612345678"
UNROUTED = "+31209999999"


def sms(sms_id: str, text: str, *, to: str = OUR_NUMBER, sender: str = PEER) -> InboundSms:
    return InboundSms(sms_id=sms_id, our_number=to, sender=sender, text=text)


def posted(d: Domain) -> list[str]:
    return [p["text"] for p in d.messenger.named("post_inbound")]


def thread_notices(d: Domain) -> list[str]:
    return [
        n["text"]
        for n in d.messenger.named("post_notice")
        if n["channel"] == CHANNEL and n["thread_ts"] is not None
    ]


async def test_an_sms_to_a_routed_number_opens_its_thread_once_and_is_posted_there(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        assert await d.bridge.accept_inbound(sms("in-1", "hello")) == "inbound"
        await d.until(lambda: posted(d) == ["hello"])
        await d.bridge.accept_inbound(sms("in-2", "are you there?"))
        await d.until(lambda: posted(d) == ["hello", "are you there?"])
        (root,) = d.messenger.named("open_thread")
        assert root["channel"] == CHANNEL and root["peer"] == PEER
        (thread_ts,) = d.messenger.answers("open_thread")
        first, second = d.messenger.named("post_inbound")
        for post in (first, second):
            assert post["channel"] == CHANNEL and post["sender"] == PEER
            assert post["thread_ts"] == thread_ts, "both SMS are posted in the sender's thread"
        assert d.gateway.sends == []


async def test_an_sms_after_the_thread_was_idle_opens_a_new_thread_linked_to_the_old(
    engine: AsyncEngine,
) -> None:
    # The bridge's clock starts 60 days back (the jobs it writes are due at once for the
    # runner, which keeps the real clock) and jumps forward.
    days = -60.0
    config = fast_config(threads={"idle_days": 30})
    async with domain(engine, config=config, clock=lambda: time.time() + days * 86400) as d:
        await d.bridge.accept_inbound(sms("in-1", "first"))
        await d.until(lambda: posted(d) == ["first"])
        days = -31
        await d.bridge.accept_inbound(sms("in-2", "still this thread"))
        await d.until(lambda: len(posted(d)) == 2)
        days = 0
        await d.bridge.accept_inbound(sms("in-3", "a month later"))
        await d.until(lambda: len(posted(d)) == 3)
        old, new = d.messenger.answers("open_thread")
        first, later = d.messenger.named("open_thread")
        assert first["previous_thread_ts"] is None and later["previous_thread_ts"] == old
        assert [p["thread_ts"] for p in d.messenger.named("post_inbound")] == [old, old, new]


async def test_an_sms_to_an_unrouted_number_alerts_and_is_not_posted(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        await d.bridge.accept_inbound(sms("in-3", "who is this?", to=UNROUTED))
        await d.until(lambda: bool(d.messenger.named("post_notice")))
        (alert,) = d.messenger.named("post_notice")
        assert alert["channel"] == ALERTS
        assert f"arrived on {UNROUTED}, which is not routed to any channel" in alert["text"]
        assert PEER not in alert["text"], "the sender is masked in the alert"
        await d.until_done("take_inbound")
        assert posted(d) == [] and d.messenger.named("open_thread") == []


async def test_stop_opts_the_sender_out_and_start_opts_them_back_in(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        await d.bridge.accept_inbound(sms("in-4", " stop "))
        await d.until(lambda: len(thread_notices(d)) == 1)
        assert thread_notices(d) == [
            "+31 6 12345678 replied STOP and is now opted out: no SMS will be sent to this "
            "number until it sends START."
        ]
        refused = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="hi", request_key="s1"
        )
        assert isinstance(refused, Refusal) and refused.rule == "opted-out"

        await d.bridge.accept_inbound(sms("in-5", "Start"))
        await d.until(lambda: len(thread_notices(d)) == 2)
        assert thread_notices(d)[1] == (
            "+31 6 12345678 sent START and is opted back in: SMS can be sent again."
        )
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="hi", request_key="s2"
        )
        assert isinstance(queued, list)
        await d.until(lambda: len(d.gateway.sends) == 1)
        assert d.gateway.sends[0]["destination"] == PEER
        # Both keywords are posted in the thread like any SMS.
        assert posted(d) == [" stop ", "Start"]


async def test_a_keyword_inside_a_sentence_opts_nobody_out(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        await d.bridge.accept_inbound(sms("in-6", "please stop by tomorrow"))
        await d.until(lambda: posted(d) == ["please stop by tomorrow"])
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="ok", request_key="s3"
        )
        assert isinstance(queued, list)
        assert thread_notices(d) == []


async def test_a_redelivered_sms_is_taken_once(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        for _ in range(3):
            await d.bridge.accept_inbound(sms("in-7", "once"))
        await d.until(lambda: posted(d) == ["once"])
        # A later SMS of the same sender is posted after it: the redeliveries ahead of it
        # in the sender's lane were all taken, and none posted again.
        await d.bridge.accept_inbound(sms("in-8", "twice?"))
        await d.until(lambda: len(posted(d)) == 2)
        assert posted(d) == ["once", "twice?"]
