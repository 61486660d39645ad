"""A fake Slack Socket Mode endpoint on 127.0.0.1, in the test's event loop (aiohttp).

It serves the one Web API method a Socket Mode client calls, ``apps.connections.open`` (at
``url``: point the Socket Mode client's Web API base URL here, and the bridge's own Web API
calls at ``FakeSlack``), which answers a one-time ``ws://127.0.0.1:PORT/link/?ticket=…``; and
the WebSocket behind it, which says ``hello`` and then lets a test push envelopes as Slack does
and wait for their acks::

    async with FakeSocketMode(app_token="xapp-1-test") as slack_sm:
        ...  # start the app with web_api_url=slack_sm.url
        ack = await slack_sm.slash_command("+31612345678 hi", channel="C0SMS00001")
        assert ack.payload["response_type"] == "ephemeral"

Envelopes are ``{"envelope_id", "type": "events_api"|"slash_commands"|"interactive",
"payload", "accepts_response_payload", "retry_attempt", "retry_reason"}``; acks are
``{"envelope_id", "payload"?}``. Envelopes go to the newest open connection.

With ``forward_to=fake_slack.base`` every other Web API method is passed on to ``FakeSlack``,
so ``url`` serves as the whole ``SLACK_API_URL`` of a process (``bot.fakes._websocket``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.fakes._websocket import WebSocketFake


@dataclass(frozen=True)
class Ack:
    """What the app answered to an envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    raw: dict[str, Any] = field(default_factory=dict)


class FakeSocketMode(WebSocketFake):
    def __init__(
        self,
        *,
        app_token: str = "xapp-1-A0001-test",  # noqa: S107 - a fake's well-known test value
        app_id: str = "A0001",
        team_id: str = "T0001",
        host: str = "127.0.0.1",
        forward_to: str | None = None,
    ) -> None:
        super().__init__(host=host, forward_to=forward_to)
        self.app_token = app_token
        self.app_id = app_id
        self.team_id = team_id
        self._tickets: set[str] = set()
        self._waiting: dict[str, asyncio.Future[Ack]] = {}
        self.opened = 0  # apps.connections.open calls answered with a URL
        self.refused = 0  # apps.connections.open calls with a wrong token
        self.acks: list[Ack] = []

    # -- lifecycle -------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/apps.connections.open", self._open)
        app.router.add_get("/link/", self._link)

    async def stop(self) -> None:
        for future in self._waiting.values():
            future.cancel()
        await super().stop()

    @property
    def url(self) -> str:
        """The Web API base URL where ``apps.connections.open`` is answered."""
        return f"{self.base}/api/"

    # -- the server side -------------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token:
            form = await request.post() if request.can_read_body else {}
            token = str(form.get("token") or request.query.get("token") or "")
        if token != self.app_token:
            self.refused += 1
            error = "not_authed" if not token else "invalid_auth"
            return web.json_response({"ok": False, "error": error})
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        self.opened += 1
        url = f"ws://{self._host}:{self._port}/link/?ticket={ticket}&app_id={self.app_id}"
        return web.json_response({"ok": True, "url": url})

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)
        hello = {
            "type": "hello",
            "num_connections": self.open_connections + 1,  # this one included
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        return await self.receive(await self.accept(request, greeting=hello), self._on_frame)

    async def _on_frame(self, data: Any) -> None:
        if isinstance(data, dict) and "envelope_id" in data:
            ack = Ack(str(data["envelope_id"]), data.get("payload"), data)
            self.acks.append(ack)
            future = self._waiting.pop(ack.envelope_id, None)
            if future is not None and not future.done():
                future.set_result(ack)

    # -- test side -------------------------------------------------------------------------

    def state(self) -> str:
        return f"{super().state()}, acks={len(self.acks)}"

    async def wait_connected(self, connections: int = 1, within: float = 10.0) -> None:
        """Wait until ``connections`` connections were made, and one is open."""
        await self.wait_for(
            lambda f: f.connections >= connections and f.open_connections > 0, within
        )

    async def push(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        within: float = 10.0,
    ) -> Ack:
        """Send an envelope to the newest open connection and wait for its ack."""
        open_sockets = self.open_sockets()
        if not open_sockets:
            raise AssertionError("FakeSocketMode: no open connection to push to")
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": (
                type != "events_api"
                if accepts_response_payload is None
                else accepts_response_payload
            ),
        }
        if type == "events_api":
            envelope["retry_attempt"] = 0 if retry_attempt is None else retry_attempt
            envelope["retry_reason"] = retry_reason or ""
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = future
        await open_sockets[-1].send_json(envelope)
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            raise AssertionError(f"FakeSocketMode: no ack for envelope {envelope_id}") from None
        finally:
            self._waiting.pop(envelope_id, None)

    async def slash_command(
        self,
        text: str,
        *,
        command: str = "/sms",
        channel: str = "C0SMS00001",
        user: str = "U0ANNA",
        response_url: str = "https://hooks.slack.test/commands/T0001/1/x",
        within: float = 10.0,
    ) -> Ack:
        """A slash command as Slack sends it over Socket Mode (the form fields, as a dict)."""
        payload = {
            "token": "legacy",
            "team_id": self.team_id,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "support",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{uuid.uuid4().int % 10**10}.1.x",
        }
        return await self.push("slash_commands", payload, within=within)

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        within: float = 10.0,
    ) -> Ack:
        """An Events API delivery (``event_callback``) as Slack sends it over Socket Mode."""
        payload = {
            "token": "legacy",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "is_bot": True}],
            "is_ext_shared_channel": False,
        }
        return await self.push(
            "events_api",
            payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            within=within,
        )

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does before it rotates a connection."""
        for ws in self.open_sockets():
            await ws.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
            )
