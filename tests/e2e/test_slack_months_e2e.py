"""Issue 13's "Done when": the bridge in the state a team reaches after months, through the
real service, and every Slack call (and every answer to Slack) one that a Slack enforcing its
documented limits accepts (bot/fakes/slack_limits.py), with every SMS text whole in Slack.

The state, at the issue's figures: 110 of our numbers across 10 channels; 150 people texting
one channel; a 40-message conversation of 1,600-character SMS (plain and markup-heavy, both
ways); 60 failures in one roll-up window; 80-character contact names with emoji;
4,000-character thread replies; ``/sms history <n> 25``; ``/sms contacts``; the Home tab; the
Send SMS modal from both shortcuts; held long messages with Send pressed.
"""

from __future__ import annotations

from typing import Any

from interact import click, global_shortcut, message_shortcut
from sqlalchemy import select
from test_modal_e2e import field, opened
from test_slack_limits_e2e import (
    MARKUP,
    posts_by_key,
    shown_sms,
    slack_encoded,
    slack_refusals,
)

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.phone import format_international
from bot.slack import modal, prompts
from bot.store.tables import messages

from harness import ALERTS, CHANNEL, OUR_NUMBER, Service, make_config, serve, wait_for
from test_bridge_e2e import idle

CHANNELS = [CHANNEL] + [f"C0TEAM{n:05d}" for n in range(1, 10)]
NUMBERS = [f"+3130{n:07d}" for n in range(1234567, 1234567 + 110)]
PEOPLE = [f"+316{n:08d}" for n in range(10000000, 10000150)]
FRIEND = PEOPLE[0]  # the 40-message conversation
PLAIN = ("Your order 1234 ships today; reply STOP to opt out, or call us any time. " * 30)[:1600]
# 80 characters, emoji included (a family is 5 code points, a flag 2)
FAMILY = "👩‍👩‍👧"
NAMES = [
    (f"{n:02d} {FAMILY} Anna-Maria van den Berg-de Vries 🇳🇱 Klantenservice Noord " * 2)[:80]
    for n in range(5)
]


def config() -> Any:
    # OUR_NUMBER first: the harness's inbound SMS arrive on it, in CHANNEL.
    numbers = [{"number": OUR_NUMBER, "channel": CHANNEL}] + [
        {"number": n, "channel": CHANNELS[i % 10]} for i, n in enumerate(NUMBERS)
    ]
    return make_config(
        numbers=numbers,
        policy={
            "countries": ["NL"],
            "max_segments": 30,
            "confirm_over_segments": 12,
            "daily_segments_per_user": None,
            "daily_segments_total": None,
        },
    )


async def ack_of(service: Service, text: str, acks: list[Any]) -> dict[str, Any]:
    response = await service.slash(text)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    acks.append(body)
    return body


async def test_months_of_use_stay_within_slacks_limits(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    for channel in CHANNELS:
        fake_slack.add_channel(channel, name=f"team-{channel.lower()}", members=["U0ANNA"])
    acks: list[Any] = []
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config()) as service:
        # 150 people text the one channel; five of them have long names with emoji
        for peer in PEOPLE:
            await service.inbound(peer, f"Hi, this is {peer}")
        for peer, name in zip(PEOPLE, NAMES, strict=False):
            await ack_of(service, f"name {peer} {slack_encoded(name)}", acks)
        await wait_for(fake_slack, lambda s: len(posts_by_key(s)) == 150, timeout=60)

        # a 40-message conversation of 1,600-character SMS, both ways, plain and markup
        for n in range(20):
            text = MARKUP if n % 2 else PLAIN
            await service.inbound(FRIEND, text)
            await ack_of(service, f"{FRIEND} {slack_encoded(text)}", acks)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 20, timeout=60)

        # held long messages, Send pressed
        held = ("<b>Terms</b> & conditions apply. " * 100)[:3000]
        for _ in range(2):
            prompt = await ack_of(service, f"{FRIEND} {slack_encoded(held)}", acks)
            actions = next(b for b in prompt["blocks"] if b["type"] == "actions")
            pending = actions["elements"][0]["value"]
            await click(service, prompts.CONFIRM_SEND, pending, ephemeral=True)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 22, timeout=30)

        # 4,000-character thread replies in the conversation's thread
        pretty = format_international(FRIEND)
        root = next(
            m["ts"]
            for m in fake_slack.messages(CHANNEL)
            if not m.get("thread_ts") and pretty in m["text"]
        )
        for n in range(2):
            await service.reply(str(root), f"Reply {n}: " + "please see the details below. " * 133)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 24, timeout=30)

        # 60 failures in one roll-up window
        for peer in PEOPLE[90:150]:
            await ack_of(service, f"{peer} Your appointment is tomorrow at 10:00", acks)
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 84, timeout=60)
        for sms in fake_voipbin.messages()[24:]:
            await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        await wait_for(
            fake_slack,
            lambda s: bool(s.messages(ALERTS)) and "60 SMS failures" in str(s.messages(ALERTS)),
            timeout=30,
        )

        # looking things up
        history = await ack_of(service, f"history {FRIEND} 25", acks)
        assert "History with" in history["text"]
        # whatever does not fit is the oldest: the newest message (a reply) ends it
        assert "Reply 1: please see" in history["blocks"][-1]["text"]["text"]
        contacts = await ack_of(service, "contacts", acks)
        assert "150 numbers this channel texts" in contacts["text"]
        assert "more, less recently texted" in str(contacts["blocks"])  # cut, and says so
        await service.event(
            {"type": "app_home_opened", "user": "U0ANNA", "channel": "D0HOME0001", "tab": "home"}
        )
        await wait_for(fake_slack, lambda s: bool(s.calls("views.publish")))

        # the Send SMS modal, from both shortcuts
        await global_shortcut(service, modal.GLOBAL_SHORTCUT)
        await wait_for(fake_slack, lambda s: len(opened(s)) == 1)
        picker = field(opened(fake_slack)[0], "from")["options"]
        assert len(picker) == 100  # of 111: the modal says how to send from the others
        assert "The first 100 of 111 numbers" in str(opened(fake_slack)[0]["blocks"])
        message = {"user": "U0ANNA", "ts": str(root), "text": slack_encoded(MARKUP)}
        await message_shortcut(service, modal.MESSAGE_SHORTCUT, message)
        await wait_for(fake_slack, lambda s: len(opened(s)) == 2)
        await idle(service, timeout=30)

        assert slack_refusals(fake_slack, *acks) == []
        # every SMS, either way, is whole in Slack
        engine = service.app.state.components.engine
        async with engine.connect() as conn:
            texts = {
                f"msg:{row.id}": row.text
                for row in await conn.execute(
                    select(messages.c.id, messages.c.text, messages.c.origin)
                )
                if row.origin != "reply"  # a thread reply is the person's own post
            }
        shown = posts_by_key(fake_slack)
        assert set(shown) == set(texts)
        assert {key: shown_sms(posts) for key, posts in shown.items()} == texts
        assert len(fake_slack.posts(ALERTS)) == 1
