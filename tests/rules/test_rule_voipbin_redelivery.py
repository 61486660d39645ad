"""VoIPbin delivers a webhook again when our answer was lost or late: an inbound SMS or a
status delivered twice is taken once.

An inbound SMS is keyed twice: its intake job by the provider's message id (a redelivery
while that job row is kept writes nothing), and its message row by the same id (a
redelivery after the job row was pruned runs the job, which finds the message and stops).
A status is taken only when it moves the message forward: the same status again redraws
nothing. And the post of an inbound SMS, retried after Slack's answer was lost, looks for the
post first. Each test drives the real service through signed webhooks and counts what the
fake Slack was sent.
"""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import func, select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.jobs import queue
from bot.store.tables import conversations, messages

from harness import CHANNEL, OUR_NUMBER, serve, wait_for
from test_bridge_e2e import PEER, idle, send_one, updates


async def stored_messages(service: object, text: str) -> int:
    engine = service.app.state.components.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        query = select(func.count()).select_from(messages).where(messages.c.text == text)
        return int((await conn.execute(query)).scalar_one())


def posted(slack: FakeSlack, text: str) -> int:
    return sum(text in p["text"] for p in slack.posts(CHANNEL))


async def test_deliveries_of_one_sms_racing_each_other_are_posted_once(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """Redeliveries that arrive while the first is still being recorded (one shared commit,
    or two in flight) are each answered 200 and leave one message."""
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = fake_voipbin.inbound(PEER, OUR_NUMBER, "racing deliveries")
        answers = await asyncio.gather(*(service.webhook("message_created", sms) for _ in range(6)))
        assert [a.status_code for a in answers] == [200] * 6
        await wait_for(fake_slack, lambda s: posted(s, "racing deliveries") == 1)
        await idle(service)
        assert posted(fake_slack, "racing deliveries") == 1
        assert await stored_messages(service, "racing deliveries") == 1


async def test_a_redelivery_after_its_intake_job_was_pruned_is_not_posted_again(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """Finished jobs are pruned (``jobs.seen_events_ttl_seconds``); a redelivery after that
    writes a new intake job, which finds the message already stored and posts nothing."""
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = await service.inbound(PEER, "late redelivery")
        await wait_for(fake_slack, lambda s: posted(s, "late redelivery") == 1)
        await idle(service)
        engine = service.app.state.components.engine
        assert await queue.prune_done(engine, before=time.time() + 1) > 0
        calls = len(fake_slack.calls())
        assert (await service.webhook("message_created", sms)).status_code == 200
        await idle(service)
        assert posted(fake_slack, "late redelivery") == 1
        assert fake_slack.calls()[calls:] == [], "the redelivery made Slack calls"
        assert await stored_messages(service, "late redelivery") == 1


async def test_a_status_delivered_twice_is_taken_and_shown_once(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = await send_one(service)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        delivered = fake_voipbin.set_status(sms["id"], "delivered")
        await service.webhook("message_updated", delivered)
        await wait_for(
            fake_slack,
            lambda s: bool(updates(s)) and "Delivered" in json.dumps(updates(s)[-1]["blocks"]),
        )
        await idle(service)
        shown = len(updates(fake_slack))
        assert (await service.webhook("message_updated", delivered)).status_code == 200
        await idle(service)
        assert len(updates(fake_slack)) == shown
        # and the monitoring counts it as a stale status, not as one taken
        metrics = (await service.http.get("/metrics")).text
        assert 'sms_bridge_webhook_requests_total{result="status"} 1.0' in metrics
        assert 'sms_bridge_webhook_requests_total{result="status-stale"} 1.0' in metrics


async def test_an_sms_whose_slack_post_landed_unanswered_is_not_posted_again(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """The post job's retry looks for the post the lost answer was about before posting."""
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound(PEER, "opens the thread")
        await wait_for(fake_slack, lambda s: posted(s, "opens the thread") == 1)
        fake_slack.fail_next("chat.postMessage", status=500, create_first=True)
        await service.inbound(PEER, "answer lost")
        await idle(service)
        shown = [m["text"] for m in fake_slack.messages(CHANNEL)]
        assert sum("answer lost" in text for text in shown) == 1, shown


async def test_the_first_post_of_an_sms_looks_nothing_up_and_its_latency_is_measured(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """Only a retried post looks for an earlier one (a Slack call each, rate-limited): the
    first attempt of an inbound SMS in an existing thread makes one call, its post. The
    time from acceptance to the post is what the end-to-end metric counts: each lies within
    the time the test saw from sending the webhook to the post."""
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        windows = []
        for text in ("opens the thread", "one call"):
            calls = len(fake_slack.calls())
            began = time.time()
            await service.inbound(PEER, text)
            await wait_for(fake_slack, lambda s, text=text: posted(s, text) == 1)
            await idle(service)
            windows.append(time.time() - began)
        assert [c.method for c in fake_slack.calls()[calls:]] == ["chat.postMessage"]
        metrics = (await service.http.get("/metrics")).text
        assert 'sms_bridge_end_to_end_seconds_count{direction="inbound"} 2.0' in metrics
        total = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('sms_bridge_end_to_end_seconds_sum{direction="inbound"}')
        )
        assert 0 < total <= sum(windows), (total, windows)


async def test_a_sender_longer_than_the_store_holds_is_kept_cut_to_its_width(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """A sender that is no number and longer than conversations.peer_number (64) is kept,
    cut to 64 characters (PostgreSQL would refuse it whole; SQLite would keep it whole), and
    the SMS posted: its redeliveries then find the same conversation."""
    sender = "ACME-ALERTS-" + "X" * 70
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = fake_voipbin.inbound(sender, OUR_NUMBER, "from a long name")
        for _ in range(2):
            assert (await service.webhook("message_created", sms)).status_code == 200
        await wait_for(fake_slack, lambda s: posted(s, "from a long name") == 1)
        await idle(service)
        engine = service.app.state.components.engine
        async with engine.connect() as conn:
            peers = (await conn.execute(select(conversations.c.peer_number))).scalars().all()
        assert peers == [sender[:64]]
        assert posted(fake_slack, "from a long name") == 1
