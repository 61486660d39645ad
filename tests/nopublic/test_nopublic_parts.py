"""The parts of the no-public-URL mode on their own: frame shapes, backoff, URL handling,
Bolt's Socket Mode retry headers, reconnects, the poller's paging and status window, and the
service's start and stop."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge.ports import Delivery, InboundSms, StatusReport
from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from bot.fakes.voipbin import FakeVoipbin
from bot.fakes.voipbin_ws import FakeVoipbinWs
from bot.nopublic.frames import event_for_message, parse_frame
from bot.nopublic.poller import Poller
from bot.nopublic.service import NoPublicUrlService, run_without_public_url
from bot.nopublic.socket_mode import SlackSocketMode, SocketModeError
from bot.nopublic.voipbin_ws import (
    VoipbinSubscriber,
    backoff_delay,
    describe_error,
    websocket_url,
)
from bot.voipbin.client import VoipbinClient
from bot.voipbin.models import Message
from bot.voipbin.webhook import WebhookError

from harness import ACCESSKEY, OUR_NUMBER, make_config, make_settings, wait_until

APP_TOKEN = "xapp-1-A0001-1234-partstoken"
PEER = "+31612345678"


def message(
    *,
    direction: str = "inbound",
    status: str = "received",
    created: datetime | None = None,
    deleted: bool = False,
    text: str = "hi",
    message_id: str | None = None,
    updated: bool = False,
) -> dict[str, Any]:
    """A message as VoIPbin shows it; ``updated``: VoIPbin updated it after creating it (an
    outbound one was handed to a provider), so ``tm_update`` is set."""
    when = (created or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    ours = {"type": "tel", "target": OUR_NUMBER}
    theirs = {"type": "tel", "target": PEER}
    return {
        "id": message_id or str(uuid.uuid4()),
        "customer_id": "c",
        "type": "sms",
        "source": theirs if direction == "inbound" else ours,
        "targets": [
            {
                "destination": ours if direction == "inbound" else theirs,
                "status": status,
                "parts": 1,
                "tm_update": None,
            }
        ],
        "text": text,
        "direction": direction,
        "tm_create": when,
        "tm_update": when if updated or deleted else None,
        "tm_delete": when if deleted else None,
    }


class Recorder:
    """A bridge that records what it is handed (and can fail the first ``fail`` times)."""

    def __init__(self, fail: int = 0) -> None:
        self.deliveries: list[Delivery] = []
        self.fail = fail

    async def accept(self, delivery: Delivery) -> str:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database unavailable")
        self.deliveries.append(delivery)
        return "ok"

    def texts(self) -> list[str]:
        """The texts of the SMS received, in the order handed over."""
        return [d.text for d in self.deliveries if isinstance(d, InboundSms)]

    def reports(self) -> list[tuple[str, bool]]:
        """``(status, dispatched)`` of the statuses handed over, in order."""
        return [(d.status, d.dispatched) for d in self.deliveries if isinstance(d, StatusReport)]


# -- frames ------------------------------------------------------------------------------------


def test_frames_wrapped_and_unwrapped_become_webhook_events() -> None:
    inbound = message(text="in")
    wrapped = parse_frame(json.dumps({"type": "message_created", "data": inbound}))
    assert wrapped is not None and wrapped.type == "message_created"
    assert wrapped.message is not None and wrapped.message.text == "in"

    unwrapped = parse_frame(json.dumps(inbound).encode())
    assert unwrapped is not None and unwrapped.type == "message_created"
    assert unwrapped.message == wrapped.message
    assert (
        unwrapped.delivery()
        == wrapped.delivery()
        == InboundSms(sms_id=inbound["id"], our_number=OUR_NUMBER, sender=PEER, text="in")
    )

    outbound = parse_frame(json.dumps(message(direction="outbound", status="sent", updated=True)))
    assert outbound is not None and outbound.type == "message_updated"
    assert outbound.message is not None and outbound.message.status == "sent"
    # VoIPbin's Telnyx path: still queued, but updated, so dispatched
    telnyx = parse_frame(json.dumps(message(direction="outbound", status="queued", updated=True)))
    assert telnyx is not None and (telnyx.type, telnyx.dispatched) == ("message_updated", True)
    # as created (no provider took it yet, or none ever will): not dispatched
    created = parse_frame(json.dumps(message(direction="outbound", status="queued")))
    assert created is not None and (created.type, created.dispatched) == ("message_created", False)

    deleted = parse_frame(json.dumps(message(deleted=True)))
    assert deleted is not None and deleted.type == "message_deleted"

    other = parse_frame(json.dumps({"type": "call_created", "data": {"id": "x"}}))
    assert other is not None and other.message is None  # accepted, and ignored by the bridge
    assert parse_frame(json.dumps({"id": "x", "type": "call"})) is None  # not a message

    for bad in ("not json", "[1, 2]", json.dumps({**message(), "source": {}})):
        with pytest.raises(WebhookError):
            parse_frame(bad)


def test_a_listed_message_is_the_delivery_its_state_implies() -> None:
    # bin-message-manager/pkg/messagehandler/db.go: message_created at create, message_updated
    # once a provider took it (which stamps tm_update, pkg/dbhandler/message.go)
    listed = Message.model_validate(message(direction="outbound", status="queued"))
    assert (event_for_message(listed).type, event_for_message(listed).dispatched) == (
        "message_created",
        False,
    )
    handed = Message.model_validate(message(direction="outbound", status="queued", updated=True))
    assert (event_for_message(handed).type, event_for_message(handed).dispatched) == (
        "message_updated",
        True,
    )
    assert event_for_message(Message.model_validate(message())).type == "message_created"
    # a deletion stamps tm_update too: that alone is no dispatch
    deleted = Message.model_validate(message(direction="outbound", status="queued", deleted=True))
    assert not deleted.dispatched


# -- URLs, backoff, log safety ----------------------------------------------------------------


def test_websocket_url_from_the_api_url() -> None:
    assert websocket_url("https://api.voipbin.net/v1.0") == "wss://api.voipbin.net/v1.0/ws"
    assert websocket_url("http://127.0.0.1:8902/v1.0/") == "ws://127.0.0.1:8902/v1.0/ws"


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, initial=1.0, cap=30.0, rng=rng) for n in range(12)]
    for n, delay in enumerate(delays):
        ceiling = min(30.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 30.0
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jitter: not all the same at the cap
    assert backoff_delay(10_000, initial=1.0, cap=60.0) <= 60.0


def test_errors_are_described_without_the_url_query_or_the_key() -> None:
    error = aiohttp.ClientError(f"503, url='ws://h/v1.0/ws?accesskey={ACCESSKEY}'")
    text = describe_error(error, ACCESSKEY)
    assert ACCESSKEY not in text and "ClientError" in text and "?…" in text
    assert ACCESSKEY not in describe_error(RuntimeError(f"key {ACCESSKEY}"), ACCESSKEY)


# -- Slack Socket Mode ------------------------------------------------------------------------


def test_bolt_maps_retry_attempt_into_the_retry_headers() -> None:
    first = SocketModeRequest("events_api", "e1", {}, retry_attempt=0, retry_reason="")
    again = SocketModeRequest("events_api", "e2", {}, retry_attempt=2, retry_reason="timeout")
    command = SocketModeRequest("slash_commands", "e3", {})
    assert build_headers(again) == {"x-slack-retry-num": "2", "x-slack-retry-reason": "timeout"}
    # Slack sends retry_attempt 0 on a first delivery: the header is there, with "0"
    assert build_headers(first) == {"x-slack-retry-num": "0", "x-slack-retry-reason": ""}
    assert build_headers(command) is None


def _minimal_app(seen: list[dict[str, Any]]) -> AsyncApp:
    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T0001", bot_token="xoxb-x")

    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/"),
        signing_secret="unused-in-socket-mode",
        authorize=authorize,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    @app.middleware
    async def record(request: AsyncBoltRequest, next: Any) -> None:
        seen.append({k: list(v) for k, v in request.headers.items()})
        await next()

    @app.command("/ping")
    async def ping(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(response_type="ephemeral", text=f"pong {command['text']}")

    @app.event("app_mention")
    async def mention() -> None:
        return None

    return app


@pytest.fixture
async def socket_fake() -> AsyncIterator[FakeSocketMode]:
    async with FakeSocketMode(app_token=APP_TOKEN) as fake:
        yield fake


async def test_socket_mode_headers_acks_and_reconnects(socket_fake: FakeSocketMode) -> None:
    seen: list[dict[str, Any]] = []
    socket_mode = SlackSocketMode(_minimal_app(seen), APP_TOKEN, web_api_url=socket_fake.url)
    await socket_mode.start()
    try:
        assert await socket_mode.is_connected()
        ack = await socket_fake.slash_command("one", command="/ping")
        assert ack.payload == {"response_type": "ephemeral", "text": "pong one"}

        event = {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.2", "channel": "C1"}
        await socket_fake.event(event, event_id="Ev1", retry_attempt=3, retry_reason="timeout")
        assert seen[-1]["x-slack-retry-num"] == ["3"]
        assert seen[-1]["x-slack-retry-reason"] == ["timeout"]

        # Slack drops the connection: the client gets a new URL and reconnects by itself.
        assert await socket_fake.drop() == 1
        await socket_fake.wait_connected(2)
        assert (await socket_fake.slash_command("two", command="/ping")).payload == {
            "response_type": "ephemeral",
            "text": "pong two",
        }
        # Slack asks for a reconnect ("disconnect" envelope), as before it rotates a host.
        await socket_fake.disconnect()
        await socket_fake.wait_connected(3)
        assert socket_fake.opened == 3
    finally:
        await socket_mode.stop()
    await socket_fake.wait_for(lambda f: f.open_connections == 0)


async def test_socket_mode_refuses_a_wrong_token(socket_fake: FakeSocketMode) -> None:
    seen: list[dict[str, Any]] = []
    with pytest.raises(SocketModeError, match="xapp-"):
        SlackSocketMode(_minimal_app(seen), "xoxb-not-an-app-token", web_api_url=socket_fake.url)
    refused = SlackSocketMode(_minimal_app(seen), "xapp-1-wrong", web_api_url=socket_fake.url)
    with pytest.raises(SocketModeError, match="invalid_auth"):
        await refused.start()
    assert socket_fake.refused == 1 and socket_fake.connections == 0


# -- the poller -------------------------------------------------------------------------------


class Listed:
    """A ``GET /messages`` stand-in: newest first, stopping at ``since``."""

    def __init__(self) -> None:
        self.items: list[Message] = []
        self.sinces: list[datetime | None] = []

    def add(self, **kwargs: Any) -> Message:
        item = Message.model_validate(message(**kwargs))
        self.items = [m for m in self.items if m.id != item.id] + [item]
        return item

    async def iter_messages(self, *, since: datetime | None = None) -> AsyncIterator[Message]:
        self.sinces.append(since)
        for item in sorted(self.items, key=lambda m: m.tm_create or datetime.min, reverse=True):
            assert item.tm_create is not None
            if since is not None and item.tm_create < since:
                return
            yield item


async def test_poller_pages_through_everything_new_once_and_in_order(
    fake_voipbin: FakeVoipbin,
) -> None:
    client = VoipbinClient(base_url=fake_voipbin.url, accesskey=ACCESSKEY)
    recorder = Recorder()
    poller = Poller(bridge=recorder, voipbin=client, lookback=60)
    try:
        for n in range(130):  # more than one page (100)
            fake_voipbin.inbound(PEER, OUR_NUMBER, f"sms {n}")
        assert await poller.poll_once() == 130
        assert recorder.texts() == [f"sms {n}" for n in range(130)]
        pages = [r for r in fake_voipbin.requests if r.path.endswith("/messages")]
        assert len(pages) == 2 and "page_token" in pages[1].query

        assert await poller.poll_once() == 0  # the overlap is read again, nothing handed twice
        fake_voipbin.inbound(PEER, OUR_NUMBER, "one more")
        assert await poller.poll_once() == 1
        assert recorder.texts()[-1] == "one more"
    finally:
        await client.aclose()


async def test_poller_lookback_overlap_and_pending_statuses() -> None:
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    clock = [now]
    listed = Listed()
    recorder = Recorder()
    poller = Poller(
        bridge=recorder,
        voipbin=listed,
        lookback=600,
        overlap=60,
        status_window=900,
        clock=lambda: clock[0],
    )
    listed.add(text="too old", created=now - timedelta(seconds=700))
    listed.add(text="recent", created=now - timedelta(seconds=500))
    sms = listed.add(
        direction="outbound", status="queued", created=now - timedelta(seconds=400), text="out"
    )
    assert await poller.poll_once() == 2  # "recent" and the outbound status
    assert recorder.texts() == ["recent"]
    assert recorder.deliveries[1] == StatusReport(sms_id=sms.id, status="queued", dispatched=False)

    # Newer messages move the mark on; the queued SMS, now older than the overlap, is still
    # looked at until its status is final or status_window has passed.
    clock[0] = now + timedelta(seconds=300)
    listed.add(text="newer", created=clock[0] - timedelta(seconds=1))
    assert await poller.poll_once() == 1
    assert poller.mark == clock[0] - timedelta(seconds=1)
    # VoIPbin's Telnyx path: still queued, only tm_update tells the dispatch; handed over
    listed.add(
        direction="outbound",
        status="queued",
        created=sms.tm_create,
        text="out",
        message_id=sms.id,
        updated=True,
    )
    assert await poller.poll_once() == 1
    assert recorder.deliveries[-1] == StatusReport(sms_id=sms.id, status="queued", dispatched=True)
    listed.add(
        direction="outbound",
        status="sent",
        created=sms.tm_create,
        text="out",
        message_id=sms.id,
        updated=True,
    )
    assert await poller.poll_once() == 1
    assert recorder.deliveries[-1] == StatusReport(sms_id=sms.id, status="sent", dispatched=True)
    assert listed.sinces[-1] is not None and sms.tm_create is not None
    assert listed.sinces[-1] <= sms.tm_create

    # delivered is final: after it, the poll no longer reaches back for this SMS
    listed.add(
        direction="outbound",
        status="delivered",
        created=sms.tm_create,
        text="o",
        message_id=sms.id,
        updated=True,
    )
    assert await poller.poll_once() == 1
    await poller.poll_once()
    assert listed.sinces[-1] == poller.mark - timedelta(seconds=60)


async def test_poller_retries_everything_after_a_bridge_failure() -> None:
    listed = Listed()
    recorder = Recorder(fail=1)
    poller = Poller(bridge=recorder, voipbin=listed)
    listed.add(text="first", created=datetime.now(UTC) - timedelta(seconds=2))
    listed.add(text="second", created=datetime.now(UTC) - timedelta(seconds=1))
    mark = poller.mark
    with pytest.raises(RuntimeError):
        await poller.poll_once()
    assert poller.mark == mark  # not moved: the next poll tries again
    assert await poller.poll_once() == 2
    assert recorder.texts() == ["first", "second"]


# -- the VoIPbin WebSocket on its own ---------------------------------------------------------


@pytest.fixture
async def ws_fake(fake_voipbin: FakeVoipbin) -> AsyncIterator[FakeVoipbinWs]:
    async with FakeVoipbinWs(accesskey=ACCESSKEY, customer_id=fake_voipbin.customer_id) as fake:
        yield fake


async def test_a_frame_that_could_not_be_recorded_is_caught_up_after_reconnecting(
    fake_voipbin: FakeVoipbin, ws_fake: FakeVoipbinWs
) -> None:
    client = VoipbinClient(base_url=fake_voipbin.url, accesskey=ACCESSKEY)
    recorder = Recorder()
    poller = Poller(bridge=recorder, voipbin=client)
    subscriber = VoipbinSubscriber(
        bridge=recorder,
        voipbin=client,
        accesskey=ACCESSKEY,
        url=ws_fake.url,
        catch_up=poller,
        initial_backoff=0.02,
        max_backoff=0.1,
    )
    subscriber.start()
    try:
        await ws_fake.wait_subscribed()
        await wait_until(lambda: poller.polls == 1)
        recorder.fail = 1  # the database hiccups on the next frame
        sms = fake_voipbin.inbound(PEER, OUR_NUMBER, "recorded on the second try")
        await ws_fake.push_message(sms)
        await ws_fake.wait_subscribed(2)  # the connection was ended and made again
        await wait_until(lambda: recorder.texts() == ["recorded on the second try"])
        assert subscriber.connects == 2
        # frames handled over the socket are not handed over again by the next catch-up
        other = fake_voipbin.inbound(PEER, OUR_NUMBER, "live")
        await ws_fake.push_event("message_created", other)
        await wait_until(lambda: subscriber.frames_handled == 1)
        await ws_fake.drop()
        await ws_fake.wait_subscribed(3)
        await wait_until(lambda: poller.polls == 3)
        assert recorder.texts() == ["recorded on the second try", "live"]
    finally:
        await subscriber.stop()
        await client.aclose()


async def test_the_second_copy_of_each_frame_is_dropped(
    fake_voipbin: FakeVoipbin, ws_fake: FakeVoipbinWs
) -> None:
    # VoIPbin publishes each message event on two topics that a customer_id:<c>:message
    # subscription both matches (bin-api-manager/pkg/subscribehandler/webhookmanager.go
    # createTopics; reference §4.6): the bridge is handed each state once.
    client = VoipbinClient(base_url=fake_voipbin.url, accesskey=ACCESSKEY)
    recorder = Recorder()
    subscriber = VoipbinSubscriber(
        bridge=recorder, voipbin=client, accesskey=ACCESSKEY, url=ws_fake.url, catch_up=None
    )
    subscriber.start()
    try:
        await ws_fake.wait_subscribed()
        sms = fake_voipbin.inbound(PEER, OUR_NUMBER, "once")
        await ws_fake.push_message(sms)
        fake_voipbin.dispatch = "telnyx"
        sent = await client.send_message(source=OUR_NUMBER, destination=PEER, text="out")
        await ws_fake.push_event("message_created", sent.model_dump(mode="json"))  # as created
        await ws_fake.push_event("message_updated", fake_voipbin.get_message(sent.id))
        await wait_until(lambda: subscriber.frames_repeated == 3)
        assert ws_fake.pushed == 6
        assert recorder.deliveries == [
            InboundSms(sms_id=sms["id"], our_number=OUR_NUMBER, sender=PEER, text="once"),
            StatusReport(sms_id=sent.id, status=sent.status, dispatched=False),
            StatusReport(sms_id=sent.id, status=sent.status, dispatched=True),
        ]
    finally:
        await subscriber.stop()
        await client.aclose()


@pytest.mark.parametrize(
    ("key", "agents_only", "says"),
    [
        # The REST key is right, the socket refuses the one it is given.
        ("vb_wrong_key_also_secret", False, "refused the access key on the WebSocket (HTTP 401)"),
        # An older VoIPbin takes the key, then ends the request without upgrading it.
        (ACCESSKEY, True, "without upgrading it (HTTP 200): this VoIPbin release takes only"),
    ],
)
async def test_a_refused_socket_backs_off_polls_meanwhile_and_never_logs_the_key(
    fake_voipbin: FakeVoipbin,
    caplog: pytest.LogCaptureFixture,
    key: str,
    agents_only: bool,
    says: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    # SMS keep coming through the fallback polls.
    client = VoipbinClient(base_url=fake_voipbin.url, accesskey=ACCESSKEY)
    recorder = Recorder()
    poller = Poller(bridge=recorder, voipbin=client)
    async with FakeVoipbinWs(
        accesskey=ACCESSKEY, customer_id=fake_voipbin.customer_id, agents_only=agents_only
    ) as ws_fake:
        subscriber = VoipbinSubscriber(
            bridge=recorder,
            voipbin=client,
            accesskey=key,
            url=ws_fake.url,
            catch_up=poller,
            initial_backoff=0.02,
            max_backoff=0.08,
            fallback_poll_interval=0.1,
            customer_id=fake_voipbin.customer_id,
        )
        subscriber.start()
        try:
            fake_voipbin.inbound(PEER, OUR_NUMBER, "by the fallback poll")
            await wait_until(lambda: recorder.texts() == ["by the fallback poll"])
            await ws_fake.wait_for(lambda f: f.refused >= 4 or f.attempts >= 4)
            assert ws_fake.connections == 0 and subscriber.connects == 0
        finally:
            await subscriber.stop()
            await client.aclose()
    # (httpx logs the REST URLs, key included, at INFO: `serve` silences it, see bot.logs.)
    checked = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    messages = [r.getMessage() + (r.exc_text or "") for r in checked]
    assert any(says in m for m in messages)
    assert not any(key in m for m in messages)


# -- the service ------------------------------------------------------------------------------


async def test_the_service_refuses_a_bad_inbound_mode_and_a_refused_token(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, socket_fake: FakeSocketMode
) -> None:
    settings = make_settings(fake_slack, fake_voipbin, sqlite_url)
    with pytest.raises(ValueError, match="inbound"):
        NoPublicUrlService(settings, make_config(), app_token=APP_TOKEN, inbound="sse")  # type: ignore[arg-type]
    service = NoPublicUrlService(
        settings,
        make_config(),
        app_token="xapp-1-refused",
        inbound="poll",
        slack_socket_api_url=socket_fake.url,
    )
    with pytest.raises(SocketModeError):
        await service.start()
    assert service.components is None and service.poller is None  # everything stopped again


async def test_run_without_public_url_stops_cleanly_when_cancelled(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, socket_fake: FakeSocketMode
) -> None:
    task = asyncio.create_task(
        run_without_public_url(
            make_settings(fake_slack, fake_voipbin, sqlite_url),
            make_config(),
            app_token=APP_TOKEN,
            inbound="poll",
            poll_interval=0.05,
            slack_socket_api_url=socket_fake.url,
        )
    )
    await socket_fake.wait_connected()
    fake_voipbin.inbound(PEER, OUR_NUMBER, "while running")
    await wait_until(lambda: any("while running" in p["text"] for p in fake_slack.posts()))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await socket_fake.wait_for(lambda f: f.open_connections == 0)
    polls = len(fake_voipbin.requests)
    await asyncio.sleep(0.2)  # nothing is left running: no more polls
    assert len(fake_voipbin.requests) == polls
