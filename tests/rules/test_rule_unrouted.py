"""An SMS to one of our VoIPbin numbers that app.yaml routes to no channel is never dropped
silently: VoIPbin is answered (it must not redeliver for ever), nothing is posted to any
number's thread, and the alert channel says which number got an SMS and what to change.
"""

from __future__ import annotations

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import messages

from harness import ALERTS, CHANNEL, serve, wait_for
from test_bridge_e2e import PEER, count, idle

UNROUTED = "+31207654321"  # ours at VoIPbin, in no channel of app.yaml


async def test_an_sms_to_a_number_without_a_channel_raises_an_alert(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        message = await service.inbound(PEER, "anyone there?", to=UNROUTED)
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 1)
        (alert,) = fake_slack.posts(ALERTS)
        assert "+31207654321" in alert["text"] and "not routed to any channel" in alert["text"]
        assert "numbers" in alert["text"] and "app.yaml" in alert["text"]
        # redelivered by VoIPbin: answered again, alerted once
        again = await service.webhook("message_created", message)
        assert again.status_code == 200
        await idle(service)
        assert len(fake_slack.posts(ALERTS)) == 1
        assert fake_slack.posts(CHANNEL) == []
        assert await count(service, messages) == 0
