"""Retries, by the domain alone: Retry on a failed SMS sends it again once however often it
is clicked, an SMS that did not fail is not sent again, the policy is checked again (a number
that opted out since is refused), one whose sends were never answered is looked for before it
is sent again, and a failed thread reply is retried from its failure
notice and its reactions show the new attempt. The ports are recorded and scripted
(``domain_ports``); the database and the job runner are real."""

from __future__ import annotations

import asyncio

from domain_ports import Domain, ScriptedGateway, domain, fast_config
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.policy import Refusal
from bot.bridge.ports import InboundSms, Rejected, SentSms, StatusReport, Unavailable
from bot.bridge.sending import Queued

from harness import CHANNEL, OUR_NUMBER

PEER = "+31612345678"


def refused_once() -> ScriptedGateway:
    return ScriptedGateway(outcomes=[Rejected("forbidden", status=403, detail="not verified")])


async def failed_send(d: Domain, text: str = "again") -> int:
    """An /sms send the provider refused, shown failed and alerted; its message id."""
    queued = await d.bridge.accept_send(
        channel=CHANNEL, user="U0ANNA", recipients=[PEER], text=text, request_key=text
    )
    assert isinstance(queued, list)
    await d.until(lambda: bool(d.messenger.named("post_rollup")))
    await d.until_settled()
    return queued[0].message_id


async def test_retry_clicked_at_once_sends_it_again_once(engine: AsyncEngine) -> None:
    async with domain(engine, refused_once()) as d:
        message_id = await failed_send(d)
        clicks = await asyncio.gather(
            *(d.bridge.accept_retry(message_id=message_id, user="U0ANNA") for _ in range(3))
        )
        assert len([c for c in clicks if isinstance(c, Queued)]) == 1
        assert clicks.count(None) == 2
        await d.until(lambda: len(d.gateway.sends) == 2)
        await d.until_settled()
        assert d.gateway.sends[1] == {"source": OUR_NUMBER, "destination": PEER, "text": "again"}
        assert d.messenger.named("update_outgoing")[-1]["view"].status == "queued"


async def test_an_sms_that_did_not_fail_is_not_sent_again(engine: AsyncEngine) -> None:
    async with domain(engine) as d:
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="fine", request_key="k"
        )
        assert isinstance(queued, list)
        await d.until_done("send_sms")
        await d.bridge.accept_status(StatusReport("sms-1", "delivered"))
        await d.until_settled()
        assert await d.bridge.accept_retry(message_id=queued[0].message_id, user="U0ANNA") is None
        assert await d.bridge.accept_retry(message_id=10_000, user="U0ANNA") is None
        await d.until_settled()
        assert len(d.gateway.sends) == 1


async def test_a_retry_to_a_number_that_opted_out_since_is_refused(engine: AsyncEngine) -> None:
    async with domain(engine, refused_once()) as d:
        message_id = await failed_send(d)
        await d.bridge.set_opt_out(channel=CHANNEL, user="U0BOB", peer=PEER, opted_out=True)
        refusal = await d.bridge.accept_retry(message_id=message_id, user="U0ANNA")
        assert isinstance(refusal, Refusal) and refusal.rule == "opted-out"
        await d.until_settled()
        assert len(d.gateway.sends) == 1


async def test_a_failed_thread_reply_is_retried_from_its_failure_notice(
    engine: AsyncEngine,
) -> None:
    config = fast_config(policy={"countries": ["NL", "GB"], "send_delay_seconds": 0})
    async with domain(engine, refused_once(), config=config) as d:
        await d.bridge.accept_inbound(
            InboundSms(sms_id="in-1", our_number=OUR_NUMBER, sender=PEER, text="hi")
        )
        await d.until(lambda: bool(d.messenger.named("post_inbound")))
        (thread_ts,) = d.messenger.answers("open_thread")
        taken = await d.bridge.accept_reply(
            team="T1", channel=CHANNEL, thread_ts=thread_ts, ts="1.5", user="U0ANNA", text="yes"
        )
        assert taken == "queued"
        await d.until(lambda: any(n["retry"] for n in d.messenger.named("post_notice")))
        (notice,) = [n for n in d.messenger.named("post_notice") if n["retry"]]
        assert notice["thread_ts"] == thread_ts
        retried = await d.bridge.accept_retry(message_id=notice["retry"], user="U0ANNA")
        assert isinstance(retried, Queued)
        await d.until(lambda: len(d.gateway.sends) == 2)
        await d.until_settled()
        assert [s["text"] for s in d.gateway.sends] == ["yes", "yes"]
        marks = d.messenger.named("mark_reply")
        assert all(m["ts"] == "1.5" for m in marks)
        assert marks[-1]["status"] == "queued" and marks[-1]["previous"] == "failed"


async def test_a_retry_of_an_sms_whose_sends_were_never_answered_looks_for_it_first(
    engine: AsyncEngine,
) -> None:
    # Every attempt times out unanswered until the job gives up: the SMS may exist.
    gateway = ScriptedGateway(outcomes=[Unavailable("read timed out")] * 4)
    async with domain(engine, gateway) as d:
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[PEER], text="lost", request_key="k"
        )
        assert isinstance(queued, list)
        await d.until(
            lambda: any(u["view"].status == "failed" for u in d.messenger.named("update_outgoing"))
        )
        await d.until_settled()
        sends, lookups = len(gateway.sends), gateway.lookups
        # VoIPbin had it after all: the retry finds it and sends nothing more.
        gateway.found = [SentSms("sms-late", "sent")]
        retried = await d.bridge.accept_retry(message_id=queued[0].message_id, user="U0ANNA")
        assert isinstance(retried, Queued)
        await d.until(lambda: d.messenger.named("update_outgoing")[-1]["view"].status == "sent")
        await d.until_settled()
        assert gateway.lookups == lookups + 1
        assert len(gateway.sends) == sends, "the SMS found is not sent again"
