"""The limits hold at their edge: a message of exactly ``policy.max_segments`` segments is
sent and one character more is refused; ``per_number_per_minute`` sends go out in a minute
and the next one is refused. What people see is the ``/sms`` answer; what leaves is the SMS
VoIPbin receives.
"""

from __future__ import annotations

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import make_config, serve, wait_for
from test_bridge_e2e import PEER, idle


@pytest.mark.parametrize(
    ("fits", "encoding"),
    [
        ("x" * 306, "GSM-7"),  # 2 segments of 153
        ("ж" * 134, "UCS-2"),  # 2 segments of 67
    ],
)
async def test_a_message_at_the_segment_cap_is_sent_and_one_more_character_is_not(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, fits: str, encoding: str
) -> None:
    config = make_config(
        policy={"countries": ["NL"], "max_segments": 2, "confirm_over_segments": None}
    )
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        over = (await service.slash(f"{PEER} {fits}{fits[-1]}")).json()["text"]
        assert f"That message is 3 SMS segments ({encoding}); the limit is 2." in over
        at_cap = (await service.slash(f"{PEER} {fits}")).json()["text"]
        assert "Sending to" in at_cap and f"2 SMS segments ({encoding})" in at_cap
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await idle(service)
    assert [s["text"] for s in fake_voipbin.sends()] == [fits]


async def test_the_per_minute_limit_lets_that_many_through(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "per_number_per_minute": 2})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        answers = [(await service.slash(f"{PEER} number {i}")).json()["text"] for i in range(3)]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        await idle(service)
    assert ["Sending to" in a for a in answers] == [True, True, False]
    assert "has sent 2 SMS in the last minute, its limit" in answers[2]
    assert [s["text"] for s in fake_voipbin.sends()] == ["number 0", "number 1"]


async def test_a_refusal_for_length_names_the_first_five_characters_that_force_ucs2(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "max_segments": 2})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        answer = (await service.slash(f"{PEER} {'абвгдеё' * 30}")).json()["text"]
    assert "That message is 4 SMS segments (UCS-2); the limit is 2." in answer
    assert "Characters like а б в г д make every segment shorter (70 characters)." in answer
    assert fake_voipbin.sends() == []
