"""Without ``policy.countries`` the bridge texts only numbers in its own ``region``.

Every limit is on by default (README, "Sending policy"): an app.yaml that names no countries
must not open the bridge to the world (international SMS cost more, and are how SMS pumping
fraud is paid). Each number below is sent with ``/sms``; the refusals are what the person sees,
and VoIPbin must receive the home-country SMS alone.
"""

from __future__ import annotations

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import make_config, serve, wait_for
from test_bridge_e2e import idle

ABROAD = {
    "NL": "+31612345678",
    "GB": "+447400123456",
    "DE": "+4915112345678",
    "US": "+12025550123",
    "BE": "+32470123456",
}
NAMES = {
    "NL": "Netherlands",
    "GB": "United Kingdom",
    "DE": "Germany",
    "US": "United States",
    "BE": "Belgium",
}


@pytest.mark.parametrize("region", ["NL", "GB"])
async def test_with_no_country_list_only_the_region_is_texted(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, region: str
) -> None:
    config = make_config(region=region, policy={})  # no policy.countries
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        answers = {}
        for country, number in ABROAD.items():
            answers[country] = (await service.slash(f"{number} hello")).json()["text"]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) >= 1)
        await idle(service)
    for country, answer in answers.items():
        if country == region:
            assert "Sending to" in answer, answer
        else:
            # says where the number is, and the one country it may text
            assert f"is a number in {NAMES[country]}; " in answer, (country, answer)
            assert f"this bridge only texts numbers in {NAMES[region]}." in answer, answer
            assert "policy.countries" in answer and "Nothing was sent" in answer
    assert [s["destinations"][0]["target"] for s in fake_voipbin.sends()] == [ABROAD[region]]
