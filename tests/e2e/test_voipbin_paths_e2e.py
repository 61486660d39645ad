"""What VoIPbin really does with a send, end to end: the real service over HTTP, FakeVoipbin
dispatching as VoIPbin's source does and delivering its own webhooks (signed, retried as
bin-webhook-manager/pkg/webhookhandler/message.go does), and what people then see in Slack.

VoIPbin source (voipbin/monorepo) behind each scenario:
- bin-message-manager/pkg/messagehandler/send.go: every target ``queued`` at create, then
  MessageBird (targets rebuilt, ``sent``) or Telnyx (targets unchanged, still ``queued``), in
  random order; when every provider fails nothing more happens;
- bin-message-manager/pkg/messagehandler/db.go ``dbUpdateTargets`` and pkg/dbhandler/message.go
  ``MessageUpdate``: a dispatch stamps ``tm_update`` and sends ``message_updated``;
- send.go's identity gate and balance check return plain errors, pkg/listenhandler/main.go
  answers them 500 and bin-api-manager/server/error_translate.go makes that ``500 INTERNAL``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import jobs

from harness import ALERTS, CHANNEL, Service, make_config, serve, wait_for

PEER = "+31612345678"
STUCK = make_config(alerts={"channel": ALERTS, "stuck_after": 1})


def outgoing(slack: FakeSlack, text: str) -> str:
    """The Slack message of the outgoing SMS ``text`` as it reads now (text and blocks)."""
    for message in slack.messages(CHANNEL):
        shown = json.dumps(message.get("blocks", []), ensure_ascii=False)
        if text in shown:
            return str(message["text"]) + shown
    return ""


def alerts(slack: FakeSlack) -> list[dict[str, Any]]:
    """Posts in the alert channel, and the failure notices broadcast to the channel."""
    broadcast = [p for p in slack.posts(CHANNEL) if p.get("reply_broadcast")]
    return slack.posts(ALERTS) + broadcast


async def job_states(service: Service, kind: str) -> list[str]:
    engine = service.app.state.components.engine
    async with engine.connect() as conn:
        rows = await conn.execute(select(jobs.c.state).where(jobs.c.kind == kind))
        return [str(r[0]) for r in rows]


async def wait_job_done(service: Service, kind: str, timeout: float = 15) -> None:
    """Wait until every ``kind`` job has finished (done or dead)."""
    deadline = time.monotonic() + timeout
    while True:
        states = await job_states(service, kind)
        if states and all(s in ("done", "dead") for s in states):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{kind} jobs not finished: {states}")
        await asyncio.sleep(0.02)  # poll the condition again


def webhooks_to(service: Service, voipbin: FakeVoipbin) -> None:
    """Point the account's webhook at the service, as ``sms-bridge setup`` does."""
    voipbin.retry_delay = 0.05
    voipbin.set_webhook(f"{service.http.base_url}/voipbin/webhook")


# -- failure 3: dispatched is not undelivered --------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "label"),
    [
        ("telnyx", "Sent to the carrier · no delivery receipt"),
        ("messagebird", ":outbox_tray: Sent"),
    ],
)
async def test_a_dispatched_sms_is_shown_handed_to_the_carrier_and_never_alerted(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    provider: str,
    label: str,
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=STUCK) as service:
        webhooks_to(service, fake_voipbin)
        fake_voipbin.dispatch = provider
        fake_voipbin.created_before_answer = True  # db.go dbCreate publishes it first
        await service.slash(f"{PEER} via {provider}")
        await wait_for(fake_voipbin, lambda v: len(v.deliveries()) == 2)
        await wait_for(fake_slack, lambda s: label in outgoing(s, f"via {provider}"))
        assert fake_voipbin.provider_of(fake_voipbin.messages()[0]["id"]) == provider
        # the stuck check ran (stuck_after: 1 s), found it dispatched, and said nothing
        await wait_job_done(service, "check_stuck")
        assert await job_states(service, "notice") == []  # no alert was even written
        assert alerts(fake_slack) == []
        assert [d.attempts for d in fake_voipbin.deliveries()] == [[200], [200]]
        assert "Queued" not in outgoing(fake_slack, f"via {provider}")


async def test_a_telnyx_sms_whose_webhook_was_lost_is_read_as_dispatched(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=STUCK) as service:
        fake_voipbin.dispatch = "telnyx"  # no webhook: only GET /messages/{id} can tell
        await service.slash(f"{PEER} no webhook")
        await wait_for(
            fake_slack,
            lambda s: "Sent to the carrier" in outgoing(s, "no webhook"),
        )
        await wait_job_done(service, "check_stuck")
        sms = fake_voipbin.messages()[0]
        assert sms["targets"][0]["status"] == "queued" and sms["tm_update"] is not None
        assert any(r.path == f"/v1.0/messages/{sms['id']}" for r in fake_voipbin.requests)
        assert alerts(fake_slack) == []


async def test_a_never_dispatched_sms_is_alerted_once_and_may_still_arrive(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=STUCK) as service:
        webhooks_to(service, fake_voipbin)
        fake_voipbin.dispatch = "none"  # every provider failed: only message_created comes
        await service.slash(f"{PEER} never dispatched")
        await wait_for(fake_slack, lambda s: len(alerts(s)) == 2)  # alert channel + thread
        for alert in alerts(fake_slack):
            assert "has not been handed to a carrier" in alert["text"]
            # never "send it again" without saying it may still arrive
            assert "It may still arrive" in alert["text"]
            assert "probably not delivered" not in alert["text"]
        await wait_job_done(service, "check_stuck")
        shown = outgoing(fake_slack, "never dispatched")
        assert "Queued" in shown and "not handed it to a carrier" in shown
        # VoIPbin redelivers the creation: still one alert
        fake_voipbin.deliver("message_created", fake_voipbin.messages()[0])
        await wait_for(fake_voipbin, lambda v: all(d.done for d in v.deliveries()))
        await wait_job_done(service, "notice")
        assert len(alerts(fake_slack)) == 2
        assert [d.type for d in fake_voipbin.deliveries()] == ["message_created"] * 2


# -- failure 4: a refusal says why ------------------------------------------------------------


REFUSED = (
    "VoIPbin refused the SMS (500); this usually means the account's balance or "
    "verification. It was not sent."
)


@pytest.mark.parametrize("why", ["identity", "balance"])
async def test_a_refused_send_is_said_in_words_and_not_retried_for_ever(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str, why: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        webhooks_to(service, fake_voipbin)
        fake_voipbin.dispatch = "random"
        if why == "identity":
            fake_voipbin.set_identity("pending")
        else:
            fake_voipbin.balance = 0
        await service.slash(f"{PEER} refused for the {why}")
        await wait_for(fake_slack, lambda s: len(alerts(s)) == 2, timeout=15)
        for alert in alerts(fake_slack):
            assert REFUSED in alert["text"], alert["text"]
            assert "outcome unknown" not in alert["text"]
        await wait_for(fake_slack, lambda s: REFUSED in outgoing(s, f"for the {why}"))
        assert ":x: Failed" in outgoing(fake_slack, f"for the {why}")
        await wait_job_done(service, "send_sms")
        assert await job_states(service, "send_sms") == ["done"]  # settled, not dead
        assert fake_voipbin.messages() == [] and fake_voipbin.sends() == []
        # jobs.max_attempts is 4: three sends, each looked up before the next, and the last
        # look-up found nothing
        posts = [r for r in fake_voipbin.requests if r.method == "POST"]
        lookups = [r for r in fake_voipbin.requests if r.path == "/v1.0/messages"]
        assert len(posts) == 3 and all(r.answered_status == 500 for r in posts)
        assert len([r for r in lookups if r.method == "GET"]) == 3
        assert fake_voipbin.requests[-1].method == "GET"


async def test_a_refusal_on_the_last_attempt_is_looked_up_at_once_and_said_in_words(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    # The first three sends die on the wire (outcome unknown, each looked up by the next
    # attempt); the fourth and last is refused (500 INTERNAL, the identity check). No attempt
    # is left to look it up in, so it is looked up at once: nothing there, it was refused.
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        fake_voipbin.set_identity("pending")
        fake_voipbin.fail_next("POST /messages", mode="reset", times=3)
        await service.slash(f"{PEER} refused at the last attempt")
        await wait_for(fake_slack, lambda s: len(alerts(s)) == 2, timeout=20)
        for alert in alerts(fake_slack):
            assert REFUSED in alert["text"], alert["text"]
        assert ":x: Failed" in outgoing(fake_slack, "refused at the last attempt")
        await wait_job_done(service, "send_sms")
        assert await job_states(service, "send_sms") == ["done"]  # settled, not dead
        assert fake_voipbin.messages() == []
        posts = [r for r in fake_voipbin.requests if r.method == "POST"]
        assert [r.answered_status for r in posts] == [0, 0, 0, 500]
        assert fake_voipbin.requests[-1].method == "GET"  # the look-up after the refusal


async def test_voipbins_words_are_shown_escaped_and_cut(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    said = "<!channel> balance & <b>verification</b> " + "x" * 400
    body = {"error": {"status": "INTERNAL", "reason": "INTERNAL", "message": said}}
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        fake_voipbin.fail_next("POST /messages", status=500, body=body, times=10)
        await service.slash(f"{PEER} odd words")
        await wait_for(fake_slack, lambda s: len(alerts(s)) == 2, timeout=15)
        posted = json.dumps(fake_slack.posts(ALERTS)[0], ensure_ascii=False)
        assert REFUSED in posted
        assert "&lt;!channel&gt; balance &amp; &lt;b&gt;verification&lt;/b&gt;" in posted
        assert "<!channel>" not in posted and "x" * 200 not in posted and "x…" in posted


async def test_a_500_whose_sms_exists_is_found_not_refused(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    # reference §2.1: a 500 can come after the message was stored; the look-up stays
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        fake_voipbin.fail_next("POST /messages", status=500, create_first=True)
        await service.slash(f"{PEER} stored then 500")
        await wait_for(fake_slack, lambda s: "Queued" in outgoing(s, "stored then 500"))
        await wait_job_done(service, "send_sms")
        assert len(fake_voipbin.messages()) == 1
        assert len([r for r in fake_voipbin.requests if r.method == "POST"]) == 1
        assert alerts(fake_slack) == []
        assert "refused" not in outgoing(fake_slack, "stored then 500")
