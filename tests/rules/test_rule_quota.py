"""A send to several recipients costs its segments once per recipient against the quotas.

``/sms +31…,+31… text`` sends one SMS to each number: the daily quotas (per person and for
everyone) count what is billed, segments times recipients. A send that would go over is refused
as a whole, says why, and sends nothing; one that fits goes out to every recipient.
"""

from __future__ import annotations

import time

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store import audit
from bot.store.tables import jobs, messages

from harness import CHANNEL, OUR_NUMBER, Service, make_config, serve, wait_for
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


async def record_sent(
    service: Service, *, at: float, segments: int, actor: str = "U0OTHER"
) -> None:
    """A send already in the audit log (made ``at``), as the bridge records one."""
    async with service.app.state.components.engine.begin() as conn:
        await audit.add_audit(
            conn,
            actor=actor,
            action="sent",
            now=at,
            channel=CHANNEL,
            our_number=OUR_NUMBER,
            peer_number=THREE[0],
            segments=segments,
        )


async def test_the_daily_quotas_count_from_midnight_utc(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "daily_segments_total": 3})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        midnight = time.time() // 86400 * 86400
        await record_sent(service, at=midnight - 1, segments=2)  # yesterday: not counted
        await record_sent(service, at=midnight, segments=2)  # today
        response = await service.slash(f"{THREE[1]} the third segment of today")
        assert "Sending to" in response.json()["text"]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        response = await service.slash(f"{THREE[1]} a fourth")
        assert "the daily limit for everyone is 3" in response.json()["text"]
        await idle(service)
    assert len(fake_voipbin.sends()) == 1


async def test_the_per_minute_limit_forgets_a_send_a_minute_old(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "per_number_per_minute": 1})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        # a send just over a minute before this one does not count against the minute
        await record_sent(service, at=time.time() - 60.05, segments=1)
        response = await service.slash(f"{THREE[1]} a minute later")
        assert "Sending to" in response.json()["text"]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        response = await service.slash(f"{THREE[1]} too soon")
        assert "Sending to" not in response.json()["text"]
        await idle(service)
    assert len(fake_voipbin.sends()) == 1


async def test_the_per_minute_limit_counts_a_send_under_a_minute_old(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "per_number_per_minute": 1})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        earlier = time.time() - 59.7
        await record_sent(service, at=earlier, segments=1)
        response = await service.slash(f"{THREE[1]} within the minute")
        await idle(service)
        async with service.app.state.components.engine.connect() as conn:
            (attempt,) = [
                e for e in await audit.audit_entries(conn, since=earlier) if e.actor == "U0ANNA"
            ]
    # judged on the bridge's own clock at the attempt (the row it wrote for it): the earlier
    # send counts while it is at most a minute old
    if attempt.at - earlier <= 60:
        assert attempt.action == "refused"
        assert "Sending to" not in response.json()["text"]
        assert fake_voipbin.sends() == []
    else:  # the machine took over 0.3 s to answer: past the minute, sent
        assert attempt.action == "sent"
