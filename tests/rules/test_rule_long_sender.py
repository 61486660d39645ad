"""An inbound SMS from a sender longer than the store holds (64 characters: no real number
or sender ID is) is kept, not lost: it is posted under the sender cut to that length."""

from __future__ import annotations

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import CHANNEL, serve, wait_for

LONG_SENDER = "ACME" + "x" * 76  # 80 characters


async def test_a_sender_longer_than_the_store_holds_is_posted_cut(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound(LONG_SENDER, "your parcel is here")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        root, sms = fake_slack.posts(CHANNEL)
    assert LONG_SENDER[:64] in root["text"] and LONG_SENDER[:65] not in root["text"]
    assert "your parcel is here" in sms["text"]
