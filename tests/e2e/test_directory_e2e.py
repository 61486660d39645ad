"""Contacts, history, status, the App Home and thread lifecycle, end to end: the real service
over HTTP, signed Slack requests, the fakes as Slack and VoIPbin.

Each test asserts what a person would see (the ephemeral answer, the thread's messages, the
published Home view) and that every Block Kit payload is one slack_sdk's models accept.
"""

from __future__ import annotations

import json
import time
from typing import Any

from blockkit import assert_valid_blocks, assert_valid_payloads, assert_valid_view
from sqlalchemy import select, update

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import audit, contacts, conversations

from harness import CHANNEL, OUR_NUMBER, Service, make_config, serve, wait_for, wait_until

PEER = "+31612345678"
PEER_PRETTY = "+31 6 12345678"
OTHER = "+31687654321"
OTHER_PRETTY = "+31 6 87654321"
OUR_PRETTY = "+31 20 123 4567"
PERMALINK = f"https://fake.slack.test/archives/{CHANNEL}/p"
DAY = 86400


def roots(slack: FakeSlack) -> list[dict[str, Any]]:
    return [p for p in slack.posts(CHANNEL) if not p.get("thread_ts")]


def in_thread(slack: FakeSlack, thread_ts: str) -> list[dict[str, Any]]:
    return [p for p in slack.posts(CHANNEL) if p.get("thread_ts") == thread_ts]


def ts_of(slack: FakeSlack, root: dict[str, Any]) -> str:
    """The ts Slack gave a posted root (the fake stores messages in post order)."""
    for message in slack.messages(CHANNEL):
        if not message.get("thread_ts") and message["text"] == root["text"]:
            return str(message["ts"])
    raise AssertionError("root not found")


def shown(blocks: list[dict[str, Any]]) -> str:
    """The mrkdwn a person reads in ``blocks``, in order."""
    parts: list[str] = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(field["text"] for field in block.get("fields", []))
        for element in block.get("elements", []):
            text = element.get("text", "")
            parts.append(text["text"] if isinstance(text, dict) else text)  # a button's label
    return "\n".join(parts)


async def ephemeral(service: Service, text: str, **kwargs: Any) -> dict[str, Any]:
    """``/sms <text>``: its ephemeral answer, checked as valid Block Kit when it has blocks."""
    response = await service.slash(text, **kwargs)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"]
    assert_valid_blocks(answer["blocks"])  # every answer is Block Kit, with a text fallback
    return answer


async def rows(service: Service, table: Any) -> list[dict[str, Any]]:
    engine = service.app.state.components.engine
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table))).mappings().all()]


async def idle_back(service: Service, days: float) -> None:
    """Pretend every conversation's last message was ``days`` ago (instead of waiting)."""
    engine = service.app.state.components.engine
    async with engine.begin() as conn:
        await conn.execute(update(conversations).values(last_activity_at=time.time() - days * DAY))


async def open_home(service: Service, user: str) -> dict[str, Any]:
    before = len(service.slack.calls("views.publish"))
    response = await service.event(
        {"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": "home"}
    )
    assert response.status_code == 200
    await wait_for(service.slack, lambda s: len(s.calls("views.publish")) > before)
    call = service.slack.calls("views.publish")[-1]
    assert not call.failed, service.slack.summary()
    assert call.params["user_id"] == user
    view = service.slack.home_view(user)
    assert view is not None
    assert_valid_view(call.params["view"])
    return dict(call.params["view"])


# -- names: /sms name, thread roots and inbound posts ---------------------------------------


