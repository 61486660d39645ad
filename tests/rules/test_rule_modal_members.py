"""The Send SMS modal lets only members of the number's channel send from it, and when Slack
cannot say who the members are, it refuses: an unanswered lookup is not a yes.

The modal works from anywhere in Slack, so the channel membership check is the only thing
between any person in the workspace and the company's number. Slack failing the lookup
(an error answer or a 5xx) must leave the form open with the reason on the field and send
nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from interact import submit, view_state
from test_modal_e2e import exactly_two, open_global
from test_sending_e2e import OTHER_NUMBER

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import messages

from harness import CHANNEL, serve
from test_bridge_e2e import PEER, count, idle


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": {"ok": False, "error": "channel_not_found"}},
        {"status": 500, "times": 5},
        {"mode": "reset", "times": 5},
    ],
    ids=["error", "5xx", "reset"],
)
async def test_a_failed_membership_lookup_refuses_the_send(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, fault: dict[str, Any]
) -> None:
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])  # a member: only the lookup fails
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        view = await open_global(service)
        fake_slack.fail_next("conversations.members", **fault)
        response = await submit(service, view, view_state({"to": PEER, "text": "hi"}))
        assert response.status_code == 200
        assert response.text, "the modal closed: the send was let through"
        body = response.json()
        assert body["response_action"] == "errors"
        assert "Only members of this number's channel" in body["errors"]["to"]
        await idle(service)
        assert await count(service, messages) == 0
    assert fake_voipbin.sends() == []


async def test_a_member_sends_once_the_lookup_answers(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """The same submission from a member, with Slack answering: it is sent (so the refusals
    above are the failed lookup, not the form)."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        view = await open_global(service)
        response = await submit(service, view, view_state({"to": PEER, "text": "hi"}))
        assert response.status_code == 200 and response.text == ""
        await idle(service)
    assert [s["destinations"][0]["target"] for s in fake_voipbin.sends()] == [PEER]


async def test_a_non_member_is_refused_on_the_number_picker(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """With a choice of numbers, the refusal is on the picker: another number (of a channel
    the person is in) may still be sent from."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=exactly_two()) as service:
        view = await open_global(service)
        state = view_state({"to": PEER, "text": "hi"}, {"from": OTHER_NUMBER})
        body = (await submit(service, view, state, user="U0OUTSIDER")).json()
        assert body["response_action"] == "errors"
        assert list(body["errors"]) == ["from"]
        assert "Only members of this number's channel" in body["errors"]["from"]
        await idle(service)
    assert fake_voipbin.sends() == []
