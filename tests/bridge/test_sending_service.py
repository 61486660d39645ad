"""Sends, by the domain alone: ``/sms`` recorded, posted in its thread, sent once, shown;
and what happens when the provider times out, refuses, or the policy stops it. The ports
are recorded and scripted (``domain_ports``); the database and the job runner are real."""

from __future__ import annotations

from domain_ports import ScriptedGateway, domain
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.policy import Refusal
from bot.bridge.ports import Rejected, SentSms, Unavailable
from bot.bridge.sending import Queued

from harness import ALERTS, CHANNEL, OUR_NUMBER

PEER = "+31612345678"


async def test_a_send_opens_the_thread_posts_and_sends_once(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="hello", request_key="r1"
        )
        assert isinstance(queued, list) and [q.peer for q in queued] == [PEER]
        await d.until_done("send_sms")
        assert d.gateway.sends == [{"source": OUR_NUMBER, "destination": PEER, "text": "hello"}]
        (root,) = d.messenger.named("open_thread")
        assert root["channel"] == CHANNEL and root["peer"] == PEER
        (post,) = d.messenger.named("post_outgoing")
        assert post["view"].text == "hello" and post["view"].status == "queued"
        # The same command again (Slack retried it) records nothing more.
        again = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="hello", request_key="r1"
        )
        assert again == []


async def test_a_send_whose_outcome_was_lost_is_looked_up_not_sent_twice(
    engine: AsyncEngine,
) -> None:
    gateway = ScriptedGateway(
        outcomes=[Unavailable("read timed out")], found=[SentSms("sms-lost", "queued")]
    )
    async with domain(engine, gateway) as d:
        await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="once", request_key="r2"
        )
        await d.until_done("send_sms")
        assert gateway.lookups == 1
        assert len(gateway.sends) == 1, "the SMS found by the look-up is not sent again"


async def test_a_refused_send_is_shown_failed_and_alerted_with_a_reason(
    engine: AsyncEngine,
) -> None:
    refused = Rejected("forbidden", status=403, detail="number not verified")
    async with domain(engine, ScriptedGateway(outcomes=[refused])) as d:
        await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="hi", request_key="r3"
        )

        def alerted() -> bool:
            return any(
                "It was not sent" in n["text"] and n["channel"] == CHANNEL
                for n in d.messenger.named("post_notice")
            )

        await d.until(alerted)
        await d.until(
            lambda: any(
                c.args.get("channel") == ALERTS
                for c in d.messenger.calls
                if c.method in ("post_rollup", "post_notice")
            )
        )
        assert len(d.gateway.sends) == 1
        shown = d.messenger.named("update_outgoing")[-1]["view"]
        assert shown.status == "failed" and "number not verified" in shown.note


async def test_a_send_the_policy_refuses_records_nothing_and_says_why(
    engine: AsyncEngine,
) -> None:
    async with domain(engine) as d:
        refusal = await d.bridge.accept_send(
            channel=CHANNEL,
            user="U0ANNA",
            recipients=["+12025550123"],  # a country app.yaml does not allow
            text="hi",
            request_key="r4",
        )
        assert isinstance(refusal, Refusal) and "Nothing was sent" in refusal.message
        assert d.gateway.sends == [] and d.messenger.calls == []


async def test_a_retry_of_a_failed_send_sends_it_again_on_the_same_message(
    engine: AsyncEngine,
) -> None:
    refused = Rejected("forbidden", status=403, detail="number not verified")
    async with domain(engine, ScriptedGateway(outcomes=[refused])) as d:
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="again", request_key="r5"
        )
        assert isinstance(queued, list)
        (first,) = queued
        # Clicked once the failure is shown and alerted (the alert is written after the
        # status shown is recorded: a click in between would copy the status before it).
        await d.until(
            lambda: (
                any(c["view"].status == "failed" for c in d.messenger.named("update_outgoing"))
                and bool(d.messenger.named("post_rollup"))
            )
        )
        retried = await d.bridge.accept_retry(message_id=first.message_id, user="U0ANNA")
        assert isinstance(retried, Queued)
        await d.until(lambda: len(d.gateway.sends) == 2)
        await d.until(lambda: d.messenger.named("update_outgoing")[-1]["view"].status == "queued")
        posted = d.messenger.named("post_outgoing")
        assert len(posted) == 1, "the retry is shown on the failed SMS's message"
        assert await d.bridge.accept_retry(message_id=first.message_id, user="U0ANNA") is None
