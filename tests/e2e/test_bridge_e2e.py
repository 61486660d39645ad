"""The bridge end to end: the real service over HTTP, the fakes as Slack and VoIPbin.

Each test asserts what a person would see: the Slack calls (channel, thread, text) and the
SMS requests VoIPbin received (source, destination, text).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import jobs, messages

from harness import ALERTS, CHANNEL, OUR_NUMBER, Service, make_config, serve, wait_for

PEER = "+31612345678"
PEER_PRETTY = "+31 6 12345678"


def roots(slack: FakeSlack, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [p for p in slack.posts(channel) if not p.get("thread_ts")]


def in_thread(slack: FakeSlack, thread_ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [p for p in slack.posts(channel) if p.get("thread_ts") == thread_ts]


def root_ts(slack: FakeSlack, number_pretty: str = PEER_PRETTY) -> str:
    """The ts of the thread root naming ``number_pretty`` (from the stored Slack state)."""
    for message in slack.messages(CHANNEL):
        if not message.get("thread_ts") and number_pretty in message["text"]:
            return str(message["ts"])
    raise AssertionError(f"no thread root for {number_pretty}")


def updates(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls("chat.update") if c.answered_status == 200]


async def count(service: Service, table: Any) -> int:
    engine = service.app.state.components.engine
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def idle(service: Service, timeout: float = 10) -> None:
    """Wait until no job is pending or running (jobs scheduled for later, such as the
    check for stuck messages, do not count)."""
    engine = service.app.state.components.engine

    async def busy() -> int:
        async with engine.connect() as conn:
            query = (
                select(func.count())
                .select_from(jobs)
                .where(
                    jobs.c.state.in_(["pending", "running"]),
                    jobs.c.run_after < time.time() + 30,
                )
            )
            return int((await conn.execute(query)).scalar_one())

    deadline = time.monotonic() + timeout
    while await busy():
        if time.monotonic() > deadline:
            raise AssertionError("jobs still pending")
        await asyncio.sleep(0.02)


async def send_one(service: Service, text: str = "hello") -> dict[str, Any]:
    response = await service.slash(f"{PEER} {text}")
    assert response.status_code == 200
    await wait_for(service.voipbin, lambda v: len(v.sends()) >= 1)
    return service.voipbin.messages()[-1]


# -- /sms --------------------------------------------------------------------------------


async def test_sms_opens_a_thread_posts_the_text_and_sends(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        response = await service.slash(f"{PEER} Hello there & welcome")
        assert response.status_code == 200
        ack = response.json()
        assert ack["response_type"] == "ephemeral"
        assert PEER_PRETTY in ack["text"]

        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        assert fake_voipbin.sends() == [
            {
                "source": {"type": "tel", "target": OUR_NUMBER},
                "destinations": [{"type": "tel", "target": PEER}],
                "text": "Hello there & welcome",
            }
        ]
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        root, sent = fake_slack.posts(CHANNEL)
        assert "thread_ts" not in root
        assert PEER_PRETTY in root["text"] and "+31 20 123 4567" in root["text"]
        assert sent["thread_ts"] == root_ts(fake_slack)
        assert "<@U0ANNA>" in sent["text"]
        assert "Hello there &amp; welcome" in sent["text"]
        assert sent["unfurl_links"] is False and sent["unfurl_media"] is False


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0612345678", ["+31612345678"]),
        ("+31-6-1234.5678", ["+31612345678"]),
        ("(06)12345678", ["+31612345678"]),
        ("<tel:+31612345678|+31 6 1234 5678>", ["+31612345678"]),
        ("+31612345678,0687654321", ["+31612345678", "+31687654321"]),
        ("+442079460958", ["+442079460958"]),
    ],
)
async def test_sms_accepts_the_ways_people_write_numbers(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    sqlite_url: str,
    typed: str,
    expected: list[str],
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        response = await service.slash(f"{typed} hi")
        assert response.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == len(expected))
        got = [s["destinations"][0]["target"] for s in fake_voipbin.sends()]
        assert sorted(got) == sorted(expected)
        # one thread per recipient
        await wait_for(fake_slack, lambda s: len(roots(s)) == len(expected))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("+3161234 hi", "+3161234"),
        ("12 hi", "12"),
        ("hello there", "hello"),
        ("+31612345678", "no text"),
        ("+31612345678,nonsense hi", "nonsense"),
    ],
)
async def test_sms_refuses_bad_input_and_sends_nothing(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, text: str, says: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        response = await service.slash(text)
        assert response.status_code == 200
        ack = response.json()
        assert ack["response_type"] == "ephemeral"
        assert says.lower() in ack["text"].lower()
        assert "/sms +31612345678" in ack["text"]  # says how to write it
        assert await count(service, messages) == 0
        assert await count(service, jobs) == 0
    assert fake_voipbin.sends() == []
    assert fake_slack.posts() == []


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
async def test_sms_without_arguments_shows_usage(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, text: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        response = await service.slash(text)
        ack = response.json()
        assert ack["response_type"] == "ephemeral"
        assert "/sms +31612345678 Your message" in ack["text"]
        assert await count(service, jobs) == 0


async def test_sms_in_a_channel_without_a_number_is_refused(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        response = await service.slash(f"{PEER} hi", channel="C0OTHER0001")
        ack = response.json()
        assert ack["response_type"] == "ephemeral"
        assert "no VoIPbin number" in ack["text"]
        assert await count(service, jobs) == 0
    assert fake_voipbin.sends() == []


async def test_a_second_sms_to_the_same_number_uses_the_same_thread(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.slash(f"{PEER} one")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await service.slash("0612345678 two")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 3)
        assert len(roots(fake_slack)) == 1
        thread = in_thread(fake_slack, root_ts(fake_slack))
        assert ["one" in thread[0]["text"], "two" in thread[1]["text"]] == [True, True]


# -- thread replies ----------------------------------------------------------------------


async def test_a_reply_in_the_thread_goes_out_as_sms(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        fake_slack.set_user("U0BOB", "Bob")
        response = await service.reply(thread, "Thanks &amp; see you, <@U0BOB> &lt;3")
        assert response.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        assert fake_voipbin.sends()[1] == {
            "source": {"type": "tel", "target": OUR_NUMBER},
            "destinations": [{"type": "tel", "target": PEER}],
            "text": "Thanks & see you, @Bob <3",
        }


async def test_messages_that_are_not_a_persons_reply_in_our_thread_are_ignored(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        ignored = [
            service.reply(thread, "from a bot", bot_id="B0OTHER"),
            service.reply(thread, "bot message", subtype="bot_message", bot_id="B0X"),
            service.reply(thread, "edited", subtype="message_changed"),
            service.reply(thread, "deleted", subtype="message_deleted"),
            service.reply(thread, "joined", subtype="channel_join"),
            service.reply("1699999999.000001", "someone else's thread"),
            service.reply(thread, "other channel", channel="C0OTHER0001"),
            service.event(  # a top-level message, not a reply
                {
                    "type": "message",
                    "channel": CHANNEL,
                    "user": "U0ANNA",
                    "text": "hi",
                    "ts": service.next_ts(),
                }
            ),
            service.event({"type": "reaction_added", "user": "U0ANNA", "reaction": "x"}),
        ]
        for call in ignored:
            response = await call
            assert response.status_code == 200
        await idle(service)
        assert len(fake_voipbin.sends()) == 1


async def test_a_redelivered_event_never_sends_twice(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        ts = service.next_ts()
        first = await service.reply(thread, "once", ts=ts, event_id="Ev0REPLY1")
        assert first.status_code == 200
        for retry in (1, 2, 3):
            again = await service.reply(
                thread, "once", ts=ts, event_id="Ev0REPLY1", retry_num=retry
            )
            assert again.status_code == 200
        # the same message under another event id (a racing redelivery) is caught by its ts
        other = await service.reply(thread, "once", ts=ts, event_id="Ev0REPLY2")
        assert other.status_code == 200
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == ["hello", "once"]


# -- inbound -----------------------------------------------------------------------------


async def test_an_inbound_sms_opens_a_thread_and_replies_go_back(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound("+31687654321", "Is the shop open?")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        root, posted = fake_slack.posts(CHANNEL)
        assert "+31 6 87654321" in root["text"]
        assert posted["thread_ts"] == root_ts(fake_slack, "+31 6 87654321")
        assert "Is the shop open?" in posted["text"]

        await service.inbound("+31687654321", "Hello?")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 3)
        assert len(roots(fake_slack)) == 1

        await service.reply(posted["thread_ts"], "Yes, until 6")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        assert fake_voipbin.sends()[0]["destinations"] == [
            {"type": "tel", "target": "+31687654321"}
        ]
        assert fake_voipbin.sends()[0]["source"] == {"type": "tel", "target": OUR_NUMBER}


async def test_inbound_text_cannot_ping_mention_or_fake_a_link(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    hostile = (
        "<!channel> <!here> <@U123> <!subteam^S1> <https://evil.example|https://bank.example> &lt;"
    )
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.inbound(PEER, hostile)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        posted = fake_slack.posts(CHANNEL)[1]
        escaped = (
            "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;!subteam^S1&gt; "
            "&lt;https://evil.example|https://bank.example&gt; &amp;lt;"
        )
        assert escaped in posted["text"]
        assert escaped in json.dumps(posted["blocks"])
        everything = json.dumps(posted)
        assert (
            "<!" not in everything
            and "<@U123>" not in everything
            and "<https://evil" not in everything
        )
        assert posted["unfurl_links"] is False and posted["unfurl_media"] is False


async def test_an_inbound_redelivery_is_posted_once(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        message = await service.inbound(PEER, "only once")
        for _ in range(3):
            assert (await service.webhook("message_created", message)).status_code == 200
        await idle(service)
        texts = [p["text"] for p in fake_slack.posts(CHANNEL)]
        assert sum("only once" in t for t in texts) == 1


async def test_an_sms_from_a_long_named_sender_is_taken_in(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """A sender that is not a number, longer than a job lane can hold, is still recorded and
    posted (its lane is keyed by a digest), on SQLite and on PostgreSQL."""
    sender = "ACME-NOTIFICATIONS-" + "X" * 60
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        response = await service.webhook(
            "message_created", fake_voipbin.inbound(sender, OUR_NUMBER, "long sender")
        )
        assert response.status_code == 200
        await idle(service)
        assert any("long sender" in p["text"] for p in fake_slack.posts(CHANNEL))


async def test_the_mapping_survives_a_restart(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound(PEER, "before the restart")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
    thread = root_ts(fake_slack)
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound(PEER, "after the restart")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 3)
        assert len(roots(fake_slack)) == 1
        assert fake_slack.posts(CHANNEL)[2]["thread_ts"] == thread
        await service.slash(f"{PEER} and a reply")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 4)
        assert fake_slack.posts(CHANNEL)[3]["thread_ts"] == thread


async def test_a_reply_in_a_thread_whose_number_left_app_yaml_is_refused(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound(PEER, "before the number moved")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
    thread = root_ts(fake_slack)
    other = make_config(numbers=[{"number": "+31201234999", "channel": CHANNEL}])
    async with serve(fake_slack, fake_voipbin, database_url, config=other) as service:
        await service.reply(thread, "still here?")
        await wait_for(fake_slack, lambda s: len(s.calls("chat.postEphemeral")) == 1)
        told = fake_slack.calls("chat.postEphemeral")[0].params
        assert told["text"] == (
            f"{OUR_NUMBER} is no longer in the bridge's app.yaml, so this thread cannot "
            "send. Nothing was sent."
        )
        await asyncio.sleep(0.3)
        assert fake_voipbin.sends() == []


# -- statuses ----------------------------------------------------------------------------


async def test_the_status_moves_forward_and_never_back(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = await send_one(service)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "sent"))
        await wait_for(
            fake_slack,
            lambda s: any(
                "Sent" in u["text"] or "Sent" in json.dumps(u["blocks"]) for u in updates(s)
            ),
        )
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "delivered"))
        await wait_for(fake_slack, lambda s: "Delivered" in json.dumps(updates(s)[-1]["blocks"]))
        shown = len(updates(fake_slack))
        # late and repeated events change nothing
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "sent"))
        await service.webhook("message_created", fake_voipbin.set_status(sms["id"], "queued"))
        await idle(service)
        assert len(updates(fake_slack)) == shown
        assert "Delivered" in json.dumps(fake_slack.messages(CHANNEL)[-1]["blocks"])


async def test_a_status_that_arrives_before_the_send_answer_is_kept(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        fake_voipbin.fail_next("POST /messages", mode="hang", delay=1.0, create_first=True)
        await service.slash(f"{PEER} racing")
        await wait_for(fake_voipbin, lambda v: len(v.messages()) == 1)
        sms = fake_voipbin.messages()[0]
        # delivered arrives while our POST is still waiting for its answer
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "delivered"))
        await wait_for(
            fake_slack,
            lambda s: bool(updates(s)) and "Delivered" in json.dumps(updates(s)[-1]["blocks"]),
        )
        await idle(service)
        assert len(fake_voipbin.messages()) == 1


async def test_thread_reply_status_is_shown_with_reactions(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await send_one(service)
        ts = service.next_ts()
        await service.reply(root_ts(fake_slack), "via reply", ts=ts)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        sms = fake_voipbin.messages()[-1]
        await wait_for(
            fake_slack,
            lambda s: any(c.params.get("timestamp") == ts for c in s.calls("reactions.add")),
        )
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "delivered"))
        await wait_for(
            fake_slack,
            lambda s: any(
                c.params.get("name") == "white_check_mark" and c.params.get("timestamp") == ts
                for c in s.calls("reactions.add")
            ),
        )


# -- failures and alerts -----------------------------------------------------------------


def alerts_in(slack: FakeSlack) -> list[dict[str, Any]]:
    return slack.posts(ALERTS)


def notices_in(slack: FakeSlack) -> list[dict[str, Any]]:
    """Notices in the conversation's thread that are also shown in the channel."""
    return [p for p in slack.posts(CHANNEL) if p.get("reply_broadcast")]