async def test_a_named_contact_is_shown_on_its_thread_root_and_its_sms(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        answer = await ephemeral(service, f"name {PEER} Anna de Vries")
        assert "is now called *Anna de Vries*" in answer["text"]
        assert PEER_PRETTY in answer["text"]

        await service.inbound(PEER, "Is the shop open?")
        await service.inbound(OTHER, "Hello")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 4)
        # the two SMS are taken in side by side: their threads may open in either order
        named = next(r for r in roots(fake_slack) if PEER_PRETTY in r["text"])
        unnamed = next(r for r in roots(fake_slack) if OTHER_PRETTY in r["text"])
        assert "Anna de Vries" in named["text"] and PEER_PRETTY in named["text"]
        assert OUR_PRETTY in named["text"]
        # name, the number for humans, its country, our number; no previous thread
        assert shown(named["blocks"]) == (
            f":iphone: *SMS conversation with Anna de Vries · {PEER_PRETTY} (Netherlands)*\n"
            f"Texting from {OUR_PRETTY} · reply in this thread to send an SMS"
        )
        assert shown(unnamed["blocks"]).startswith(
            f":iphone: *SMS conversation with {OTHER_PRETTY} (Netherlands)*"
        )
        sms = in_thread(fake_slack, ts_of(fake_slack, named))
        assert sms[0]["text"] == f"SMS from Anna de Vries ({PEER_PRETTY}): Is the shop open?"
        assert shown(sms[0]["blocks"]) == (
            f":incoming_envelope: *Anna de Vries ({PEER_PRETTY})*\nIs the shop open?"
        )
        other = in_thread(fake_slack, ts_of(fake_slack, unnamed))
        assert shown(other[0]["blocks"]) == f":incoming_envelope: *{OTHER_PRETTY}*\nHello"
    assert assert_valid_payloads(fake_slack) >= 4


async def test_an_outgoing_sms_shows_the_contacts_name_and_why_it_failed(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await ephemeral(service, f"name {PEER} Anna de Vries")
        await service.slash(f"{PEER} Your order is ready")
        await service.slash(f"{OTHER} Your parcel")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 4)
        named = next(p for p in fake_slack.posts(CHANNEL) if "order" in p["text"])
        # who it went to, as received SMS show who they came from
        assert named["text"] == (
            f"SMS from <@U0ANNA> to Anna de Vries ({PEER_PRETTY}): Your order is ready"
        )
        assert shown(named["blocks"]) == (
            f"<@U0ANNA> → *Anna de Vries ({PEER_PRETTY})*\nYour order is ready\n"
            ":hourglass_flowing_sand: Queued"
        )
        unnamed = next(p for p in fake_slack.posts(CHANNEL) if "parcel" in p["text"])
        assert shown(unnamed["blocks"]).startswith(f"<@U0ANNA> → *{OTHER_PRETTY}*\nYour parcel")

        # the status line is redrawn in place, with the name as it is now, and a failure
        # says why in words
        await ephemeral(service, f"name {PEER} Anna B")
        order = next(m for m in fake_voipbin.messages() if m["text"] == "Your order is ready")
        await service.webhook("message_updated", fake_voipbin.set_status(order["id"], "failed"))
        await wait_for(
            fake_slack,
            lambda s: any("Failed" in json.dumps(c.params) for c in s.calls("chat.update")),
        )
        update = next(
            c.params for c in fake_slack.calls("chat.update") if "Failed" in json.dumps(c.params)
        )
        assert update["text"].startswith(f"SMS from <@U0ANNA> to Anna B ({PEER_PRETTY}): ")
        assert shown(update["blocks"]).startswith(
            f"<@U0ANNA> → *Anna B ({PEER_PRETTY})*\nYour order is ready\n:x: Failed · the "
            "carrier reported the message as not delivered (status 'failed')\nRetry"
        )
        # the failure notice in the thread and the alert name the contact too
        named_failure = f"SMS to Anna B ({PEER_PRETTY}) failed: the carrier reported"
        await wait_for(
            fake_slack,
            lambda s: len([p for p in s.posts() if named_failure in p["text"]]) == 2,
        )
    assert assert_valid_payloads(fake_slack) >= 6


