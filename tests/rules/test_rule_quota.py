"""A send to several recipients costs its segments once per recipient against the quotas.

``/sms +31…,+31… text`` sends one SMS to each number: the daily quotas (per person and for
everyone) count what is billed, segments times recipients. A send that would go over is refused
as a whole, says why, and sends nothing; one that fits goes out to every recipient.
"""

from __future__ import annotations

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import jobs, messages

from harness import make_config, serve, wait_for
from test_bridge_e2e import count, idle

THREE = ["+31612345678", "+31687654321", "+31611122233"]


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("daily_segments_per_user", "your daily limit is 2"),
        ("daily_segments_total", "the daily limit for everyone is 2"),
    ],
)
async def test_three_recipients_cost_three_segments(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str, rule: str, says: str
) -> None:
    config = make_config(policy={"countries": ["NL"], rule: 2})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        response = await service.slash(f"{','.join(THREE)} one segment each")
        assert response.status_code == 200
        assert says in response.json()["text"]
        assert await count(service, messages) == 0
        assert await count(service, jobs) == 0

        # two recipients fit exactly, and use the day's quota up
        response = await service.slash(f"{','.join(THREE[:2])} one segment each")
        assert "Sending to" in response.json()["text"]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        response = await service.slash(f"{THREE[2]} one more")
        assert says in response.json()["text"]
        await idle(service)
    sent_to = sorted(s["destinations"][0]["target"] for s in fake_voipbin.sends())
    assert sent_to == sorted(THREE[:2])
