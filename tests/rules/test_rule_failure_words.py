"""A failed SMS says why in words: the alert and the thread name the kind of failure.

VoIPbin's webhook carries only the status. ``gw_timeout`` (the gateway never confirmed) and
``dlr_timeout`` (no delivery report) call for different action than a carrier's plain
``failed``, so each is worded as what it is (reference §3.2).
"""

from __future__ import annotations

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import ALERTS, make_config, serve, wait_for
from test_bridge_e2e import idle

NOT_DELIVERED = "the carrier reported the message as not delivered"
WORDS = {
    "gw_timeout": "the SMS gateway never confirmed the message (gateway timeout)",
    "dlr_timeout": "the carrier never sent a delivery report (delivery report timeout)",
    "failed": f"{NOT_DELIVERED} (status 'failed')",
    "Delivery_Failed": f"{NOT_DELIVERED} (status 'delivery_failed')",
}
PEERS = ["+31610000001", "+31610000002", "+31610000003", "+31610000004"]


async def test_each_failure_is_worded_as_what_it_is(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    # one alert per failure (no roll-up), so each can be read on its own
    config = make_config(alerts={"channel": ALERTS, "stuck_after": 600, "rollup_seconds": 0})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        for peer in PEERS:
            assert (await service.slash(f"{peer} hello")).status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == len(PEERS))
        await idle(service)
        by_peer = {
            m["targets"][0]["destination"]["target"]: m["id"] for m in fake_voipbin.messages()
        }
        for peer, status in zip(PEERS, WORDS, strict=True):
            await service.webhook("message_updated", fake_voipbin.set_status(by_peer[peer], status))
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == len(PEERS))
        await idle(service)
        alerts = " | ".join(p["text"] for p in fake_slack.posts(ALERTS))
        metrics = (await service.http.get("/metrics")).text
    # and each is counted under its own reason, for a dashboard to tell them apart
    for status in ("gw_timeout", "dlr_timeout", "failed"):
        assert f'sms_bridge_sms_total{{event="failed",reason="{status}"}} 1.0' in metrics, status
    for peer, (status, words) in zip(PEERS, WORDS.items(), strict=True):
        pretty = f"+31 6 {peer[4:]}"
        assert f"SMS to {pretty} failed: {words}." in alerts, (status, alerts)


async def test_a_send_voipbin_refused_is_said_to_be_refused_not_undelivered(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """VoIPbin refusing the send (here: no balance) means it never left: the alert gives the
    refusal's reason, and does not call it a delivery that failed."""
    config = make_config(alerts={"channel": ALERTS, "stuck_after": 600, "rollup_seconds": 0})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        fake_voipbin.fail_next("POST /messages", status=402)
        assert (await service.slash(f"{PEERS[0]} no balance")).status_code == 200
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 1)
        (alert,) = [p["text"] for p in fake_slack.posts(ALERTS)]
    assert alert.startswith(":rotating_light: SMS to +31 6 10000001: VoIPbin refused"), alert
    assert "It was not sent" in alert, alert
    assert "It was not delivered" not in alert and "failed:" not in alert, alert