async def test_name_is_validated_audited_and_can_be_changed_or_removed(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        for typed, says in [
            ("name", "Which number?"),
            ("name 12 Anna", "/sms name +31612345678 Anna de Vries"),
            (f"name {PEER}", "Write the name after the number"),
            (f"name {PEER} {'x' * 81}", "keep it to 80"),
        ]:
            answer = await ephemeral(service, typed)
            assert says in answer["text"], (typed, answer["text"])
        assert await rows(service, contacts) == []
        assert await rows(service, audit) == []

        await ephemeral(service, f"name {PEER} <!channel> &amp; Co")
        answer = await ephemeral(service, "name 0612345678 Anna")
        assert answer["text"].endswith(
            "is now called *Anna* (it was *@channel &amp; Co*). New threads, SMS sent and "
            "received, alerts, history, contacts and the App Home show the name."
        )
        answer = await ephemeral(service, "name 0612345678 Anna")
        assert "is already called *Anna*" in answer["text"]
        answer = await ephemeral(service, f"name {PEER} -")
        assert "no longer has a name (it was *Anna*)" in answer["text"]
        assert await rows(service, contacts) == []
        entries = [
            (a["actor"], a["action"], a["peer_number"], a["detail"])
            for a in await rows(service, audit)
        ]
        assert entries == [
            ("U0ANNA", "name", PEER, "@channel & Co"),
            ("U0ANNA", "name", PEER, "Anna"),
            ("U0ANNA", "unname", PEER, "was Anna"),
        ]


async def test_a_name_that_looks_like_markup_cannot_ping_or_link(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await ephemeral(service, f"name {PEER} &lt;!channel&gt; <https://evil.example|bank>")
        await service.inbound(PEER, "hi")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        everything = json.dumps(fake_slack.posts(CHANNEL))
        assert "<!channel>" not in everything and "<https://evil" not in everything
        assert "&lt;!channel&gt; https://evil.example" in everything


# -- /sms history ----------------------------------------------------------------------------


async def test_history_shows_the_last_messages_with_a_number_from_the_store(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await ephemeral(service, f"name {PEER} Anna")
        await service.slash(f"{PEER} Your order is ready")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await service.inbound(PEER, "Thanks! <b>On my way</b>")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 3)
        thread = ts_of(fake_slack, roots(fake_slack)[0])

        answer = await ephemeral(service, f"history {PEER}")
        text = shown(answer["blocks"])
        assert text.startswith(f":scroll: History with *Anna* · {PEER_PRETTY} (Netherlands)\n")
        assert "The last 2 messages, oldest first, from the bridge's records" in text
        assert f"<{PERMALINK}{thread.replace('.', '')}|Open the thread>" in text
        first, second = answer["blocks"][2:]
        assert first["text"]["text"].startswith(":outbox_tray: *<@U0ANNA>* → Anna · <!date^")
        assert first["text"]["text"].endswith("\nYour order is ready")
        assert second["text"]["text"].startswith(":incoming_envelope: *Anna* · <!date^")
        assert second["text"]["text"].endswith("\nThanks! &lt;b&gt;On my way&lt;/b&gt;")

        answer = await ephemeral(service, "history 0612345678 1")
        assert "The last 1 message," in shown(answer["blocks"])
        assert "On my way" in shown(answer["blocks"]) and "order" not in shown(answer["blocks"])
        assert not any(
            r.path.endswith("/messages") and r.method == "GET" for r in fake_voipbin.requests
        )

        for typed, says in [
            ("history", "Which number?"),
            ("history hello", "/sms history +31612345678"),
            (f"history {PEER} 99", "how many messages to show (1 to 25)"),
            (f"history {PEER} many", "how many messages to show"),
        ]:
            assert says in (await ephemeral(service, typed))["text"], typed
        answer = await ephemeral(service, f"history {PEER}", channel="C0OTHER0001")
        assert "This channel has no VoIPbin number" in answer["text"]


async def test_history_comes_from_voipbin_when_the_bridge_has_none(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    # SMS from before the bridge: VoIPbin has them, the bridge's store does not.
    fake_voipbin.inbound(PEER, OUR_NUMBER, "Sent before the bridge existed")
    fake_voipbin.inbound(OTHER, OUR_NUMBER, "Someone else")
    fake_voipbin.inbound(PEER, "+31209999999", "To a number of another team")
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        answer = await ephemeral(service, f"history {PEER}")
        text = shown(answer["blocks"])
        assert "from VoIPbin's records (the bridge has none of its own for this number)" in text
        assert "Sent before the bridge existed" in text
        assert "Someone else" not in text and "another team" not in text
        assert "Open the thread" not in text
        lists = [
            r for r in fake_voipbin.requests if r.method == "GET" and r.path.endswith("/messages")
        ]
        assert lists, "VoIPbin's GET /messages was not asked"

        fake_voipbin.fail_next("GET /messages", status=500)
        answer = await ephemeral(service, "history +31611111111")
        # an unknown number with VoIPbin down: says both, changes nothing
        assert "VoIPbin's records could not be read" in answer["text"]


# -- /sms contacts ---------------------------------------------------------------------------


async def test_contacts_lists_the_channels_numbers_with_names_and_threads(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        answer = await ephemeral(service, "contacts")
        assert "has not texted anyone yet" in answer["text"]

        await ephemeral(service, f"name {OTHER} Bram")
        await service.inbound(PEER, "one")
        await service.inbound(OTHER, "two")
        await service.inbound(OTHER, "STOP")
        await wait_for(fake_slack, lambda s: len(roots(s)) == 2)
        await wait_until(lambda: len(fake_slack.posts(CHANNEL)) >= 6)
        bram = next(r for r in roots(fake_slack) if "Bram" in r["text"])
        anna = next(r for r in roots(fake_slack) if "Bram" not in r["text"])

        answer = await ephemeral(service, "contacts")
        assert answer["text"] == "2 numbers this channel texts"
        lines = shown(answer["blocks"][1:]).splitlines()
        assert len(lines) == 2
        # most recent first; names; links to the threads; the opt-out
        assert lines[0].startswith(
            f"• *Bram* · {OTHER_PRETTY} (Netherlands) · last message <!date^"
        )
        assert f"<{PERMALINK}{ts_of(fake_slack, bram).replace('.', '')}|thread>" in lines[0]
        assert lines[0].endswith(":no_entry: opted out")
        assert lines[1].startswith(f"• *{PEER_PRETTY} (Netherlands)* · last message")
        assert f"<{PERMALINK}{ts_of(fake_slack, anna).replace('.', '')}|thread>" in lines[1]
        assert fake_slack.calls("chat.getPermalink")

        assert "takes nothing after it" in (await ephemeral(service, "contacts all"))["text"]
        other_channel = await ephemeral(service, "contacts", channel="C0OTHER0001")
        assert "This channel has no VoIPbin number" in other_channel["text"]


# -- /sms status -----------------------------------------------------------------------------


async def test_status_shows_the_queue_last_errors_and_opt_outs(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        answer = await ephemeral(service, "status")
        text = shown(answer["blocks"])
        assert ":large_green_circle: *Healthy*" in text
        assert "*Queue*\n0 waiting · 0 retrying · 0 running" in text
        assert "*Opted-out numbers*\n0" in text and "No recent errors." in text

        await service.inbound(OTHER, "STOP")
        fake_slack.fail_next("chat.postMessage", body={"ok": False, "error": "not_in_channel"})
        await service.inbound(PEER, "lost?")
        await wait_for(
            fake_slack,
            lambda s: any("could not be posted" in p["text"] for p in s.posts()),
        )
        answer = await ephemeral(service, "status")
        text = shown(answer["blocks"])
        assert ":red_circle: *Needs attention*" in text
        assert "*Dead jobs*\n1 (`sms-bridge jobs dead` lists them)" in text
        assert "*Opted-out numbers*\n1" in text
        assert "*Latest errors*\n• `post_inbound` #" in text
        assert (
            "(dead, <!date^" in text
            and "Slack refused: Slack chat.postMessage failed: not_in_channel" in text
        )
        assert "status" in answer["text"] and "1 dead jobs" in answer["text"]
        assert "takes nothing after it" in (await ephemeral(service, "status now"))["text"]


async def test_help_lists_the_lookup_commands(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        answer = await ephemeral(service, "help")
        for command in ("/sms history", "/sms contacts", "/sms name", "/sms status"):
            assert command in answer["text"]


# -- App Home --------------------------------------------------------------------------------


async def test_app_home_lists_recent_conversations_with_unanswered_and_failed_marked(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    fake_slack.add_channel(CHANNEL, members=["U0ANNA"])
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        view = await open_home(service, "U0ANNA")
        assert "No SMS conversations yet" in shown(view["blocks"])

        await ephemeral(service, f"name {PEER} Anna")
        fake_voipbin.fail_next("POST /messages", status=400)
        await service.slash(f"{OTHER} Your parcel")
        await wait_for(fake_slack, lambda s: any("refused" in p["text"] for p in s.posts()))
        await service.inbound(PEER, "Can you call me?")
        await wait_for(fake_slack, lambda s: len(roots(s)) == 2)
        await wait_until(
            lambda: len(in_thread(fake_slack, ts_of(fake_slack, roots(fake_slack)[1]))) == 1
        )

        view = await open_home(service, "U0ANNA")
        blocks = view["blocks"]
        assert blocks[0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": "SMS conversations"},
        }
        assert shown([blocks[2]]) == ":large_orange_circle: 1 unanswered · :x: 1 with a failed SMS"
        anna, other = shown([blocks[4]]), shown([blocks[5]])
        assert anna.startswith(
            f"*Anna* · {PEER_PRETTY} (Netherlands) in <#{CHANNEL}> · "
            ":large_orange_circle: *Unanswered*\n:incoming_envelope: <!date^"
        )
        assert ": Can you call me?\n" in anna
        anna_root = next(r for r in roots(fake_slack) if "Anna" in r["text"])
        assert anna.endswith(
            f"<{PERMALINK}{ts_of(fake_slack, anna_root).replace('.', '')}|Open the thread>"
        )
        assert other.startswith(
            f"*{OTHER_PRETTY} (Netherlands)* in <#{CHANNEL}> · :x: *SMS failed*\n:outbox_tray: "
        )
        assert ": Your parcel\n" in other and "|Open the thread>" in other

        # someone who is not in the channel sees none of its SMS
        outsider = await open_home(service, "U0OUTSIDER")
        assert "No SMS conversations yet" in shown(outsider["blocks"])
        assert "Can you call me" not in json.dumps(outsider)
    assert assert_valid_payloads(fake_slack) >= 4


# -- thread lifecycle ------------------------------------------------------------------------


async def test_after_idle_days_a_new_thread_links_to_the_old_one_whose_replies_still_send(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    config = make_config(threads={"idle_days": 30})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        await service.slash(f"{PEER} First")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        old = ts_of(fake_slack, roots(fake_slack)[0])

        # A reply in the current thread keeps it, however long it was quiet.
        await idle_back(service, 31)
        await service.reply(old, "Still there?")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        await service.inbound(PEER, "Yes")
        await wait_for(fake_slack, lambda s: len(in_thread(s, old)) == 2)
        assert len(roots(fake_slack)) == 1

        # 31 quiet days later the number's next SMS opens a new thread, linked to the old.
        await idle_back(service, 31)
        await service.inbound(PEER, "Hello again")
        await wait_for(fake_slack, lambda s: len(roots(s)) == 2)
        new_root = roots(fake_slack)[1]
        new = ts_of(fake_slack, new_root)
        link = f"{PERMALINK}{old.replace('.', '')}"
        assert shown(new_root["blocks"]).endswith(
            f":leftwards_arrow_with_hook: <{link}|Previous thread with this number>"
        )
        assert "continues an earlier thread" in new_root["text"]
        await wait_for(fake_slack, lambda s: len(in_thread(s, new)) == 1)
        assert "Hello again" in in_thread(fake_slack, new)[0]["text"]

        # A reply typed in the old thread is still sent; later SMS go to the new thread.
        await service.reply(old, "Answer in the old thread")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 3)
        assert fake_voipbin.sends()[-1]["text"] == "Answer in the old thread"
        assert fake_voipbin.sends()[-1]["destinations"] == [{"type": "tel", "target": PEER}]
        await service.inbound(PEER, "Got it")
        await wait_for(fake_slack, lambda s: len(in_thread(s, new)) == 2)
        assert len(roots(fake_slack)) == 2

        # /sms to the number also lands in the new thread
        await service.slash(f"{PEER} Third")
        await wait_for(fake_slack, lambda s: len(in_thread(s, new)) == 3)
    assert assert_valid_payloads(fake_slack) >= 6


async def test_without_idle_days_a_number_keeps_its_thread(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.inbound(PEER, "one")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        await idle_back(service, 3650)
        await service.inbound(PEER, "ten years later")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 3)
        assert len(roots(fake_slack)) == 1
