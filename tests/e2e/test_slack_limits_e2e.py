"""No text lost to a Slack limit (issue 13, failures 1 and 2), through the real service.

Every Slack call the bridge makes, and every answer it gives Slack over HTTP, is put to the
rules real Slack enforces (bot/fakes/slack_limits.py: section text ≤ 3,000 characters as
sent, escapes included; ≤ 50 blocks and ≤ 12,000 characters of block text in a message; …;
https://api.slack.com/reference/block-kit/blocks, https://api.slack.com/methods/chat.postMessage,
https://api.slack.com/methods/chat.update for its Tier 3 rate). And every SMS text is read
back from the Slack messages it became and compared with what was sent or received.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from interact import click, global_shortcut, submit, view_state
from sqlalchemy import select
from test_modal_e2e import opened

from bot.fakes.slack import FakeSlack
from bot.fakes.slack_limits import refusal
from bot.fakes.voipbin import FakeVoipbin
from bot.slack import modal, prompts
from bot.store.tables import jobs

from harness import ALERTS, CHANNEL, Service, make_config, serve, wait_for
from test_bridge_e2e import PEER, idle

# An e-mail-to-SMS gateway's HTML: 1,600 characters, 3,303 once escaped.
MARKUP = ("<p><b>Tom</b> &amp; <i>Jerry</i> &lt;3</p><br>\n" * 40)[:1600]
# Plain text that fills a section with the line naming its sender.
PLAIN = ("Dear customer, your parcel is on its way and will arrive tomorrow. " * 60)[:2990]


def slack_encoded(text: str) -> str:
    """``text`` as Slack sends what a person typed (its three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _decoded(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m[1]], text)


def slack_refusals(slack: FakeSlack, *acks: Any) -> list[str]:
    """What real Slack would have refused: every call the fake received, and the bodies the
    bridge answered Slack's requests with (``acks``). The one place the rules are applied
    (the fake's own ``refusal``), so a stricter fake tightens every test here at once."""
    found = []
    for call in slack.calls():
        refused = refusal(call.method, call.params)
        if refused is not None:
            found.append(f"{call.method}: {refused}")
        if call.params.get("blocks") and not call.params.get("text"):
            found.append(f"{call.method}: blocks without a text fallback")
    for body in acks:
        refused = refusal("ack", body)
        if refused is not None:
            found.append(f"ack: {refused}")
    return found


def posts_by_key(slack: FakeSlack, channel: str = CHANNEL) -> dict[str, list[dict[str, Any]]]:
    """The bridge's posts of each SMS (metadata key ``msg:<id>``, further parts
    ``msg:<id>:partN``), in order, as Slack holds them now."""
    found: dict[str, list[dict[str, Any]]] = {}
    for message in slack.messages(channel):
        key = str(((message.get("metadata") or {}).get("event_payload") or {}).get("key", ""))
        if key.startswith("msg:"):
            found.setdefault(key.split(":part")[0], []).append(message)
    return found


def shown_sms(posts: list[dict[str, Any]]) -> str:
    """The SMS text as a person reads it in Slack: the sections of its posts, in order,
    less the line naming who sent it, decoded."""
    text = "".join(b["text"]["text"] for p in posts for b in p["blocks"] if b["type"] == "section")
    return _decoded(text.partition("\n")[2])


async def dead_jobs(service: Service) -> list[str]:
    engine = service.app.state.components.engine
    async with engine.connect() as conn:
        rows = await conn.execute(select(jobs.c.kind).where(jobs.c.state == "dead"))
        return [str(r[0]) for r in rows]


# -- failure 1: long texts ---------------------------------------------------------------------


async def test_long_inbound_sms_reach_the_thread_whole(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """Before: the markup-heavy SMS (3,303 characters escaped) was refused
    ``invalid_blocks``, the job died, and its notice quoted the whole text and was refused too."""
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await service.inbound(PEER, MARKUP)
        await service.inbound(PEER, PLAIN)
        await wait_for(fake_slack, lambda s: len(posts_by_key(s)) == 2)
        await idle(service)
        assert slack_refusals(fake_slack) == []
        assert await dead_jobs(service) == []
        shown = [shown_sms(posts) for posts in posts_by_key(fake_slack).values()]
        assert shown == [MARKUP, PLAIN]


async def test_a_long_outgoing_sms_is_posted_whole_and_sent(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    """Before: with ``max_segments`` raised, a 3,000-character SMS's post was refused, and
    as the post comes first, the SMS was never sent."""
    text = "<&>" * 999 + "end"  # 3,000 characters, 13,000 once escaped
    config = make_config(policy={"max_segments": 30, "confirm_over_segments": None})
    async with serve(fake_slack, fake_voipbin, database_url, config=config) as service:
        response = await service.slash(f"{PEER} {slack_encoded(text)}")
        assert response.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        assert fake_voipbin.sends()[0]["text"] == text
        sms = fake_voipbin.messages()[-1]
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "delivered"))
        await wait_for(
            fake_slack,
            lambda s: any("Delivered" in str(p[0]["blocks"]) for p in posts_by_key(s).values()),
        )
        await idle(service)
        assert slack_refusals(fake_slack, response.json()) == []
        [posts] = posts_by_key(fake_slack).values()
        assert len(posts) == 2  # more than one message holds
        assert shown_sms(posts) == text
        # the status line is on the first post, updated in place; the others have none
        assert "Delivered" in str(posts[0]["blocks"]) and "Delivered" not in str(posts[1])
        assert slack_refusals(fake_slack, response.json()) == []


