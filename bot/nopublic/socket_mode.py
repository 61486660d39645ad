"""Slack through Socket Mode: the same Bolt app (``bot.slack.app.build_bolt_app``), reached
over a WebSocket that we open, instead of Slack's HTTP requests.

slack_bolt's ``AsyncSocketModeHandler`` (aiohttp) calls ``apps.connections.open`` with the
app-level token (``xapp-…``, scope ``connections:write``) to get a WebSocket URL, connects, and
turns each envelope into a Bolt request; the ack (a slash command's ephemeral answer, say) goes
back as ``{"envelope_id", "payload"}``. Bolt skips the signature check in Socket Mode, and maps
an envelope's ``retry_attempt``/``retry_reason`` into the ``x-slack-retry-num``/
``x-slack-retry-reason`` headers the redelivery middleware reads (slack_bolt
``adapter/socket_mode/internals.build_headers``). Slack sends ``retry_attempt: 0`` on a first
delivery, so that header is present (``"0"``) on first deliveries too, unlike over HTTP; the
middleware then only looks the event id up, finds nothing, and carries on.

The client reconnects by itself (a ``disconnect`` envelope, a closed socket, failed pings).
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SocketModeError(Exception):
    """Socket Mode cannot start: the message says why (a wrong or refused app token)."""


class _TrackingHandler(AsyncSocketModeHandler):
    """Bolt's handler, counting the envelopes being handled so a stop can let them finish
    (and ack) before the socket closes."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        assert isinstance(client, SocketModeClient)
        self.in_flight += 1
        self.idle.clear()
        try:
            await super().handle(client, req)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()


class SlackSocketMode:
    """``await start()`` connects (and returns once connected); ``await stop()`` lets the
    envelopes in hand finish, for at most ``drain_seconds``, then disconnects.

    ``web_api_url`` is where ``apps.connections.open`` is called (``SLACK_API_URL``); the Bolt
    app's own Web API calls keep going through its client."""

    def __init__(
        self,
        bolt_app: AsyncApp,
        app_token: str,
        *,
        web_api_url: str,
        ping_interval: float = 10.0,
        drain_seconds: float = 10.0,
        timeout: int = 10,
    ) -> None:
        if not app_token.startswith("xapp-"):
            raise SocketModeError(
                "SLACK_APP_TOKEN must be an app-level token (xapp-…) with the "
                "connections:write scope: Basic Information → App-Level Tokens"
            )
        self._app = bolt_app
        self._app_token = app_token
        self._web_api_url = web_api_url
        self._ping_interval = ping_interval
        self._drain_seconds = drain_seconds
        self._timeout = timeout
        self._handler: _TrackingHandler | None = None

    @property
    def client(self) -> SocketModeClient | None:
        return self._handler.client if self._handler is not None else None

    async def is_connected(self) -> bool:
        return self._handler is not None and await self._handler.client.is_connected()

    async def start(self) -> None:
        if self._handler is not None:
            return
        web_client = AsyncWebClient(base_url=self._web_api_url, timeout=self._timeout)
        handler = _TrackingHandler(
            self._app,
            self._app_token,
            web_client=web_client,
            ping_interval=self._ping_interval,
        )
        self._handler = handler
        try:
            # Ask for the first URL here, so a refused token stops the start with a clear
            # message instead of the client retrying it for ever.
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            await self.stop()
            error = exc.response.get("error", "error") if exc.response is not None else "error"
            raise SocketModeError(
                f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {error}); it must be "
                "an app-level token with connections:write, and Socket Mode must be enabled"
            ) from None
        except asyncio.CancelledError:
            await self.stop()
            raise
        except Exception as exc:  # Slack unreachable: the client keeps trying below
            log.warning(
                "socket mode: apps.connections.open failed (%s); retrying", type(exc).__name__
            )
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
        except BaseException:
            await self.stop()
            raise
        log.info("socket mode: connected to Slack")

    async def stop(self) -> None:
        handler, self._handler = self._handler, None
        if handler is None:
            return
        if handler.in_flight:
            try:
                await asyncio.wait_for(handler.idle.wait(), self._drain_seconds)
            except TimeoutError:
                log.warning(
                    "socket mode: %d envelope(s) still in hand after %.0fs; closing anyway",
                    handler.in_flight,
                    self._drain_seconds,
                )
        client = handler.client
        started = time.monotonic()
        await handler.close_async()  # type: ignore[no-untyped-call]
        tasks = [
            t
            for t in (
                client.message_processor,
                client.current_session_monitor,
                client.message_receiver,
            )
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("socket mode: disconnected in %.2fs", time.monotonic() - started)


async def run_socket_mode(
    bolt_app: AsyncApp, app_token: str, *, web_api_url: str, ping_interval: float = 10.0
) -> SlackSocketMode:
    """Connect ``bolt_app`` to Slack over Socket Mode; ``await (result).stop()`` to end it."""
    socket_mode = SlackSocketMode(
        bolt_app, app_token, web_api_url=web_api_url, ping_interval=ping_interval
    )
    await socket_mode.start()
    return socket_mode
