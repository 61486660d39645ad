"""Edits and deletions of thread replies that were taken as SMS, and the undo window
(``policy.send_delay_seconds``), through the real service and the fakes."""

from __future__ import annotations

import time
from typing import Any

from blockkit import assert_valid_payloads
from test_directory_e2e import ephemeral, open_home, rows, shown

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import audit

from harness import CHANNEL, Service, make_config, serve, wait_for
from test_bridge_e2e import PEER, idle, root_ts, send_one


def told(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls("chat.postEphemeral")]


async def edit(
    service: Service, thread: str, ts: str, before: str, after: str, **kwargs: Any
) -> None:
    edited_at = service.next_ts()
    response = await service.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": CHANNEL,
            "ts": edited_at,
            "event_ts": edited_at,
            "message": {
                "type": "message",
                "user": "U0ANNA",
                "text": after,
                "ts": ts,
                "thread_ts": thread,
                "edited": {"user": "U0ANNA", "ts": edited_at},
            },
            "previous_message": {
                "type": "message",
                "user": "U0ANNA",
                "text": before,
                "ts": ts,
                "thread_ts": thread,
            },
        },
        **kwargs,
    )
    assert response.status_code == 200


async def delete(service: Service, thread: str, ts: str, text: str, **kwargs: Any) -> None:
    at = service.next_ts()
    response = await service.event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": CHANNEL,
            "ts": at,
            "event_ts": at,
            "deleted_ts": ts,
            "previous_message": {
                "type": "message",
                "user": "U0ANNA",
                "text": text,
                "ts": ts,
                "thread_ts": thread,
            },
        },
        **kwargs,
    )
    assert response.status_code == 200


async def test_editing_or_deleting_a_sent_reply_tells_its_author(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        ts = service.next_ts()
        await service.reply(thread, "See you at 5", ts=ts)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)

        await edit(service, thread, ts, "See you at 5", "See you at 5 (unfurled)", event_id="Ev1")
        await edit(service, thread, ts, "x", "x", event_id="Ev2")  # an unfurl: same text
        await edit(service, thread, ts, "a", "b", event_id="Ev1", retry_num=1)  # redelivery
        await wait_for(fake_slack, lambda s: len(told(s)) == 1)
        note = told(fake_slack)[0]
        assert note["user"] == "U0ANNA" and note["thread_ts"] == thread
        assert "sent as SMS to +31 6 12345678 as you first wrote it" in note["text"]
        assert "your edit does not reach their phone" in note["text"]

        await delete(service, thread, ts, "See you at 5")
        await wait_for(fake_slack, lambda s: len(told(s)) == 2)
        assert "deleting it here does not reach their phone" in told(fake_slack)[1]["text"]

        # edits of messages that were never sent as SMS say nothing
        await edit(service, "1699999999.000001", service.next_ts(), "a", "b")
        await edit(service, thread, thread, "root", "root edited")
        await idle(service)
        assert len(told(fake_slack)) == 2
        assert [s["text"] for s in fake_voipbin.sends()] == ["hello", "See you at 5"]


