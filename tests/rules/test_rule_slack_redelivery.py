"""Slack's redeliveries (same event_id, X-Slack-Retry-Num) are answered at once and act once;
a redelivery of an event whose first attempt never reached us is acted on (slack.md §3.3).
"""

from __future__ import annotations

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import serve
from test_bridge_e2e import idle, root_ts, send_one


async def test_a_redelivery_of_a_reply_taken_in_tells_slack_to_stop_retrying(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        ts = service.next_ts()
        first = await service.reply(thread, "once", ts=ts, event_id="Ev0ONCE")
        assert first.status_code == 200
        assert "x-slack-no-retry" not in first.headers
        await idle(service)
        again = await service.reply(thread, "once", ts=ts, event_id="Ev0ONCE", retry_num=1)
        assert again.status_code == 200
        assert again.headers.get("x-slack-no-retry") == "1"
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == ["hello", "once"]


async def test_a_redelivery_whose_first_attempt_was_lost_is_sent(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        # the first attempt never reached the bridge: Slack's first retry is all it gets
        response = await service.reply(thread, "lost once", event_id="Ev0LOST", retry_num=1)
        assert response.status_code == 200
        assert "x-slack-no-retry" not in response.headers
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == ["hello", "lost once"]
