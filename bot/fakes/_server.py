"""What both fakes share: a threaded HTTP server on loopback, recorded calls, scripted faults."""

from __future__ import annotations

import contextlib
import json
import math
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


def take_token(
    buckets: dict[Any, tuple[float, float]],
    key: Any,
    *,
    per_second: float,
    burst: int,
    now: float,
) -> int | None:
    """One call against the token bucket ``buckets[key]`` (``(tokens, when)``; a new bucket is
    full): None if it may go ahead (a token is taken), else the whole seconds, rounded up,
    until a token is there: the ``Retry-After`` Slack and VoIPbin answer with. The caller
    holds the fake's lock."""
    tokens, last = buckets.get(key, (float(burst), now))
    tokens = min(float(burst), tokens + (now - last) * per_second)
    if tokens >= 1.0:
        buckets[key] = (tokens - 1.0, now)
        return None
    buckets[key] = (tokens, now)
    return max(1, math.ceil((1.0 - tokens) / per_second))


@dataclass
class Fault:
    """A scripted answer for the next ``times`` calls of a route."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    delay: float = 0.0
    mode: str = "status"  # status | reset | malformed | hang
    create_first: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    raw: bytes | None = None


class _Server(ThreadingHTTPServer):
    """The fakes' HTTP server, which remembers the connections it is serving so that
    ``close_connections`` ends them: a stopped vendor does not go on answering on a kept-alive
    connection, which a client's pool would otherwise reuse."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client closed it first
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and left (the "hang" faults) is expected here.
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """Base class: subclasses implement ``handle(request) -> Answer``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.Condition()
        self._faults: dict[str, list[Fault]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY the second waits
            # for a delayed ACK and every call takes ~45 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                answer = fake.handle(request)
                if answer.reset:
                    # Close without answering, with RST rather than FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                if answer.raw is not None:
                    payload = answer.raw
                    content_type = "text/plain"
                else:
                    payload = json.dumps(answer.body).encode()
                    content_type = "application/json"
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve
            do_PUT = _serve
            do_DELETE = _serve

        server = _Server(self._address, Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------------------------

    # The status a fault answers when none is given (Slack answers errors as 200 + ok:false).
    default_fault_status = 500

    def check_route(self, route: str) -> None:
        """Refuse a route the fake does not serve (subclasses know theirs)."""

    def fail_next(
        self,
        route: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
        mode: str = "status",
        create_first: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of ``route`` with a fault instead of the real answer.

        ``mode="status"`` answers ``status`` with ``body`` (default: the fake's error body for
        that status). ``"hang"`` answers normally after ``delay``; ``"reset"`` closes the
        connection unanswered; ``"malformed"`` answers 200 with a non-JSON body. ``delay``
        always sleeps first. With ``create_first`` the call takes effect before the fault
        ("it was done, the client never heard").
        """
        self.check_route(route)
        if status is None:
            status = self.default_fault_status
        if mode not in {"status", "reset", "malformed", "hang"}:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self.lock:
            self._faults.setdefault(route, []).append(
                Fault(
                    status=status,
                    body=body,
                    headers=dict(headers or {}),
                    times=times,
                    delay=delay,
                    mode=mode,
                    create_first=create_first,
                )
            )

    def take_fault(self, route: str) -> Fault | None:
        with self.lock:
            queue = self._faults.get(route)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    def notify(self) -> None:
        with self.lock:
            self.lock.notify_all()

    def wait_for(self, predicate: Callable[[Self], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate(self)`` holds (woken on every recorded call)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{type(self).__name__}: condition not met; {self.summary()}"
                    )
                self.lock.wait(min(remaining, 0.1))

    def summary(self) -> str:
        return ""

    def handle(self, request: Request) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError
