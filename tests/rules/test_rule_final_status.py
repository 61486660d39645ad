"""A final delivery status is final: a later one never replaces it.

VoIPbin's webhooks arrive out of order and providers may report twice. Once an SMS is
``delivered`` a late ``failed`` must not turn it into a failure (a false alarm, a Retry button
that texts the person again); once it has ``failed`` a late ``delivered`` must not hide the
failure. What people see is the status line of the SMS in its thread and the alerts; what is
kept is the message row.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import messages

from harness import CHANNEL, Service, serve, wait_for
from test_bridge_e2e import alerts_in, idle, send_one, updates


async def stored_status(service: Service) -> str:
    async with service.app.state.components.engine.connect() as conn:
        return str((await conn.execute(select(messages.c.status))).scalar_one())


def status_line(slack: FakeSlack) -> str:
    """The status line of the SMS as Slack now shows it (its last context block)."""
    (message,) = [m for m in slack.messages(CHANNEL) if m["text"].startswith("SMS from <@")]
    contexts = [b for b in message["blocks"] if b["type"] == "context"]
    return json.dumps(contexts[-1])


@pytest.mark.parametrize(
    ("first", "late", "shown"),
    [
        ("delivered", "failed", "Delivered"),
        ("failed", "delivered", "Failed"),
        # "received" is an inbound word (reference §3.1); on an outbound SMS it is late news
        ("delivered", "received", "Delivered"),
    ],
)
async def test_a_late_final_status_does_not_replace_the_first(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    first: str,
    late: str,
    shown: str,
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        sms = await send_one(service)
        await service.webhook("message_updated", fake_voipbin.set_status(sms["id"], first))
        await wait_for(fake_slack, lambda s: bool(updates(s)) and shown in status_line(s))
        await idle(service)
        alerts_before = len(alerts_in(fake_slack))
        redraws = len(updates(fake_slack))

        response = await service.webhook(
            "message_updated", fake_voipbin.set_status(sms["id"], late)
        )
        assert response.status_code == 200
        await idle(service)
        assert shown in status_line(fake_slack)
        assert len(updates(fake_slack)) == redraws  # not redrawn at all
        assert len(alerts_in(fake_slack)) == alerts_before  # no alert raised or repeated
        assert await stored_status(service) == first