async def test_the_send_cancel_prompt_of_a_long_sms_is_accepted_by_slack(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """Before: the prompt quoted 1,500 characters, escaped, with "> " on each line, in one
    section: over 3,000 for markup, refused in the slash command's answer and in the modal."""
    fake_slack.set_members(CHANNEL, ["UBOT", "U0ANNA"])
    config = make_config(policy={"max_segments": 30, "countries": ["NL"]})
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config) as service:
        response = await service.slash(f"{PEER} {slack_encoded(MARKUP)}")
        ack = response.json()
        assert any(b["type"] == "actions" for b in ack["blocks"])
        # the whole message is quoted, over as many sections as it needs
        quoted = "".join(
            b["text"]["text"] for b in ack["blocks"][1:] if b["type"] == "section"
        ).replace("> ", "")
        assert quoted.replace("\n", "") == slack_encoded(MARKUP).replace("\n", "")
        pending = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
        sent = await click(service, prompts.CONFIRM_SEND, pending["value"], ephemeral=True)
        assert sent.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        assert fake_voipbin.sends()[0]["text"] == MARKUP

        # the modal: the same question as response_action update, then Send
        await global_shortcut(service, modal.GLOBAL_SHORTCUT)
        await wait_for(fake_slack, lambda s: bool(opened(s)))
        answer = await submit(
            service, opened(fake_slack)[-1], view_state({"to": PEER, "text": MARKUP})
        )
        body = answer.json()
        assert body["response_action"] == "update"
        confirmed = await submit(service, body["view"], {"values": {}})
        assert confirmed.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
        assert fake_voipbin.sends()[1]["text"] == MARKUP
        await idle(service)
        assert slack_refusals(fake_slack, ack, body) == []
        for posts in posts_by_key(fake_slack).values():
            assert shown_sms(posts) == MARKUP


async def test_an_sms_slack_will_not_take_is_alerted_with_an_excerpt(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """Before: the dead-job notice and the alert repeated the whole SMS after "It said:",
    so Slack refused them as it had refused the SMS, and nobody heard of it."""
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.inbound(PEER, "hello")
        await wait_for(fake_slack, lambda s: len(posts_by_key(s)) == 1)
        await idle(service)
        fake_slack.fail_next("chat.postMessage", body={"ok": False, "error": "invalid_blocks"})
        await service.inbound(PEER, MARKUP)
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 1)
        await idle(service)
        [alert] = fake_slack.posts(ALERTS)
        [notice] = [p for p in fake_slack.posts(CHANNEL) if "could not be posted" in p["text"]]
        for post in (alert, notice):
            shown = "".join(b["text"]["text"] for b in post["blocks"] if b["type"] == "section")
            assert "It began:" in shown and slack_encoded(MARKUP[:200]) in shown
            assert slack_encoded(MARKUP[:400]) not in shown  # an excerpt, not the SMS
            assert f"/sms history {PEER}" in shown
        assert "View the thread" in str(alert["blocks"])
        assert slack_refusals(fake_slack) == []


# -- failure 2: roll-ups -------------------------------------------------------------------------


def rollup_items(blocks: list[dict[str, Any]]) -> tuple[int, int]:
    """How many failures a roll-up lists, and how many its "… and N more" line adds."""
    lines = [
        line
        for b in blocks
        if b["type"] == "section"
        for line in b["text"]["text"].split("\n")
        if line.startswith("• ")
    ]
    more = [int(m[1]) for line in lines if (m := re.match(r"• … and (\d+) more", line))]
    listed = [line for line in lines if not line.startswith("• … and")]
    for line in listed:  # no link cut in two
        assert line.count("<") == line.count(">") and line.endswith("|View the thread>"), line
    return len(listed), sum(more)


async def test_sixty_failures_are_one_rollup_redrawn_every_few_seconds(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """Before: 60 failures were cut at 2,900 characters inside a link (the "… and N more"
    line lost) and updated 59 times in a few seconds; chat.update allows about 50 a minute."""
    peers = [f"+3161234{n:04d}" for n in range(60)]
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        start = time.monotonic()
        for peer in peers:
            response = await service.slash(f"{peer} about your order")
            assert response.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 60, timeout=30)
        for sms in fake_voipbin.messages():
            await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        failed_at = time.monotonic()

        def drawn() -> list[dict[str, Any]]:
            return fake_slack.messages(ALERTS)[0]["blocks"] if fake_slack.messages(ALERTS) else []

        await wait_for(fake_slack, lambda s: "60 SMS failures" in str(drawn()), timeout=20)
        elapsed = time.monotonic() - start
        await idle(service)
        assert len(fake_slack.posts(ALERTS)) == 1
        listed, more = rollup_items(drawn())
        assert listed + more == 60 and listed >= 30
        [alert] = fake_slack.messages(ALERTS)
        redraws = [
            c
            for c in fake_slack.calls("chat.update")
            if c.params["ts"] == alert["ts"] and not c.failed  # a 429 is asked again
        ]
        # at most one per 5-second slot, and the last one after the last failure came in
        assert len(redraws) <= math.ceil(elapsed / 5) + 1, len(redraws)
        assert redraws[-1].at >= failed_at
        assert slack_refusals(fake_slack) == []
