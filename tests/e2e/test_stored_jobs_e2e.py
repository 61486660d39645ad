"""Jobs written by the previous release still run after the upgrade.

The rows are inserted raw, column by column and with the payload JSON exactly as the release
before typed jobs (``bot.bridge.jobs``) wrote them, while the service runs; what is asserted
is what a person sees: the SMS VoIPbin is asked to send, the Slack posts.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import insert

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store import conversations, sms
from bot.store.tables import jobs

from harness import ALERTS, CHANNEL, OUR_NUMBER, Service, serve, wait_for

INBOUND_FROM = "+31612345678"
SEND_TO = "+31687654321"


def old_row(
    kind: str,
    key: str,
    payload: dict[str, Any],
    *,
    now: float,
    lane: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """A pending job row as the previous release's ``queue.job_row`` wrote it."""
    return {
        "kind": kind,
        "key": key,
        "lane": lane,
        "channel": channel,
        "payload": json.dumps(payload, separators=(",", ":")),
        "state": "pending",
        "attempts": 0,
        "run_after": now,
        "created_at": now,
        "updated_at": now,
    }


async def write_old_jobs(service: Service) -> None:
    engine = service.app.state.components.engine
    now = time.time()
    async with engine.begin() as conn:
        # An /sms recorded by the previous release, its send not yet run.
        conversation = await conversations.get_or_create_conversation(
            conn, channel=CHANNEL, our_number=OUR_NUMBER, peer_number=SEND_TO, now=now
        )
        message_id = await sms.insert_message(
            conn,
            key="cmd:old-release:1",
            conversation_id=conversation.id,
            direction="outbound",
            origin="command",
            text="queued before the upgrade",
            author="U0ANNA",
            status="queued",
            status_rank=0,
            now=now,
        )
        assert message_id is not None
        rows = [
            old_row(
                "send_sms",
                f"send:{message_id}",
                {"message_id": message_id},
                lane=f"c{conversation.id}",
                channel=CHANNEL,
                now=now,
            ),
            # An inbound SMS accepted (answered 200) just before the upgrade.
            old_row(
                "take_inbound",
                "take:vb-before-upgrade",
                {
                    "voipbin_id": "vb-before-upgrade",
                    "our_number": OUR_NUMBER,
                    "source": INBOUND_FROM,
                    "text": "texted before the upgrade",
                    "received_at": now,
                },
                lane=f"in:{OUR_NUMBER}:{INBOUND_FROM}",
                now=now,
            ),
            # An alert-channel notice in its shortest shape (no "broadcast", no
            # "conversation_id"), and a message only one person sees.
            old_row(
                "notice",
                "alert:unrouted:old",
                {"channel": ALERTS, "text": "alerted before the upgrade", "alert": True},
                channel=ALERTS,
                now=now,
            ),
            old_row(
                "tell",
                "tell:old",
                {
                    "channel": CHANNEL,
                    "user": "U0ANNA",
                    "thread_ts": None,
                    "text": "told before the upgrade",
                },
                now=now,
            ),
        ]
        await conn.execute(insert(jobs), rows)
    service.app.state.components.runner.wake()


async def test_jobs_of_the_previous_release_run_after_the_upgrade(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url) as service:
        await write_old_jobs(service)

        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        (sent,) = fake_voipbin.sends()
        assert sent["destinations"] == [{"type": "tel", "target": SEND_TO}]
        assert sent["text"] == "queued before the upgrade"

        def shown(channel: str, text: str) -> bool:
            return any(text in p.get("text", "") for p in fake_slack.posts(channel))

        await wait_for(fake_slack, lambda s: shown(CHANNEL, "queued before the upgrade"))
        await wait_for(fake_slack, lambda s: shown(CHANNEL, "texted before the upgrade"))
        await wait_for(fake_slack, lambda s: shown(ALERTS, "alerted before the upgrade"))
        await wait_for(
            fake_slack,
            lambda s: any(
                c.params.get("user") == "U0ANNA" and "told before the upgrade" in c.params["text"]
                for c in s.calls("chat.postEphemeral")
                if not c.failed
            ),
        )
        inbound = next(p for p in fake_slack.posts(CHANNEL) if "texted before" in p["text"])
        assert inbound.get("thread_ts"), "the inbound SMS is posted in its sender's thread"
