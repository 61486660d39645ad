"""Before and after sending, through the real service and the fakes: the segment preview in
the /sms answer, Retry on a failed SMS, choosing the sending number with ``from:``, Send /
Cancel for long messages, and signatures. Every Block Kit payload the fake Slack receives is
checked against slack_sdk's models."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from blockkit import assert_valid_blocks, assert_valid_payloads
from interact import click
from sqlalchemy import select, update
from test_edits_e2e import edit

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.slack import prompts
from bot.slack.render import RETRY_ACTION
from bot.store.tables import audit, jobs, messages, pending_sends

from harness import CHANNEL, OUR_NUMBER, Service, make_config, serve, wait_for
from test_bridge_e2e import PEER, alerted, count, idle, root_ts, send_one, updates

OTHER_NUMBER = "+442079460958"


async def slash_ack(service: Service, text: str, **kwargs: Any) -> dict[str, Any]:
    response = await service.slash(text, **kwargs)
    assert response.status_code == 200, response.text
    ack: dict[str, Any] = response.json()
    assert ack["response_type"] == "ephemeral"
    # every answer is Block Kit with a text fallback
    assert ack["text"]
    assert_valid_blocks(ack["blocks"])
    return ack


def asks_to_confirm(ack: dict[str, Any]) -> bool:
    return any(block["type"] == "actions" for block in ack["blocks"])


async def audit_rows(service: Service) -> list[dict[str, Any]]:
    engine = service.app.state.components.engine
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit).order_by(audit.c.id))).mappings().all()
    return [dict(r) for r in rows]


def responses(slack: FakeSlack) -> list[dict[str, Any]]:
    """What the bridge said through response_url (answers to button clicks)."""
    return [c.params for c in slack.calls("response_url")]


# -- 1. the segment count and encoding in the answer to /sms ----------------------------------


async def test_the_answer_states_segments_and_encoding(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        plain = await slash_ack(service, f"{PEER} See you at 5")
        assert "Sending to" in plain["text"] and "1 SMS segment (GSM-7)" in plain["text"]

        curly = await slash_ack(service, f"{PEER} it’s fine")
        assert "1 SMS segment (UCS-2)" in curly["text"]
        assert "the ’ in it’s forces UCS-2" in curly["text"]
        assert "use ' instead" in curly["text"]

        # 100 characters: one GSM-7 segment, but two in UCS-2
        doubled = await slash_ack(service, f"{PEER} it’s " + "y" * 95)
        assert "2 SMS segments (UCS-2)" in doubled["text"]
        assert "the ’ in it’s doubles the cost; use ' instead" in doubled["text"]

        several = await slash_ack(service, f"{PEER},0687654321 “Hi” – see you…")
        assert "1 SMS segment each (UCS-2)" in several["text"]
        assert 'use " instead' in several["text"] and "– …" in several["text"]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 5)
    sent = [s["text"] for s in fake_voipbin.sends()]
    assert "See you at 5" in sent and "it’s fine" in sent  # sent as typed, never rewritten


# -- 3. Retry on a failed SMS -----------------------------------------------------------------


def retry_buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["value"]
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id") == RETRY_ACTION
    ]


def outgoing_message(slack: FakeSlack, text: str) -> dict[str, Any]:
    """The Slack message of an SMS typed with /sms, as it is now (after updates)."""
    for message in slack.messages(CHANNEL):
        if message.get("thread_ts") and text in message["text"] and "<@" in message["text"]:
            return message
    raise AssertionError(f"no outgoing message with {text!r}")


def shows_retry(slack: FakeSlack, text: str) -> bool:
    try:
        return bool(retry_buttons(outgoing_message(slack, text)))
    except AssertionError:
        return False


async def fail_first_send(service: Service, text: str) -> dict[str, Any]:
    sms = await send_one(service, text)
    await service.webhook("message_updated", service.voipbin.set_status(sms["id"], "failed"))
    await wait_for(service.slack, lambda s: shows_retry(s, text))
    await wait_for(service.slack, alerted)  # the failure notice in the thread, and the alert
    return outgoing_message(service.slack, text)


async def test_a_failed_sms_is_sent_again_once_and_its_status_line_updated(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        failed = await fail_first_send(service, "please retry me")
        assert ":x: Failed" in json.dumps(failed["blocks"])
        posts_before = len(fake_slack.posts(CHANNEL))
        [value] = retry_buttons(failed)

        # a double click: two clicks at once, and a third after
        clicks = await asyncio.gather(
            click(service, RETRY_ACTION, value, user="U0BOB", message_ts=failed["ts"]),
            click(service, RETRY_ACTION, value, user="U0BOB", message_ts=failed["ts"]),
        )
        assert [c.status_code for c in clicks] == [200, 200]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        third = await click(service, RETRY_ACTION, value, message_ts=failed["ts"])
        assert third.status_code == 200
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == ["please retry me"] * 2

        # the same Slack message shows the new attempt; no new message was posted for it
        now = outgoing_message(fake_slack, "please retry me")
        assert now["ts"] == failed["ts"]
        assert ":hourglass_flowing_sand: Queued" in json.dumps(now["blocks"])
        assert retry_buttons(now) == []
        assert all(u["ts"] == failed["ts"] for u in updates(fake_slack))
        assert len(fake_slack.posts(CHANNEL)) == posts_before
        retried = fake_voipbin.messages()[-1]
        await service.webhook("message_updated", fake_voipbin.set_status(retried["id"], "sent"))
        await wait_for(
            fake_slack,
            lambda s: ":outbox_tray: Sent" in json.dumps(outgoing_message(s, "retry me")["blocks"]),
        )
        # the later clicks were told, privately
        said = [r["text"] for r in responses(fake_slack)]
        assert len(said) == 2 and all("already sent again" in t for t in said)
        rows = [r for r in await audit_rows(service) if r["action"] == "sent"]
        assert [(r["actor"], r["detail"].startswith("retry of message")) for r in rows] == [
            ("U0ANNA", False),
            ("U0BOB", True),
        ]
        assert assert_valid_payloads(fake_slack) > 0


async def test_a_retry_goes_through_the_policy_again(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        failed = await fail_first_send(service, "not again")
        await service.inbound(PEER, "STOP")
        await wait_for(fake_slack, lambda s: any("opted out" in p["text"] for p in s.posts()))
        response = await click(service, RETRY_ACTION, retry_buttons(failed)[0])
        assert response.status_code == 200
        await wait_for(fake_slack, lambda s: bool(responses(s)))
        assert "has opted out" in responses(fake_slack)[0]["text"]
        assert responses(fake_slack)[0]["replace_original"] is False
        await idle(service)
        assert len(fake_voipbin.sends()) == 1
        assert [r["action"] for r in await audit_rows(service)][-1] == "refused"
        assert_valid_payloads(fake_slack)


async def test_a_send_voipbin_never_answered_is_looked_up_before_a_retry(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        # VoIPbin creates the SMS but answers 500 every time: the job gives up, "not sent"
        fake_voipbin.fail_next("POST /messages", status=500, times=10, create_first=True)
        # ... and the look-ups of the three attempts after it fail too
        fake_voipbin.fail_next("GET /messages", status=500, times=3)
        await service.slash(f"{PEER} maybe sent")
        await wait_for(fake_slack, lambda s: shows_retry(s, "maybe"), timeout=15)
        assert len(fake_voipbin.messages()) == 1
        value = retry_buttons(outgoing_message(fake_slack, "maybe"))[0]
        lookups = len([r for r in fake_voipbin.requests if r.method == "GET"])
        await click(service, RETRY_ACTION, value)
        await wait_for(
            fake_slack, lambda s: "Queued" in json.dumps(outgoing_message(s, "maybe")["blocks"])
        )
        await idle(service, timeout=15)
        # found by GET /messages: not sent a second time, and shown as on its way
        assert len([r for r in fake_voipbin.requests if r.method == "GET"]) > lookups
        assert len([r for r in fake_voipbin.requests if r.method == "POST"]) == 1
        assert len(fake_voipbin.messages()) == 1
        assert not shows_retry(fake_slack, "maybe")


# -- 5. from: picks which of the channel's numbers sends --------------------------------------


def two_numbers(**overrides: Any) -> Any:
    return make_config(
        numbers=[
            {"number": OUR_NUMBER, "channel": CHANNEL},
            {"number": OTHER_NUMBER, "channel": CHANNEL},
            {"number": "+31207654321", "channel": "C0ELSEWHERE1"},
        ],
        **overrides,
    )


async def test_from_picks_one_of_the_channels_numbers(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=two_numbers()) as service:
        picked = await slash_ack(service, f"from:{OTHER_NUMBER} {PEER} from London")
        assert "from +44 20 7946 0958" in picked["text"]
        default = await slash_ack(service, f"{PEER} from the default")
        assert "from +31 20 123 4567" in default["text"]
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        sources = {s["text"]: s["source"]["target"] for s in fake_voipbin.sends()}
        assert sources == {"from London": OTHER_NUMBER, "from the default": OUR_NUMBER}

        elsewhere = await slash_ack(service, f"from:+31207654321 {PEER} hi")
        assert "+31 20 765 4321 is not one of this channel's numbers" in elsewhere["text"]
        assert "+31 20 123 4567, +44 20 7946 0958" in elsewhere["text"]
        unknown = await slash_ack(service, f"from:+31209999999 {PEER} hi")
        assert "not one of this channel's numbers" in unknown["text"]
        bad = await slash_ack(service, f"from:nonsense {PEER} hi")
        assert "from:" in bad["text"] and "not a phone number" in bad["text"]
        await idle(service)
        assert len(fake_voipbin.sends()) == 2
        assert await count(service, messages) == 2


# -- 2. Send / Cancel before a long message ---------------------------------------------------

LONG = "Your order is ready for pickup. " * 12  # 384 characters: 3 segments in GSM-7


def held_id(ack: dict[str, Any]) -> str:
    buttons = [e for b in ack["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [prompts.CONFIRM_SEND, prompts.CONFIRM_CANCEL]
    assert buttons[0]["value"] == buttons[1]["value"]
    return str(buttons[0]["value"])


async def test_a_long_message_waits_for_send_and_goes_out_once(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        ack = await slash_ack(service, f"{PEER} {LONG}")
        assert "3 SMS segments (GSM-7)" in ack["text"] and "Send it?" in ack["text"]
        assert "Your order is ready" in json.dumps(ack["blocks"])
        pending = held_id(ack)
        await idle(service)
        assert fake_voipbin.sends() == [] and await count(service, jobs) == 0

    # held in the database: a restart loses nothing
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        clicks = await asyncio.gather(
            *(click(service, prompts.CONFIRM_SEND, pending, ephemeral=True) for _ in range(3))
        )
        assert all(c.status_code == 200 for c in clicks)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == [LONG.strip()]
        said = [r["text"] for r in responses(fake_slack)]
        assert sum("Sending to" in t and "3 SMS segments (GSM-7)" in t for t in said) == 1
        assert sum("already sent" in t for t in said) == 2
        # the prompt is replaced by the outcome
        assert all(r["replace_original"] is True for r in responses(fake_slack))
        cancel = await click(service, prompts.CONFIRM_CANCEL, pending, ephemeral=True)
        assert cancel.status_code == 200
        await wait_for(fake_slack, lambda s: len(responses(s)) == 4)
        assert "already sent" in responses(fake_slack)[-1]["text"]
        assert len(fake_voipbin.sends()) == 1
        assert_valid_payloads(fake_slack)


async def test_cancel_sends_nothing_and_send_after_cancel_neither(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        pending = held_id(await slash_ack(service, f"{PEER} {LONG}"))
        # someone else cannot confirm it
        await click(service, prompts.CONFIRM_SEND, pending, user="U0MALLORY", ephemeral=True)
        await click(service, prompts.CONFIRM_CANCEL, pending, ephemeral=True)
        await click(service, prompts.CONFIRM_SEND, pending, ephemeral=True)
        await wait_for(fake_slack, lambda s: len(responses(s)) == 3)
        said = [r["text"] for r in responses(fake_slack)]
        assert "not waiting for your confirmation" in said[0]
        assert "Cancelled. Nothing was sent." in said[1]
        assert "was cancelled; nothing was sent" in said[2]
        await idle(service)
        assert fake_voipbin.sends() == []
        assert await count(service, messages) == 0


async def test_the_policy_is_checked_again_when_send_is_clicked(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "confirm_over_segments": 1})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        # refused before asking: nobody confirms what cannot be sent
        early = await slash_ack(service, f"+442079460958 {LONG}")
        assert "only texts numbers in Netherlands" in early["text"]
        assert not asks_to_confirm(early)
        pending = held_id(await slash_ack(service, f"{PEER} two segments " + "x" * 150))
        answer = await slash_ack(service, f"optout {PEER}")
        assert "opted out" in answer["text"]
        await click(service, prompts.CONFIRM_SEND, pending, ephemeral=True)
        await wait_for(fake_slack, lambda s: bool(responses(s)))
        assert "has opted out" in responses(fake_slack)[0]["text"]
        await click(service, prompts.CONFIRM_SEND, pending, ephemeral=True)
        await wait_for(fake_slack, lambda s: len(responses(s)) == 2)
        assert "was refused; nothing was sent" in responses(fake_slack)[1]["text"]
        await idle(service)
        assert fake_voipbin.sends() == []
        actions = [(r["action"], r["detail"]) for r in await audit_rows(service)]
        assert actions == [
            ("refused", "country"),
            ("opt_out", "set by hand in Slack"),
            (
                "refused",
                "opted-out",
            ),
        ]


async def test_confirmation_can_be_turned_off(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "confirm_over_segments": None})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        ack = await slash_ack(service, f"{PEER} {LONG}")
        assert "Sending to" in ack["text"] and not asks_to_confirm(ack)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)


# -- 6. signatures ----------------------------------------------------------------------------


async def test_a_signature_ends_every_sms_of_its_author(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        none = await slash_ack(service, "signature")
        assert "You have no signature" in none["text"]
        setting = await slash_ack(service, 'signature "— Anna, Acme"')
        assert "ends with “— Anna, Acme”" in setting["text"]
        assert "the — forces UCS-2" in setting["text"] and "use - instead" in setting["text"]
        shown = await slash_ack(service, "signature")
        assert "Your signature: — Anna, Acme" in shown["text"]

        ack = await slash_ack(service, f"{PEER} See you at 5")
        assert "1 SMS segment (UCS-2)" in ack["text"]  # the signature is counted
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await service.reply(root_ts(fake_slack), "And bring the receipt")
        await service.slash(f"{PEER} from bob", user="U0BOB")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 3)

        off = await slash_ack(service, "signature off")
        assert "removed" in off["text"]
        await service.slash(f"{PEER} plain again")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 4)
        assert [s["text"] for s in fake_voipbin.sends()] == [
            "See you at 5\n— Anna, Acme",
            "And bring the receipt\n— Anna, Acme",
            "from bob",
            "plain again",
        ]
        # the thread shows what was sent
        assert any("— Anna, Acme" in p["text"] for p in fake_slack.posts(CHANNEL))
        assert_valid_payloads(fake_slack)


async def test_a_signature_that_is_too_long_is_refused(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        answer = await slash_ack(service, "signature " + "x" * 101)
        assert "keep it to 100" in answer["text"]
        assert "You have no signature" in (await slash_ack(service, "signature"))["text"]


async def test_a_prompt_left_for_more_than_an_hour_sends_nothing(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        pending = held_id(await slash_ack(service, f"{PEER} {LONG}"))
        engine = service.app.state.components.engine
        async with engine.begin() as conn:  # the prompt was shown two hours ago
            await conn.execute(
                update(pending_sends).values(created_at=pending_sends.c.created_at - 7200)
            )
        await click(service, prompts.CONFIRM_SEND, pending, ephemeral=True)
        await wait_for(fake_slack, lambda s: bool(responses(s)))
        assert "waited more than an hour" in responses(fake_slack)[0]["text"]
        await idle(service)
        assert fake_voipbin.sends() == []


async def test_a_failed_thread_reply_gets_retry_on_its_failure_notice(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await send_one(service)
        thread, ts = root_ts(fake_slack), service.next_ts()
        await service.reply(thread, "a reply that fails", ts=ts)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        sms = fake_voipbin.messages()[-1]
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        await wait_for(fake_slack, lambda s: "x" in s.reactions(CHANNEL, ts))
        await wait_for(fake_slack, alerted)
        [notice] = [p for p in fake_slack.posts(CHANNEL) if p.get("reply_broadcast")]
        assert notice["thread_ts"] == thread
        [value] = retry_buttons(notice)
        # editing the failed reply changes nothing, and its author is told where Retry is
        await edit(service, thread, ts, "a reply that fails", "a reply that fails!")
        await wait_for(fake_slack, lambda s: bool(s.calls("chat.postEphemeral")))
        note = fake_slack.calls("chat.postEphemeral")[0].params
        assert note["user"] == "U0ANNA" and note["text"] == (
            "Your reply was not delivered to +31 6 12345678: its SMS failed. Changing it here "
            "sends nothing; Retry on the failure notice sends it again as first written."
        )

        await click(service, RETRY_ACTION, value, message_ts=thread)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 3)
        assert fake_voipbin.sends()[-1]["text"] == "a reply that fails"
        await wait_for(fake_slack, lambda s: s.reactions(CHANNEL, ts) == ["hourglass_flowing_sand"])
        await idle(service)
        assert_valid_payloads(fake_slack)