async def test_a_reply_deleted_in_the_undo_window_is_not_sent(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    config = make_config(policy={"countries": ["NL"], "send_delay_seconds": 3})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        oops, kept = service.next_ts(), service.next_ts()
        started = time.monotonic()
        await service.reply(thread, "wrong number, sorry", ts=oops)
        await service.reply(thread, "Your order is ready", ts=kept)
        # an SMS that arrives meanwhile is not held up by the waiting replies
        await service.inbound(PEER, "Thanks!")
        await wait_for(fake_slack, lambda s: any("Thanks!" in p["text"] for p in s.posts()))
        assert len(fake_voipbin.sends()) == 1
        await delete(service, thread, oops, "wrong number, sorry")
        await wait_for(
            fake_slack, lambda s: any("was not sent as SMS" in p["text"] for p in s.posts())
        )
        notice = next(p for p in fake_slack.posts(CHANNEL) if "was not sent" in p["text"])
        assert notice["thread_ts"] == thread and "<@U0ANNA>" in notice["text"]
        # an edit while it waits: its author learns it goes out as first written, and how
        # to change it
        await edit(service, thread, kept, "Your order is ready", "Your order is ready now")
        await wait_for(fake_slack, lambda s: len(told(s)) == 1)
        assert told(fake_slack)[0]["text"] == (
            "Your reply goes out as SMS to +31 6 12345678 as you first wrote it: an edit does "
            "not change an SMS. To change it, delete it before it goes out and write it again."
        )

        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2, timeout=15)
        assert time.monotonic() - started >= 2.5  # not before the window closed
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == ["hello", "Your order is ready"]
        # deleting it now that it was sent: the author is told it cannot be taken back
        await delete(service, thread, kept, "Your order is ready")
        await wait_for(fake_slack, lambda s: len(told(s)) == 2)
        assert "cannot be changed or taken back" in told(fake_slack)[1]["text"]
        assert_valid_payloads(fake_slack)


async def test_a_reply_taken_back_in_the_undo_window_shows_as_cancelled_and_costs_nothing(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    # Two segments a day for Anna: the /sms and one reply. A reply she deletes inside the
    # window was never sent, so it gives its segment back.
    config = make_config(
        policy={"countries": ["NL"], "send_delay_seconds": 2, "daily_segments_per_user": 2}
    )
    fake_slack.add_channel(CHANNEL, members=["U0ANNA"])
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        await send_one(service)
        thread = root_ts(fake_slack)
        await service.inbound(PEER, "Can you call me?")
        await wait_for(fake_slack, lambda s: any("call me" in p["text"] for p in s.posts()))
        oops = service.next_ts()
        await service.reply(thread, "wrong number, sorry", ts=oops)
        await delete(service, thread, oops, "wrong number, sorry")
        await wait_for(
            fake_slack, lambda s: any("was not sent as SMS" in p["text"] for p in s.posts())
        )

        # history: the reply is shown as cancelled, not as queued or failed
        answer = await ephemeral(service, f"history {PEER}")
        last = answer["blocks"][-1]["text"]["text"]
        assert last.startswith(":outbox_tray: *<@U0ANNA>* → ")
        assert ":wastebasket: Cancelled (not sent) · deleted before sending" in last
        assert last.endswith("\nwrong number, sorry")
        assert "Queued" not in last and "Failed" not in last

        # App Home: shown as not sent; the SMS it would have answered is still unanswered,
        # and nothing failed
        view = await open_home(service, "U0ANNA")
        text = shown(view["blocks"])
        assert ":large_orange_circle: 1 unanswered" in text and "failed" not in text.lower()
        assert ":large_orange_circle: *Unanswered*\n:wastebasket: <!date^" in text
        assert ": wrong number, sorry · _cancelled, not sent_\n" in text

        # the quota: the cancelled reply does not count, so one more reply goes out ...
        await service.reply(thread, "Calling you in five")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2, timeout=15)
        # ... and the next one is over the limit
        await service.reply(thread, "One too many")
        await wait_for(fake_slack, lambda s: any("daily limit" in t["text"] for t in told(s)))
        assert "You have sent 2 SMS segments today" in told(fake_slack)[-1]["text"]
        await idle(service)
        assert [s["text"] for s in fake_voipbin.sends()] == ["hello", "Calling you in five"]
        actions = [(r["action"], r["segments"]) for r in await rows(service, audit)]
        assert actions == [
            ("sent", 1),
            ("sent", 1),
            ("unsent", 1),
            ("sent", 1),
            ("refused", 0),
        ]
        assert "Cancelled" in shown((await ephemeral(service, f"history {PEER}"))["blocks"])
    assert_valid_payloads(fake_slack)
