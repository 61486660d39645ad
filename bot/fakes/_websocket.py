"""What the WebSocket fakes share (``FakeSocketMode``, ``FakeVoipbinWs``): an aiohttp server on
loopback, in the test's event loop, that accepts WebSocket connections, records every text
frame a client sends, wakes ``wait_for`` whenever anything changes, and can drop every
connection.

With ``forward_to`` (the base URL of ``FakeSlack`` or ``FakeVoipbin``) every request the fake
does not serve itself is passed on there, so that one address answers both the Web API and
the socket, as the real services do: that is what a process started with only
``SLACK_API_URL`` and ``VOIPBIN_API_URL`` needs (``sms-bridge serve --no-public-url``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

# Not passed on by the forwarder: they describe one hop, not the request.
_HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)


class WebSocketFake:
    """Subclasses add their routes in ``routes`` and describe their state in ``state``."""

    def __init__(self, *, host: str = "127.0.0.1", forward_to: str | None = None) -> None:
        self._host = host
        self._forward_to = forward_to.rstrip("/") if forward_to else None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self.connections = 0  # WebSocket connections accepted, ever
        self.received: list[Any] = []  # every text frame a client sent (JSON decoded if it was)

    # -- lifecycle -------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        self.routes(app)
        if self._forward_to is not None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
            app.router.add_route("*", "/{tail:.*}", self._forward)
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def base(self) -> str:
        return f"http://{self._host}:{self._port}"

    def open_sockets(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self._sockets if not ws.closed]

    @property
    def open_connections(self) -> int:
        return len(self.open_sockets())

    # -- the server side -------------------------------------------------------------------

    async def accept(
        self, request: web.Request, *, greeting: dict[str, Any] | None = None
    ) -> web.WebSocketResponse:
        """Upgrade ``request``, count the connection and send ``greeting`` first, if any."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        if greeting is not None:
            await ws.send_json(greeting)
        await self.notify()
        return ws

    async def receive(
        self, ws: web.WebSocketResponse, on_frame: Callable[[Any], Awaitable[None]]
    ) -> web.WebSocketResponse:
        """Read ``ws`` until it closes: record each text frame and hand it to ``on_frame``."""
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(frame.data)
                except ValueError:
                    data = frame.data
                self.received.append(data)
                await on_frame(data)
                await self.notify()
        finally:
            with contextlib.suppress(ValueError):
                self._sockets.remove(ws)
            await self.notify()
        return ws

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        assert self._forward_to is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(
            request.method,
            self._forward_to + request.path_qs,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as upstream:
            body = await upstream.read()
            passed = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=upstream.status, body=body, headers=passed)

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- test side -------------------------------------------------------------------------

    def state(self) -> str:
        """The counters a failed ``wait_for`` reports."""
        return f"connections={self.connections}, open={self.open_connections}"

    async def wait_for(self, predicate: Callable[[Self], bool], within: float = 10.0) -> None:
        """Wait until ``predicate(self)`` holds (checked whenever something happens)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{type(self).__name__}: condition not met ({self.state()})"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))

    async def drop(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> int:
        """Close every open connection from the server side; returns how many."""
        sockets = self.open_sockets()
        for ws in sockets:
            await ws.close(code=code, message=message)
        return len(sockets)
