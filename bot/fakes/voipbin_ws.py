"""A fake VoIPbin WebSocket subscription endpoint on 127.0.0.1, in the test's event loop
(aiohttp), as reference §4.6 describes it:

- ``GET /v1.0/ws?accesskey=<key>`` upgrades to a WebSocket; a missing or wrong key (or a JWT,
  which this fake never issues, as ``FakeVoipbin``) gets VoIPbin's 401 envelope instead;
- the client sends ``{"type": "subscribe", "topics": [...]}`` (and may ``unsubscribe``); there is
  no acknowledgement; every subscribe frame is recorded;
- a test pushes frames to the connections subscribed to a matching topic (topics match by
  prefix; a message's topic is ``customer_id:<id>:message:<message id>``), wrapped like a
  webhook (``push_event``) or unwrapped (``push_message``), can drop every connection, and can
  make the next connection attempts fail (``refuse``) to see the client back off.

The REST API stays in ``FakeVoipbin``; give this fake the same access key and customer id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import WSCloseCode, WSMsgType, web


@dataclass
class Subscriber:
    """One open connection and the topics it subscribed to."""

    ws: web.WebSocketResponse
    topics: set[str] = field(default_factory=set)


def _error(status: int, reason: str, message: str) -> web.Response:
    kinds = {401: "UNAUTHENTICATED", 503: "UNAVAILABLE"}
    body = {
        "error": {
            "status": kinds.get(status, "INTERNAL"),
            "reason": reason,
            "message": message,
            "request_id": "req_FAKEWS",
        }
    }
    return web.json_response(body, status=status)


class FakeVoipbinWs:
    def __init__(
        self,
        *,
        accesskey: str = "vb_test_key",
        customer_id: str = "5e4a0680-804e-11ec-8477-2fea5968d85b",
        host: str = "127.0.0.1",
    ) -> None:
        self.accesskey = accesskey
        self.customer_id = customer_id
        self._host = host
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._subscribers: list[Subscriber] = []
        self._refuse: int | None = None
        self._changed = asyncio.Condition()
        self.attempts = 0  # upgrade requests, refused ones included
        self.refused = 0  # attempts answered with an error (bad key, or ``refuse``)
        self.connections = 0  # connections accepted, ever
        self.subscribes: list[dict[str, Any]] = []  # every subscribe frame, in order
        self.frames: list[Any] = []  # every frame a client sent
        self.pushed = 0  # frames delivered to a subscriber

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_get("/v1.0/ws", self._ws)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self.drop(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The WebSocket URL, without credentials (``ws://127.0.0.1:PORT/v1.0/ws``)."""
        return f"ws://{self._host}:{self._port}/v1.0/ws"

    @property
    def api_url(self) -> str:
        """The ``VOIPBIN_API_URL`` whose ``/ws`` this is (``http://127.0.0.1:PORT/v1.0``)."""
        return f"http://{self._host}:{self._port}/v1.0"

    @property
    def open_connections(self) -> int:
        return sum(1 for s in self._subscribers if not s.ws.closed)

    def topics(self) -> list[set[str]]:
        """The topics of each open connection."""
        return [set(s.topics) for s in self._subscribers if not s.ws.closed]

    # -- the server side -------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        try:
            if self._refuse is not None:
                self.refused += 1
                return _error(self._refuse, "SERVICE_UNAVAILABLE", "The service is unavailable.")
            key = request.query.get("accesskey", "")
            if request.query.get("token") or not key:
                self.refused += 1
                return _error(401, "AUTHENTICATION_REQUIRED", "Authentication is required.")
            if not hmac.compare_digest(key.encode(), self.accesskey.encode()):
                self.refused += 1
                return _error(401, "INVALID_CREDENTIALS", "The credentials are invalid.")
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            subscriber = Subscriber(ws)
            self._subscribers.append(subscriber)
            self.connections += 1
        finally:
            await self._notify()
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(frame.data)
                except ValueError:
                    data = frame.data
                self.frames.append(data)
                if isinstance(data, dict) and isinstance(data.get("topics"), list):
                    topics = {str(t) for t in data["topics"]}
                    if data.get("type") == "subscribe":
                        self.subscribes.append(data)
                        subscriber.topics |= topics
                    elif data.get("type") == "unsubscribe":
                        subscriber.topics -= topics
                await self._notify()
        finally:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(subscriber)
            await self._notify()
        return ws

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- test side -------------------------------------------------------------------------

    def refuse(self, status: int | None = 503) -> None:
        """Answer every connection attempt with ``status`` until ``refuse(None)``."""
        self._refuse = status

    async def wait_for(self, predicate: Callable[[Self], bool], within: float = 10.0) -> None:
        """Wait until ``predicate(self)`` holds (checked whenever something happens)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"FakeVoipbinWs: condition not met (attempts={self.attempts}, "
                        f"refused={self.refused}, connections={self.connections}, "
                        f"subscribes={len(self.subscribes)}, open={self.open_connections})"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))

    async def wait_subscribed(self, count: int = 1, within: float = 10.0) -> None:
        """Wait until ``count`` subscribe frames were received and a subscriber is open."""
        await self.wait_for(lambda f: len(f.subscribes) >= count and any(f.topics()), within=within)

    def message_topic(self, message_id: str = "") -> str:
        topic = f"customer_id:{self.customer_id}:message"
        return f"{topic}:{message_id}" if message_id else topic

    async def push(self, frame: Any, *, topic: str | None = None) -> int:
        """Send ``frame`` (JSON-encoded unless it is a str) to every open connection that
        subscribed to a prefix of ``topic``; returns how many got it."""
        topic = topic or self.message_topic()
        text = frame if isinstance(frame, str) else json.dumps(frame)
        sent = 0
        for subscriber in list(self._subscribers):
            if subscriber.ws.closed:
                continue
            if any(topic.startswith(t) for t in subscriber.topics):
                await subscriber.ws.send_str(text)
                sent += 1
        self.pushed += sent
        return sent

    async def push_event(self, kind: str, message: dict[str, Any]) -> int:
        """A wrapped frame, like a webhook: ``{"type": kind, "data": message}``."""
        frame = {"type": kind, "data": message}
        return await self.push(frame, topic=self.message_topic(str(message.get("id", ""))))

    async def push_message(self, message: dict[str, Any]) -> int:
        """An unwrapped frame: the message object itself."""
        return await self.push(message, topic=self.message_topic(str(message.get("id", ""))))

    async def drop(self, code: int = WSCloseCode.SERVICE_RESTART) -> int:
        """Close every open connection from the server side; returns how many."""
        open_subscribers = [s for s in self._subscribers if not s.ws.closed]
        for subscriber in open_subscribers:
            await subscriber.ws.close(code=code, message=b"server going away")
        return len(open_subscribers)
