"""/healthz, /readyz and /metrics as an operator's monitoring sees them."""

from __future__ import annotations

import json

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import ACCESSKEY, serve, wait_for
from test_bridge_e2e import PEER, send_one


async def test_ready_when_database_and_both_credentials_work(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        # the start-up check of every dependency (bot/dependencies.py) reads the account
        # last; once it has, only /readyz calls Slack here
        await wait_for(fake_voipbin, lambda v: any(r.path == "/v1.0/customer" for r in v.requests))
        assert (await service.http.get("/healthz")).json() == {"ok": True}
        ready = await service.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "database": "ok", "slack": "ok", "voipbin": "ok"}
        calls = len(fake_slack.calls("auth.test"))
        await service.http.get("/readyz")
        assert len(fake_slack.calls("auth.test")) == calls, "cached, cheap"


async def test_a_bad_credential_makes_the_replica_unready(
    fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    with FakeSlack(bot_token="xoxb-some-other-token") as slack:
        async with serve(slack, fake_voipbin, sqlite_url) as service:
            ready = await service.http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["slack"] == "invalid token (invalid_auth)"
    with (
        FakeVoipbin(accesskey="vb_another") as voipbin,
        FakeSlack(bot_token="xoxb-test-token-0123456789") as slack,
    ):
        async with serve(slack, voipbin, sqlite_url) as service:
            ready = await service.http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["voipbin"].startswith("invalid access key")
            assert ACCESSKEY not in ready.text


async def test_an_outage_upstream_is_reported_but_keeps_the_replica_ready(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    voipbin = FakeVoipbin(accesskey=ACCESSKEY).start()
    async with serve(fake_slack, voipbin, sqlite_url) as service:
        # the start-up check has read the account: its connection is kept alive in the pool,
        # and VoIPbin going down must end it too (a down vendor answers nothing)
        await wait_for(voipbin, lambda v: any(r.path == "/v1.0/customer" for r in v.requests))
        voipbin.stop()  # VoIPbin is down: webhooks and commands are still taken in
        ready = await service.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["voipbin"].startswith("unreachable")


async def test_metrics_count_what_happened(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        sms = await send_one(service)
        await service.inbound(PEER, "hi back")
        await wait_for(fake_slack, lambda s: len(s.posts()) == 3)
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        await wait_for(fake_slack, lambda s: len(s.posts("C0ALERTS01")) == 1)
        await service.slash("+14155552671 refused")
        fake_slack.fail_next("chat.update", status=429, headers={"Retry-After": "0"})
        text = (await service.http.get("/metrics")).text
    expected = [
        'sms_bridge_sms_total{event="sent",reason=""} 1.0',
        'sms_bridge_sms_total{event="received",reason=""} 1.0',
        'sms_bridge_sms_total{event="failed",reason="failed"} 1.0',
        'sms_bridge_sms_total{event="refused",reason="country"} 1.0',
        'sms_bridge_webhook_requests_total{result="inbound"} 1.0',
        'sms_bridge_api_calls_total{api="voipbin",method="POST /messages",outcome="ok"} 1.0',
        'sms_bridge_api_calls_total{api="slack",method="chat.postMessage",outcome="ok"}',
        'sms_bridge_jobs_total{kind="send_sms",outcome="done"} 1.0',
        'sms_bridge_job_queue_depth{state="dead"} 0.0',
        "sms_bridge_job_oldest_pending_seconds",
        'sms_bridge_end_to_end_seconds_count{direction="inbound"} 1.0',
        'sms_bridge_end_to_end_seconds_count{direction="outbound"} 1.0',
        'sms_bridge_slack_requests_total{result="200"}',
    ]
    for line in expected:
        assert line in text, line
    assert ACCESSKEY not in text and "xoxb" not in text
    assert json.dumps(text)  # plain text exposition
