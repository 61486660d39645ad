"""The Send SMS modal through the real service: the shortcuts open it (views.open), a
submission is checked field by field (``response_action: errors``) and sends like /sms, and a
long message turns the modal into a Send / Cancel question."""

from __future__ import annotations

from typing import Any

from blockkit import assert_valid_payloads, assert_valid_view
from interact import close, global_shortcut, message_shortcut, submit, view_state
from sqlalchemy import text
from test_sending_e2e import LONG, OTHER_NUMBER, two_numbers

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.slack import modal

from harness import CHANNEL, OUR_NUMBER, Service, make_config, serve, wait_for
from test_bridge_e2e import PEER, idle


def exactly_two() -> Any:
    """Two numbers: the least that shows the picker."""
    return make_config(
        numbers=[
            {"number": OUR_NUMBER, "channel": CHANNEL},
            {"number": OTHER_NUMBER, "channel": CHANNEL},
        ]
    )


def opened(slack: FakeSlack) -> list[dict[str, Any]]:
    """The views the bridge opened, as views.open received them."""
    return [c.params["view"] for c in slack.calls("views.open") if not c.failed]


def field(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    for block in view["blocks"]:
        if block.get("block_id") == block_id:
            return dict(block["element"])
    raise AssertionError(f"no {block_id} field")


def told(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls("chat.postEphemeral")]


async def open_global(service: Service) -> dict[str, Any]:
    response = await global_shortcut(service, modal.GLOBAL_SHORTCUT)
    assert response.status_code == 200
    await wait_for(service.slack, lambda s: bool(opened(s)))
    view = opened(service.slack)[-1]
    assert service.slack.calls("views.open")[-1].params["trigger_id"]
    assert_valid_view(view)
    return view


async def test_the_global_shortcut_opens_the_modal_and_a_submission_sends(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    fake_slack.add_channel(CHANNEL, name="support", members=["U0ANNA"])
    fake_slack.delete_channel("C0ELSEWHERE1")  # Slack cannot name it: its id is shown
    async with serve(fake_slack, fake_voipbin, database_url, config=two_numbers()) as service:
        view = await open_global(service)
        options = [o["value"] for o in field(view, "from")["options"]]
        assert options == [OUR_NUMBER, OTHER_NUMBER, "+31207654321"]
        # each number with the channel its SMS and thread go to
        assert [o["text"]["text"] for o in field(view, "from")["options"]] == [
            "+31 20 123 4567 · #support",
            "+44 20 7946 0958 · #support",
            "+31 20 765 4321 · C0ELSEWHERE1",
        ]
        # the names are cached: opening it again asks Slack only for the one it lacks
        asked = len(fake_slack.calls("conversations.info"))
        assert asked == 2
        again = await open_global(service)
        assert again["blocks"] == view["blocks"]
        infos = [c.params["channel"] for c in fake_slack.calls("conversations.info")][asked:]
        assert infos == ["C0ELSEWHERE1"]
        assert field(view, "text")["type"] == "plain_text_input"

        state = view_state({"to": PEER, "text": "Hello from the modal"}, {"from": OTHER_NUMBER})
        response = await submit(service, view, state)
        assert response.status_code == 200 and response.text == ""  # closes the modal
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        sent = fake_voipbin.sends()[0]
        assert sent["source"]["target"] == OTHER_NUMBER and sent["text"] == "Hello from the modal"
        await wait_for(fake_slack, lambda s: bool(told(s)))
        answer = told(fake_slack)[0]
        assert answer["channel"] == CHANNEL and answer["user"] == "U0ANNA"
        assert "Sending to +31 6 12345678" in answer["text"] and "(GSM-7)" in answer["text"]
        assert assert_valid_payloads(fake_slack) >= 2


async def test_validation_errors_are_shown_on_the_fields(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    config = make_config(policy={"countries": ["NL"]})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        view = await open_global(service)
        assert "from" not in [b.get("block_id") for b in view["blocks"]]  # one number
        # ... but the modal says which, and where its thread will be
        assert view["blocks"][0] == {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Sends from +31 20 123 4567; the SMS and its thread go to "
                    f"<#{CHANNEL}>.",
                }
            ],
        }

        async def errors(values: dict[str, str], user: str = "U0ANNA") -> dict[str, str]:
            response = await submit(service, view, view_state(values), user=user)
            assert response.status_code == 200
            body = response.json()
            assert body["response_action"] == "errors"
            return dict(body["errors"])

        bad = await errors({"to": "12", "text": " "})
        assert set(bad) == {"to", "text"}
        assert "12" in bad["to"] and "Write the message" in bad["text"]
        country = await errors({"to": "+442079460958", "text": "hi"})
        assert "only texts numbers in Netherlands" in country["to"]
        outsider = await errors({"to": PEER, "text": "hi"}, user="U0OUTSIDER")
        assert "Only members of this number's channel" in outsider["to"]
        too_long = await errors({"to": PEER, "text": "x" * 1200})
        assert "limit is 6" in too_long["text"]
        await idle(service)
    assert fake_voipbin.sends() == []


async def test_the_message_shortcut_fills_in_the_message(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    fake_slack.set_user("U0BOB", "Bob")
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        message = {"user": "U0BOB", "ts": "1700000000.000050", "text": "Ask <@U0BOB> &amp; co"}
        response = await message_shortcut(service, modal.MESSAGE_SHORTCUT, message)
        assert response.status_code == 200
        await wait_for(fake_slack, lambda s: bool(opened(s)))
        view = opened(fake_slack)[0]
        assert_valid_view(view)
        assert field(view, "text")["initial_value"] == "Ask @Bob & co"
        response = await submit(service, view, view_state({"to": PEER, "text": "Ask @Bob & co"}))
        assert response.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        assert fake_voipbin.sends()[0]["text"] == "Ask @Bob & co"


async def test_a_long_message_in_the_modal_asks_first(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        view = await open_global(service)
        response = await submit(service, view, view_state({"to": PEER, "text": LONG}))
        body = response.json()
        assert body["response_action"] == "update"
        question = body["view"]
        assert_valid_view(question)
        assert "3 SMS segments (GSM-7)" in str(question["blocks"])
        await idle(service)
        assert fake_voipbin.sends() == []
        # Send on the question sends it, once
        for _ in range(2):
            assert (await submit(service, question, {"values": {}})).status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await wait_for(fake_slack, lambda s: len(told(s)) == 2)
        assert "Sending to" in told(fake_slack)[0]["text"]
        assert "already sent" in told(fake_slack)[1]["text"]

        # Cancel (closing the question) drops it
        view = await open_global(service)
        question = (await submit(service, view, view_state({"to": PEER, "text": LONG}))).json()
        assert (await close(service, question["view"])).status_code == 200
        assert (await submit(service, question["view"], {"values": {}})).status_code == 200
        await wait_for(fake_slack, lambda s: len(told(s)) == 3)
        assert "was cancelled; nothing was sent" in told(fake_slack)[2]["text"]
        await idle(service)
        assert len(fake_voipbin.sends()) == 1
        assert_valid_payloads(fake_slack)


async def test_a_number_that_left_app_yaml_after_the_modal_opened_is_refused_on_its_field(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """The modal was opened, then the bridge restarted with the number gone from app.yaml:
    the submission is refused on the field that picked the number, the picker when there was
    one, else "To" (a one-number modal has no picker to put the error on)."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    only_other = make_config(numbers=[{"number": OTHER_NUMBER, "channel": CHANNEL}])
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=exactly_two()) as service:
        picker = await open_global(service)
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        one = await open_global(service)
    cases = [
        (make_config(), picker, {"from": OTHER_NUMBER}, "from"),
        (only_other, one, {}, "to"),
    ]
    for config, view, selects, where in cases:
        async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
            state = view_state({"to": PEER, "text": "hi"}, selects)
            body = (await submit(service, view, state)).json()
            assert body["response_action"] == "errors"
            assert body["errors"] == {where: "Pick one of the bridge's numbers."}
            await idle(service)
    assert fake_voipbin.sends() == []


async def test_a_send_the_database_cannot_record_is_refused_in_the_form(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """An unexpected failure while recording the send keeps the form open and says nothing
    was sent, so the person can try again (the modal is not closed on a send that is lost)."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        view = await open_global(service)
        async with service.app.state.components.engine.begin() as conn:
            await conn.execute(text("DROP TABLE jobs"))  # the database lost its job table
        response = await submit(service, view, view_state({"to": PEER, "text": "hi"}))
        assert response.status_code == 200
        body = response.json()
        assert body["response_action"] == "errors"
        assert "could not do that right now; nothing was sent" in body["errors"]["text"]
    assert fake_voipbin.sends() == []


async def test_a_submission_whose_metadata_is_not_ours_is_refused_on_its_field(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """``private_metadata`` that is not the JSON the bridge wrote (a view it did not open as
    it is now) offers no number: the form says so instead of failing (no 5xx, nothing sent)."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        view = await open_global(service) | {"private_metadata": "numbers: +31201234567"}
        response = await submit(service, view, view_state({"to": PEER, "text": "hi"}))
        assert response.status_code == 200
        assert response.json()["errors"] == {"to": "Pick one of the bridge's numbers."}
        await idle(service)
    assert fake_voipbin.sends() == []
