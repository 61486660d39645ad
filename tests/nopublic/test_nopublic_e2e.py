"""The service without a public URL, end to end: Slack over Socket Mode and VoIPbin over its
WebSocket or by polling, against the fakes (FakeSlack and FakeVoipbin for the Web APIs,
FakeSocketMode and FakeVoipbinWs for the sockets). Same bridge, same assertions as the HTTP
tests: what Slack shows and which SMS VoIPbin was asked to send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from bot.fakes.voipbin import FakeVoipbin
from bot.fakes.voipbin_ws import FakeVoipbinWs
from bot.nopublic.service import InboundMode, NoPublicUrlService
from bot.store.tables import jobs

from harness import ACCESSKEY, CHANNEL, OUR_NUMBER, TEAM, make_config, make_settings, wait_until

APP_TOKEN = "xapp-1-A0001-1234-socketmodetoken"
PEER = "+31612345678"
PEER_PRETTY = "+31 6 12345678"
OTHER = "+31687654321"


@dataclass
class Running:
    service: NoPublicUrlService
    slack: FakeSlack
    voipbin: FakeVoipbin
    socket: FakeSocketMode
    ws: FakeVoipbinWs

    async def idle(self, timeout: float = 10) -> None:
        """Until no job is pending or running (later ones, like the stuck check, aside)."""
        assert self.service.components is not None
        engine = self.service.components.engine
        query = (
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.state.in_(["pending", "running"]), jobs.c.run_after < time.time() + 30)
        )
        deadline = time.monotonic() + timeout
        while True:
            async with engine.connect() as conn:
                if not int((await conn.execute(query)).scalar_one()):
                    return
            if time.monotonic() > deadline:
                raise AssertionError("jobs still pending")
            await asyncio.sleep(0.02)

    def texts(self) -> list[str]:
        return [str(p.get("text", "")) for p in self.slack.posts(CHANNEL)]

    def posted(self, text: str) -> int:
        return sum(text in t for t in self.texts())

    def get_messages_calls(self) -> int:
        return sum(
            1 for r in self.voipbin.requests if r.method == "GET" and r.path.endswith("/messages")
        )


@contextlib.asynccontextmanager
async def running(
    slack: FakeSlack,
    voipbin: FakeVoipbin,
    database_url: str,
    *,
    inbound: InboundMode,
    poll_interval: float = 5.0,
) -> AsyncIterator[Running]:
    async with (
        FakeSocketMode(app_token=APP_TOKEN, team_id=TEAM) as socket,
        FakeVoipbinWs(accesskey=ACCESSKEY, customer_id=voipbin.customer_id) as ws,
    ):
        service = NoPublicUrlService(
            make_settings(slack, voipbin, database_url),
            make_config(),
            app_token=APP_TOKEN,
            inbound=inbound,
            poll_interval=poll_interval,
            slack_socket_api_url=socket.url,
            voipbin_ws_url=ws.url,
            reconnect_initial=0.05,
            reconnect_max=0.2,
        )
        async with service:
            await socket.wait_connected()
            yield Running(service, slack, voipbin, socket, ws)


def root_ts(slack: FakeSlack, pretty: str = PEER_PRETTY) -> str:
    for message in slack.messages(CHANNEL):
        if not message.get("thread_ts") and pretty in message["text"]:
            return str(message["ts"])
    raise AssertionError(f"no thread root for {pretty}")


def status_updates(slack: FakeSlack) -> str:
    return json.dumps([c.params for c in slack.calls("chat.update") if not c.failed])


def reply_event(thread_ts: str, text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": CHANNEL,
        "user": "U0ANNA",
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "channel_type": "channel",
        "team": TEAM,
    }


# -- (a) Slack over Socket Mode --------------------------------------------------------------


async def test_socket_mode_sms_thread_reply_and_redelivery(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(fake_slack, fake_voipbin, sqlite_url, inbound="poll") as run:
        ack = await run.socket.slash_command(f"{PEER} Hello over a socket & more")
        assert ack.payload is not None
        assert ack.payload["response_type"] == "ephemeral"
        assert PEER_PRETTY in ack.payload["text"] and "Sending to" in ack.payload["text"]

        await wait_until(lambda: len(fake_voipbin.sends()) == 1)
        assert fake_voipbin.sends() == [
            {
                "source": {"type": "tel", "target": OUR_NUMBER},
                "destinations": [{"type": "tel", "target": PEER}],
                "text": "Hello over a socket & more",
            }
        ]
        await wait_until(lambda: len(fake_slack.posts(CHANNEL)) == 2)
        root, sent = fake_slack.posts(CHANNEL)
        assert "thread_ts" not in root and PEER_PRETTY in root["text"]
        assert sent["thread_ts"] == root_ts(fake_slack)
        assert "Hello over a socket &amp; more" in sent["text"]

        # A reply in the thread, delivered as an events_api envelope, goes out as SMS.
        thread = root_ts(fake_slack)
        event = reply_event(thread, "Thanks, see you", "1700000900.000100")
        ack = await run.socket.event(event, event_id="Ev0SOCKET01")
        assert ack.payload is None  # events are acked with the envelope id alone
        await wait_until(lambda: len(fake_voipbin.sends()) == 2)
        assert fake_voipbin.sends()[1]["text"] == "Thanks, see you"
        assert fake_voipbin.sends()[1]["destinations"] == [{"type": "tel", "target": PEER}]

        # Slack redelivers it (same event_id, retry_attempt 1): Bolt maps retry_attempt into
        # x-slack-retry-num, so the redelivery middleware drops it; nothing is sent again.
        again = await run.socket.event(
            event, event_id="Ev0SOCKET01", retry_attempt=1, retry_reason="timeout"
        )
        assert again.payload is None
        assert "slack redelivery dropped event_id=Ev0SOCKET01" in caplog.text
        await run.idle()
        assert [s["text"] for s in fake_voipbin.sends()] == [
            "Hello over a socket & more",
            "Thanks, see you",
        ]
        # and the ack of every envelope went back over the socket
        assert len(run.socket.acks) == 3
    assert run.socket.opened == 1
    assert not any(APP_TOKEN in r.getMessage() for r in caplog.records)  # nor the app token


# -- (b) VoIPbin over its WebSocket ----------------------------------------------------------


async def test_voipbin_websocket_frames_statuses_and_reconnect_catch_up(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(fake_slack, fake_voipbin, database_url, inbound="websocket") as run:
        await run.ws.wait_subscribed()
        topic = f"customer_id:{fake_voipbin.customer_id}:message"
        assert run.ws.subscribes == [{"type": "subscribe", "topics": [topic]}]
        await wait_until(lambda: run.get_messages_calls() >= 1)  # the catch-up at connect
        polls = run.get_messages_calls()

        # An inbound SMS pushed wrapped, another unwrapped: both posted, once.
        wrapped = fake_voipbin.inbound(OTHER, OUR_NUMBER, "pushed wrapped")
        assert await run.ws.push_event("message_created", wrapped) == 1
        unwrapped = fake_voipbin.inbound(OTHER, OUR_NUMBER, "pushed unwrapped")
        assert await run.ws.push_message(unwrapped) == 1
        await wait_until(lambda: run.posted("pushed unwrapped") == 1)
        assert run.posted("pushed wrapped") == 1
        assert run.get_messages_calls() == polls  # these came over the socket, not a poll
        thread_posts = [p for p in fake_slack.posts(CHANNEL) if p.get("thread_ts")]
        assert ["pushed wrapped" in p["text"] for p in thread_posts] == [True, False]

        # A status frame: the sent SMS's status line is updated.
        ack = await run.socket.slash_command(f"{PEER} status please")
        assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
        await wait_until(lambda: len(fake_voipbin.messages()) == 1)
        sms = fake_voipbin.messages()[0]
        await wait_until(lambda: run.posted("status please") == 1)
        await run.ws.push_event("message_updated", fake_voipbin.set_status(sms["id"], "sent"))
        await wait_until(lambda: "Sent" in status_updates(fake_slack))
        await run.ws.push_message(fake_voipbin.set_status(sms["id"], "delivered"))  # unwrapped
        await wait_until(lambda: "Delivered" in status_updates(fake_slack))

        # The connection drops; while we cannot reconnect, an SMS arrives at VoIPbin.
        run.ws.refuse(503)
        assert await run.ws.drop() == 1
        missed = fake_voipbin.inbound(OTHER, OUR_NUMBER, "sent while disconnected")
        refused = run.ws.refused
        await run.ws.wait_for(lambda f: f.refused >= refused + 2)  # it keeps trying, backing off
        assert await run.ws.push_event("message_created", missed) == 0  # nobody to hear it
        run.ws.refuse(None)

        # It reconnects, subscribes again, and the catch-up poll posts the missed SMS once.
        await run.ws.wait_subscribed(2)
        assert run.ws.subscribes[1] == {"type": "subscribe", "topics": [topic]}
        await wait_until(lambda: run.posted("sent while disconnected") == 1)
        await run.idle()
        for text in ("pushed wrapped", "pushed unwrapped", "sent while disconnected"):
            assert run.posted(text) == 1, text
        assert run.get_messages_calls() > polls

    # The access key is in the socket's URL: it must never reach a log line. (httpx and
    # httpcore, the REST client's, log URLs at DEBUG/INFO; the service silences them and
    # redacts ``accesskey=`` in bot.logs.setup_logging, so they are left out here.)
    checked = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name.startswith("bot.nopublic") for r in checked)
    leaked = [r.name for r in checked if ACCESSKEY in r.getMessage() + (r.exc_text or "")]
    assert leaked == []


# -- (c) VoIPbin by polling ------------------------------------------------------------------


async def test_polling_posts_each_inbound_once_in_order_and_picks_up_statuses(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with running(
        fake_slack, fake_voipbin, sqlite_url, inbound="poll", poll_interval=0.1
    ) as run:
        poller = run.service.poller
        assert poller is not None
        fake_voipbin.inbound(OTHER, OUR_NUMBER, "poll one")
        await wait_until(lambda: run.posted("poll one") == 1)
        for text in ("poll two", "poll three", "poll four"):
            fake_voipbin.inbound(OTHER, OUR_NUMBER, text)
        await wait_until(lambda: run.posted("poll four") == 1)

        # A status change at VoIPbin, with no push: the next poll shows it.
        await run.socket.slash_command(f"{PEER} polled status")
        await wait_until(lambda: len(fake_voipbin.messages()) == 1)
        await wait_until(lambda: run.posted("polled status") == 1)
        sms = fake_voipbin.messages()[0]
        fake_voipbin.set_status(sms["id"], "sent")
        await wait_until(lambda: "Sent" in status_updates(fake_slack))

        # Several more polls change nothing: each SMS was posted once, in order.
        polls = poller.polls
        await wait_until(lambda: poller.polls >= polls + 3)
        await run.idle()
        inbound = [t for t in run.texts() if "poll " in t]
        order = ["poll one", "poll two", "poll three", "poll four"]
        assert [next(o for o in order if o in t) for t in inbound] == order
        updates = len(fake_slack.calls("chat.update"))
        await wait_until(lambda: poller.polls >= polls + 5)
        await run.idle()
        assert len(fake_slack.calls("chat.update")) == updates