def alerted(slack: FakeSlack) -> bool:
    return len(alerts_in(slack)) == 1 and len(notices_in(slack)) == 1


async def test_a_failed_status_alerts_in_the_thread_and_the_alert_channel(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = await send_one(service)
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        await wait_for(fake_slack, alerted)
        notice = notices_in(fake_slack)
        assert notice[0]["thread_ts"] == root_ts(fake_slack)
        assert PEER_PRETTY in notice[0]["text"] and "failed" in notice[0]["text"]
        assert PEER_PRETTY in alerts_in(fake_slack)[0]["text"]
        assert "View the thread" in json.dumps(alerts_in(fake_slack)[0]["blocks"])
        await wait_for(fake_slack, lambda s: "Failed" in json.dumps(updates(s)[-1]["blocks"]))
        # a redelivered failure does not alert again
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        await idle(service)
        assert len(alerts_in(fake_slack)) == 1


@pytest.mark.parametrize("status", ["gw_timeout", "dlr_timeout"])
async def test_timeouts_are_failures(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, status: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        sms = await send_one(service)
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], status))
        await wait_for(fake_slack, lambda s: len(alerts_in(s)) == 1)
        assert "timeout" in alerts_in(fake_slack)[0]["text"]


async def test_voipbin_500_on_send_is_retried_then_alerted(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        fake_voipbin.fail_next("POST /messages", status=500, times=10)
        await service.slash(f"{PEER} will fail")
        await wait_for(fake_slack, alerted, timeout=15)
        assert "It was not sent" in alerts_in(fake_slack)[0]["text"]
        posts = [r for r in fake_voipbin.requests if r.method == "POST"]
        # jobs.max_attempts (4) in the test config: the last attempt only looks for the SMS
        assert len(posts) == 3
        assert fake_voipbin.messages() == []
        assert PEER_PRETTY in notices_in(fake_slack)[0]["text"]


async def test_voipbin_500_once_then_success_sends_exactly_once(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        fake_voipbin.fail_next("POST /messages", status=500, create_first=True)
        await service.slash(f"{PEER} created then 500")
        await idle(service)
        assert len(fake_voipbin.messages()) == 1  # found by GET /messages, not sent again
        assert alerts_in(fake_slack) == []


async def test_a_refused_send_alerts_at_once(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        fake_voipbin.fail_next("POST /messages", status=402)
        await service.slash(f"{PEER} no balance")
        await wait_for(fake_slack, lambda s: len(alerts_in(s)) == 1)
        assert "refused" in alerts_in(fake_slack)[0]["text"]
        assert len([r for r in fake_voipbin.requests if r.method == "POST"]) == 1


async def test_a_message_stuck_in_queued_is_alerted(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(alerts={"channel": ALERTS, "stuck_after": 1})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        sms = await send_one(service)
        await wait_for(fake_slack, lambda s: len(alerts_in(s)) == 1, timeout=10)
        said = alerts_in(fake_slack)[0]["text"]
        assert "has not been handed to a carrier" in said and "may still arrive" in said
        checks = [r for r in fake_voipbin.requests if r.path == f"/v1.0/messages/{sms['id']}"]
        assert len(checks) == 1


async def test_a_message_that_was_sent_is_not_alerted_as_stuck(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = make_config(alerts={"channel": ALERTS, "stuck_after": 1})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        sms = await send_one(service)
        fake_voipbin.set_status(sms["id"], "sent")  # VoIPbin knows; the webhook was lost
        await wait_for(
            fake_voipbin, lambda v: any(r.path.endswith(sms["id"]) for r in v.requests), timeout=10
        )
        await wait_for(
            fake_slack,
            lambda s: bool(updates(s)) and "Sent" in json.dumps(updates(s)[-1]["blocks"]),
        )
        assert alerts_in(fake_slack) == []


async def test_slack_refusing_an_inbound_post_alerts_and_logs(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        fake_slack.fail_next(
            "chat.postMessage", body={"ok": False, "error": "not_in_channel"}, times=1
        )
        await service.inbound(PEER, "lost?")
        await wait_for(fake_slack, lambda s: len(alerts_in(s)) == 1)
        assert "not_in_channel" in alerts_in(fake_slack)[0]["text"]
        assert "lost?" in alerts_in(fake_slack)[0]["text"]
    assert any(
        "not_in_channel" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    )


# -- the webhook endpoint ----------------------------------------------------------------


async def test_webhook_signature_is_required_when_a_secret_is_set(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        message = fake_voipbin.inbound(PEER, OUR_NUMBER, "forged")
        missing = await service.webhook("message_created", message, signature="")
        wrong = await service.webhook("message_created", message, signature="sha256=" + "0" * 64)
        assert missing.status_code == 401 and wrong.status_code == 401
        assert await count(service, messages) == 0
        assert await count(service, jobs) == 0


async def test_webhook_rejects_malformed_bodies_and_ignores_other_events(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:

        async def post(body: bytes) -> int:
            headers = {"x-voipbin-signature": fake_voipbin.sign(body)}
            return (
                await service.http.post("/voipbin/webhook", content=body, headers=headers)
            ).status_code

        assert await post(b"{not json") == 400
        assert await post(b"[1, 2]") == 400
        assert await post(b'{"type": "message_created", "data": {"text": "no id"}}') == 400
        assert await post(b'{"type": "message_created", "data": "nope"}') == 400
        assert await post(b'{"type": "call_created", "data": {"id": "x"}}') == 200
        assert await post(b'{"type": "message_deleted", "data": {"id": "x"}}') == 200
        assert await post(b"x" * (300 * 1024)) == 413
        assert await count(service, jobs) == 0


async def test_slack_requests_must_be_signed(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        body = "command=%2Fsms&text=%2B31612345678+hi&channel_id=" + CHANNEL
        response = await service.http.post(
            "/slack/events",
            content=body,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": "1700000000",
                "x-slack-signature": "v0=" + "0" * 64,
            },
        )
        assert response.status_code == 401
        assert await count(service, jobs) == 0


async def test_health_and_metrics(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        assert (await service.http.get("/healthz")).json() == {"ok": True}
        assert (await service.http.get("/readyz")).status_code == 200
        await service.inbound(PEER, "count me")
        metrics = (await service.http.get("/metrics")).text
        assert 'sms_bridge_webhook_requests_total{result="inbound"} 1.0' in metrics
