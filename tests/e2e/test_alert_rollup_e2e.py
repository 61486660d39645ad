"""Alerts people don't mute: the failures of one channel within ``alerts.rollup_seconds`` are
one alert in the alerts channel that lists them (updated in place), not a post each."""

from __future__ import annotations

import asyncio
import json

from blockkit import assert_valid_payloads
from test_sending_e2e import two_numbers

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import ALERTS, CHANNEL, Service, make_config, serve, wait_for
from test_bridge_e2e import idle

PEERS = ["+31612345678", "+31687654321", "+31611223344"]
ELSEWHERE = "C0ELSEWHERE1"


def alert_texts(slack: FakeSlack) -> list[str]:
    """The alerts channel as people see it now (after updates): text and blocks."""
    return [m["text"] + json.dumps(m["blocks"]) for m in slack.messages(ALERTS)]


async def fail(service: Service, peer: str, channel: str | None = None) -> None:
    kwargs = {"channel": channel} if channel else {}
    before = len(service.voipbin.sends())
    await service.slash(f"{peer} about your order", **kwargs)
    await wait_for(service.voipbin, lambda v: len(v.sends()) == before + 1)
    sms = service.voipbin.messages()[-1]
    await service.webhook("message_updated", service.voipbin.set_status(sms["id"], "failed"))


async def test_failures_of_a_channel_within_a_minute_are_one_alert(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=two_numbers()) as service:
        for peer in PEERS:
            await fail(service, peer)
        await wait_for(fake_slack, lambda s: any("3 SMS failures in" in t for t in alert_texts(s)))
        await idle(service)
        assert len(fake_slack.posts(ALERTS)) == 1
        [alert] = alert_texts(fake_slack)
        assert "<#C0SMS00001>" in alert
        for pretty in ("+31 6 12345678", "+31 6 87654321", "+31 6 11223344"):
            assert pretty in alert
        assert alert.count("View the thread") == 3
        # the first failure was alerted at once, the others by updating that alert
        first = fake_slack.posts(ALERTS)[0]
        assert "+31 6 12345678" in first["text"] and "failures" not in first["text"]
        assert {c.params["ts"] for c in fake_slack.calls("chat.update")} >= {
            fake_slack.messages(ALERTS)[0]["ts"]
        }
        # the channel itself: every thread has its failure notice, but only the first is
        # also shown in the channel (the alert lists them all)
        notices = [p for p in fake_slack.posts(CHANNEL) if "failed:" in p["text"]]
        assert len(notices) == 3 and all(p.get("thread_ts") for p in notices)
        assert sorted(bool(p.get("reply_broadcast")) for p in notices) == [False, False, True]

        # another channel's failure is its own alert
        await fail(service, PEERS[0], channel=ELSEWHERE)
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 2)
        await idle(service)
        assert "failures" not in fake_slack.posts(ALERTS)[1]["text"]
        assert assert_valid_payloads(fake_slack) > 0


async def test_after_the_window_a_failure_opens_a_new_alert(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(alerts={"channel": ALERTS, "stuck_after": 600, "rollup_seconds": 1})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        await fail(service, PEERS[0])
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 1)
        await idle(service)
        await asyncio.sleep(1.2)  # not waiting for work: the window is a span of time
        await fail(service, PEERS[1])
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 2)
        # ... and is shown in the channel again
        await wait_for(
            fake_slack,
            lambda s: len([p for p in s.posts(CHANNEL) if p.get("reply_broadcast")]) == 2,
        )


async def test_rollup_can_be_turned_off(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(alerts={"channel": ALERTS, "stuck_after": 600, "rollup_seconds": 0})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        for peer in PEERS[:2]:
            await fail(service, peer)
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 2)
        # without a roll-up, every failure is also shown in the channel
        await wait_for(
            fake_slack,
            lambda s: len([p for p in s.posts(CHANNEL) if p.get("reply_broadcast")]) == 2,
        )
