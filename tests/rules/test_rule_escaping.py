"""Notices and alerts that quote what a customer or a colleague wrote show it as text.

Slack's message text has three control characters, ``&``, ``<`` and ``>``: an SMS that says
``<!channel>`` would ping the whole channel, ``<https://evil|https://bank>`` would show a
lying link. Every notice and alert that quotes outside text must escape it exactly once, in
the ``text`` Slack shows in notifications and in the blocks alike.
"""

from __future__ import annotations

import json
from typing import Any

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import ALERTS, CHANNEL, serve, wait_for
from test_bridge_e2e import PEER, alerts_in, idle, notices_in, send_one

HOSTILE = "<!channel> pay at <https://evil.example|https://bank.example> & <@U0BOSS> now"
SHOWN = (
    "&lt;!channel&gt; pay at &lt;https://evil.example|https://bank.example&gt; &amp; "
    "&lt;@U0BOSS&gt; now"
)


def assert_inert(post: dict[str, Any], shown: str) -> None:
    """``post`` shows ``shown`` (escaped) in its text and blocks, and no raw span of it."""
    everything = post["text"] + json.dumps(post.get("blocks") or [])
    assert shown in post["text"]
    assert shown in json.dumps(post["blocks"])
    for span in ("<!channel>", "<@U0BOSS>", "<https://evil.example"):
        assert span not in everything


async def test_an_sms_quoted_in_an_alert_cannot_ping_or_link(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """An inbound SMS that Slack refuses to post is quoted in the alert that says so."""
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.inbound(PEER, "hello")  # the thread exists
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        fake_slack.fail_next("chat.postMessage", status=200, body={"ok": False, "error": "no_text"})
        await service.inbound(PEER, HOSTILE)
        await wait_for(fake_slack, lambda s: len(alerts_in(s)) == 1 and len(notices_in(s)) == 1)
        (alert,) = alerts_in(fake_slack)
        assert "could not be posted to Slack" in alert["text"]
        assert_inert(alert, SHOWN)
        assert_inert(notices_in(fake_slack)[0], SHOWN)


async def test_a_contact_name_in_a_failure_alert_is_shown_as_typed(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    """A name a colleague gave the number (``/sms name``) is quoted by the failure alert."""
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        # Slack sends what was typed encoded: this is someone typing "<!channel> & <@U0BOSS>"
        typed = "Eve &lt;!channel&gt; &amp; &lt;@U0BOSS&gt;"
        response = await service.slash(f"name {PEER} {typed}")
        assert response.status_code == 200
        sms = await send_one(service)
        await idle(service)
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], "failed"))
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 1 and bool(notices_in(s)))
        shown = "Eve &lt;!channel&gt; &amp; &lt;@U0BOSS&gt; (+31 6 12345678) failed"
        assert_inert(alerts_in(fake_slack)[0], shown)
        assert_inert(notices_in(fake_slack)[0], shown)
