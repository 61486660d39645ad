"""A fake VoIPbin WebSocket subscription endpoint on 127.0.0.1, in the test's event loop
(aiohttp), as reference §4.6 describes it and VoIPbin's source (bin-api-manager) implements it:

- ``GET /v1.0/ws`` is one of the ``/v1.0`` routes, behind the same authentication middleware
  as the REST API (reference §1.1; ``bot.fakes.voipbin.refused_credentials``): the access key
  as ``?accesskey=<key>`` (or cookie) upgrades to a WebSocket; a missing or wrong key, or a JWT
  (``?token=``, cookie, ``Authorization: Bearer``: looked at first, never issued by these
  fakes), gets VoIPbin's 401 envelope instead. With ``agents_only`` the fake is an older
  VoIPbin, whose handler took agent logins only: a good key passes the middleware, and the
  request then ends without an upgrade (HTTP 200, empty body);
- the client sends ``{"type": "subscribe", "topics": [...]}`` (and may ``unsubscribe``); there is
  no acknowledgement; every subscribe frame is recorded. As in VoIPbin, a frame with a topic
  the key may not read (not ``customer_id:<this customer's id>[:...]``) ends the connection;
- a test pushes frames to the connections subscribed to a matching topic (topics match by
  prefix), wrapped like a webhook (``push_event``) or unwrapped (``push_message``), can drop
  every connection, and can make the next connection attempts fail (``refuse``) to see the
  client back off. As in VoIPbin, a message event is published on two topics, the old
  ``customer_id:<id>:message:<message id>`` and the service-namespaced
  ``customer_id:<id>:message:<event type>:<message id>``
  (bin-api-manager/pkg/subscribehandler/webhookmanager.go ``createTopics``), and a connection
  gets the frame once per topic it matches: a ``customer_id:<id>:message`` subscriber gets
  every message event twice (reference §4.6).

The REST API stays in ``FakeVoipbin``; give this fake the same access key and customer id, and
``forward_to=fake_voipbin.base`` to serve both at ``api_url``, as VoIPbin does.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSCloseCode, web

from bot.fakes._websocket import WebSocketFake
from bot.fakes.voipbin import refused_credentials


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


class FakeVoipbinWs(WebSocketFake):
    def __init__(
        self,
        *,
        accesskey: str = "vb_test_key",
        customer_id: str = "5e4a0680-804e-11ec-8477-2fea5968d85b",
        host: str = "127.0.0.1",
        forward_to: str | None = None,
        agents_only: bool = False,
    ) -> None:
        super().__init__(host=host, forward_to=forward_to)
        self.accesskey = accesskey
        self.customer_id = customer_id
        self.agents_only = agents_only
        self._topics: dict[web.WebSocketResponse, set[str]] = {}
        self._refuse: int | None = None
        self.attempts = 0  # upgrade requests, refused ones included
        self.refused = 0  # attempts not upgraded (a bad key, ``refuse``, ``agents_only``)
        self.subscribes: list[dict[str, Any]] = []  # every subscribe frame, in order
        self.pushed = 0  # frames delivered to subscribers (each copy counts)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1.0/ws", self._ws)

    @property
    def url(self) -> str:
        """The WebSocket URL, without credentials (``ws://127.0.0.1:PORT/v1.0/ws``)."""
        return f"{self.base.replace('http://', 'ws://', 1)}/v1.0/ws"

    @property
    def api_url(self) -> str:
        """The ``VOIPBIN_API_URL`` whose ``/ws`` this is (``http://127.0.0.1:PORT/v1.0``)."""
        return f"{self.base}/v1.0"

    def topics(self) -> list[set[str]]:
        """The topics of each open connection."""
        return [set(self._topics.get(ws, ())) for ws in self.open_sockets()]

    # -- the server side -------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        answer: web.Response | None = None
        if self._refuse is not None:
            answer = _error(self._refuse, "SERVICE_UNAVAILABLE", "The service is unavailable.")
        else:
            refused = refused_credentials(request.headers, request.query, self.accesskey)
            answer = None if refused is None else _error(401, *refused)
            if answer is None and self.agents_only:
                answer = web.Response(status=200)
        if answer is not None:
            self.refused += 1
            await self.notify()
            return answer
        ws = await self.accept(request)
        topics = self._topics[ws] = set()

        async def on_frame(data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
                return  # VoIPbin logs a frame it cannot read and carries on
            asked = {str(t) for t in data["topics"]}
            if not all(self._readable(t) for t in asked):
                await ws.close(code=WSCloseCode.POLICY_VIOLATION)
                return
            if data.get("type") == "subscribe":
                self.subscribes.append(data)
                topics.update(asked)
            elif data.get("type") == "unsubscribe":
                topics.difference_update(asked)

        try:
            return await self.receive(ws, on_frame)
        finally:
            del self._topics[ws]

    def _readable(self, topic: str) -> bool:
        """VoIPbin's topic check for an access key (CustomerAdmin of one customer):
        ``customer_id:<its id>`` with any suffix; ``agent_id:...`` is for agents' logins."""
        kind, _, rest = topic.partition(":")
        return kind == "customer_id" and rest.split(":")[0] == self.customer_id

    # -- test side -------------------------------------------------------------------------

    def refuse(self, status: int | None = 503) -> None:
        """Answer every connection attempt with ``status`` until ``refuse(None)``."""
        self._refuse = status

    def state(self) -> str:
        return (
            f"attempts={self.attempts}, refused={self.refused}, {super().state()}, "
            f"subscribes={len(self.subscribes)}"
        )

    async def wait_subscribed(self, count: int = 1, within: float = 10.0) -> None:
        """Wait until ``count`` subscribe frames were received and a subscriber is open."""
        await self.wait_for(lambda f: len(f.subscribes) >= count and any(f.topics()), within=within)

    def message_topic(self, message_id: str = "") -> str:
        topic = f"customer_id:{self.customer_id}:message"
        return f"{topic}:{message_id}" if message_id else topic

    def event_topics(self, kind: str, message_id: str) -> list[str]:
        """The topics VoIPbin publishes a message event on (``createTopics``)."""
        base = f"customer_id:{self.customer_id}:message"
        return [f"{base}:{message_id}", f"{base}:{kind}:{message_id}"]

    async def push(self, frame: Any, *, topic: str | list[str] | None = None) -> int:
        """Publish ``frame`` (JSON-encoded unless it is a str) on ``topic`` (or each of a
        list): every open connection gets it once per topic that one of its subscriptions is
        a prefix of. Returns how many connections got it."""
        topics = [topic or self.message_topic()] if not isinstance(topic, list) else topic
        text = frame if isinstance(frame, str) else json.dumps(frame)
        reached = 0
        for ws in self.open_sockets():
            subscribed = self._topics.get(ws, ())
            copies = sum(1 for t in topics if any(t.startswith(s) for s in subscribed))
            for _ in range(copies):
                await ws.send_str(text)
            self.pushed += copies
            reached += 1 if copies else 0
        return reached

    async def push_event(self, kind: str, message: dict[str, Any]) -> int:
        """A wrapped frame, like a webhook: ``{"type": kind, "data": message}``, on both of
        the event's topics."""
        frame = {"type": kind, "data": message}
        return await self.push(frame, topic=self.event_topics(kind, str(message.get("id", ""))))

    async def push_message(self, message: dict[str, Any]) -> int:
        """An unwrapped frame: the message object itself, on both of its event's topics
        (the event a message in this state was last published with)."""
        if message.get("tm_delete"):
            kind = "message_deleted"
        elif message.get("direction") == "outbound" and message.get("tm_update"):
            kind = "message_updated"
        else:
            kind = "message_created"
        topics = self.event_topics(kind, str(message.get("id", "")))
        return await self.push(message, topic=topics)

    async def drop(
        self, code: int = WSCloseCode.SERVICE_RESTART, message: bytes = b"server going away"
    ) -> int:
        """Close every open connection from the server side; returns how many."""
        return await super().drop(code, message)
