"""A fake VoIPbin API on 127.0.0.1, behaving as VoIPbin's source does (not as its docs say):
access key in the query string, 200 on create, every target ``queued``, newest-first
pagination by ``tm_create`` cursor, the error envelope, and faults on demand (an HTTP status,
a reset connection, a malformed body, a hang; optionally after the message was created).

Run it alone with ``python -m bot.fakes.voipbin --port 8902``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.fakes._server import Answer, FakeServer, Fault, Request

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_REASONS = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    401: ("UNAUTHENTICATED", "INVALID_CREDENTIALS"),
    402: ("PAYMENT_REQUIRED", "INSUFFICIENT_BALANCE"),
    403: ("PERMISSION_DENIED", "PERMISSION_DENIED"),
    404: ("NOT_FOUND", "RESOURCE_NOT_FOUND"),
    429: ("RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED"),
    500: ("INTERNAL", "INTERNAL"),
    503: ("UNAVAILABLE", "SERVICE_UNAVAILABLE"),
}


@dataclass(frozen=True)
class VoipbinRequest:
    method: str
    path: str
    query: dict[str, str]  # without the access key
    json: Any
    at: float
    answered_status: int


def _normalise(target: str) -> str:
    """As VoIPbin does: trim, keep a leading +, drop every other non-digit (reference §2.1)."""
    text = target.strip()
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    return f"+{digits}" if plus else digits


def _copy(value: Any) -> Any:
    """A deep copy, so callers never share the fake's state."""
    return copy.deepcopy(value)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeVoipbin(FakeServer):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accesskey: str = "vb_test_key",
        webhook_secret: str = "test-secret",  # noqa: S107 - a fake's well-known test value
        customer_id: str = "5e4a0680-804e-11ec-8477-2fea5968d85b",
    ) -> None:
        super().__init__(host=host, port=port)
        self.accesskey = accesskey
        self.webhook_secret = webhook_secret
        self.customer_id = customer_id
        self.requests: list[VoipbinRequest] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self._numbers: list[dict[str, Any]] = []
        self._sends: list[dict[str, Any]] = []
        self._last_stamp = datetime.now(UTC)
        self.customer: dict[str, Any] = {
            "id": customer_id,
            "name": "Acme",
            "detail": "",
            "email": "ops@acme.test",
            "phone_number": "+31201234567",
            "address": "",
            "webhook_method": "POST",
            "webhook_uri": "",
            "webhook_secret": webhook_secret,
            "status": "active",
            "identity_verification_status": "verified",
        }

    @property
    def url(self) -> str:
        return f"{self.base}/v1.0"

    # -- test-side helpers ------------------------------------------------------------------

    def sends(self) -> list[dict[str, Any]]:
        """Bodies of the POST /messages that created a message, in order."""
        with self.lock:
            return [dict(s) for s in self._sends]

    def messages(self) -> list[dict[str, Any]]:
        """Stored outbound messages, oldest first."""
        with self.lock:
            found = [m for m in self._messages.values() if m["direction"] == "outbound"]
            ordered: list[dict[str, Any]] = _copy(sorted(found, key=lambda m: m["tm_create"]))
            return ordered

    def get_message(self, message_id: str) -> dict[str, Any]:
        with self.lock:
            found: dict[str, Any] = _copy(self._messages[message_id])
            return found

    def set_status(self, message_id: str, status: str, parts: int = 1) -> dict[str, Any]:
        """Move every target of a stored message to ``status``; returns the full message (the
        ``data`` of a ``message_updated`` webhook)."""
        with self.lock:
            message = self._messages[message_id]
            for target in message["targets"]:
                target["status"] = status
                target["parts"] = parts
            message["tm_update"] = _stamp(datetime.now(UTC))
            updated: dict[str, Any] = _copy(message)
            return updated

    def inbound(self, source: str, our_number: str, text: str) -> dict[str, Any]:
        """Store an SMS received on ``our_number`` and return it (a webhook's ``data``)."""
        with self.lock:
            message: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "customer_id": self.customer_id,
                "type": "sms",
                "source": {"type": "tel", "target": source},
                "targets": [
                    {
                        "destination": {"type": "tel", "target": our_number},
                        "status": "received",
                        "parts": 1,
                        "tm_update": None,
                    }
                ],
                "text": text,
                "direction": "inbound",
                "tm_create": self._now(),
                "tm_update": None,
                "tm_delete": None,
            }
            self._messages[message["id"]] = message
            stored: dict[str, Any] = _copy(message)
            return stored

    def add_number(
        self, number: str, *, type: str = "normal", status: str = "active"
    ) -> dict[str, Any]:
        with self.lock:
            entry = {
                "id": str(uuid.uuid4()),
                "customer_id": self.customer_id,
                "number": number,
                "type": type,
                "status": status,
                "call_flow_id": "00000000-0000-0000-0000-000000000000",
                "message_flow_id": "00000000-0000-0000-0000-000000000000",
                "name": "",
                "detail": "",
                "t38_enabled": False,
                "emergency_enabled": False,
                "metadata": {"rtp_debug": False},
                "tm_purchase": self._now(),
                "tm_renew": None,
                "tm_create": self._now(),
                "tm_update": None,
                "tm_delete": None,
            }
            self._numbers.append(entry)
            return dict(entry)

    @staticmethod
    def event(kind: str, message: dict[str, Any]) -> bytes:
        """The exact body VoIPbin posts to the webhook."""
        return json.dumps({"type": kind, "data": message}, separators=(",", ":")).encode()

    def sign(self, body: bytes) -> str:
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    def summary(self) -> str:
        return f"{len(self.requests)} requests: {[(r.method, r.path) for r in self.requests[-10:]]}"

    # -- the server side --------------------------------------------------------------------

    def _now(self) -> str:
        """tm_create values strictly increase, as the list cursor relies on them."""
        now = max(datetime.now(UTC), self._last_stamp + timedelta(microseconds=1))
        self._last_stamp = now
        return _stamp(now)

    def _record(self, request: Request, status: int) -> None:
        try:
            body = request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        query = {k: v for k, v in request.query.items() if k != "accesskey"}
        with self.lock:
            self.requests.append(
                VoipbinRequest(request.method, request.path, query, body, time.monotonic(), status)
            )
            self.lock.notify_all()

    @staticmethod
    def _error(status: int, reason: str | None = None, message: str = "") -> Answer:
        kind, default_reason = _REASONS.get(status, ("INTERNAL", "INTERNAL"))
        request_id = f"req_{uuid.uuid4().hex[:12]}"
        body = {
            "error": {
                "status": kind,
                "reason": reason or default_reason,
                "message": message or f"{reason or default_reason}",
                "request_id": request_id,
            }
        }
        return Answer(status, body, {"X-Request-Id": request_id})

    def _route(self, method: str, path: str) -> str:
        rest = path[len("/v1.0") :]
        if re.fullmatch(r"/messages/[^/]+", rest):
            return f"{method} /messages/{{id}}"
        return f"{method} {rest}"

    def handle(self, request: Request) -> Answer:
        if request.path.startswith("/_fake/"):
            return self._control(request)
        answer = self._handle(request)
        self._record(request, 0 if answer.reset else answer.status)
        return answer

    def _handle(self, request: Request) -> Answer:
        if not request.path.startswith("/v1.0/"):
            return self._error(404, "ROUTE_NOT_FOUND", "no such route")
        key = request.query.get("accesskey")
        if key is None:
            return self._error(401, "AUTHENTICATION_REQUIRED", "authentication required")
        if key != self.accesskey:
            return self._error(401, "INVALID_CREDENTIALS", "invalid credentials")
        route = self._route(request.method, request.path)
        fault = self.take_fault(route)
        if fault is not None and fault.create_first:
            normal = self._serve(route, request)  # the work is done, then the fault
            if fault.mode == "hang":
                time.sleep(fault.delay)
                return normal
        if fault is not None:
            return self._fault(fault, route, request)
        return self._serve(route, request)

    def _fault(self, fault: Fault, route: str, request: Request) -> Answer:
        if fault.mode == "hang":
            time.sleep(fault.delay)
            return self._serve(route, request)
        if fault.delay:
            time.sleep(fault.delay)
        if fault.mode == "reset":
            return Answer(0, None, reset=True)
        if fault.mode == "malformed":
            return Answer(200, None, raw=b"<html>Bad Gateway</html>")
        if fault.body is not None:
            return Answer(fault.status, fault.body, fault.headers)
        answer = self._error(fault.status)
        if fault.status == 429:
            answer.headers.setdefault("Retry-After", "1")
        answer.headers.update(fault.headers)
        return answer

    def _serve(self, route: str, request: Request) -> Answer:
        if route == "POST /messages":
            return self._send(request)
        if route == "GET /messages":
            with self.lock:
                items = list(self._messages.values())
            return self._page(request, items)
        if route in ("GET /messages/{id}", "DELETE /messages/{id}"):
            message_id = request.path.rsplit("/", 1)[1]
            if not _UUID.match(message_id):
                return self._error(400, "INVALID_ID", "the id is not a UUID")
            with self.lock:
                message = self._messages.get(message_id)
                if message is None:
                    return self._error(404, "MESSAGE_NOT_FOUND", "The message was not found.")
                if route.startswith("DELETE"):
                    message["tm_delete"] = message["tm_update"] = self._now()
                elif message["tm_delete"] is not None:
                    return self._error(404, "RESOURCE_NOT_FOUND", "not found")
                return Answer(200, _copy(message))
        if route == "GET /numbers":
            with self.lock:
                items = [n for n in self._numbers if n["status"] != "deleted"]
            return self._page(request, items)
        if route == "GET /customer":
            with self.lock:
                return Answer(200, dict(self.customer))
        if route == "PUT /customer":
            try:
                body = request.json() or {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                return self._error(400, "INVALID_JSON_BODY", "invalid JSON")
            with self.lock:
                for field in (
                    "name",
                    "detail",
                    "email",
                    "phone_number",
                    "address",
                    "webhook_method",
                    "webhook_uri",
                ):
                    self.customer[field] = str(body.get(field, ""))
                return Answer(200, dict(self.customer))
        return self._error(404, "ROUTE_NOT_FOUND", "no such route")

    def _send(self, request: Request) -> Answer:
        try:
            body = request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._error(400, "INVALID_JSON_BODY", "invalid JSON")
        if not isinstance(body, dict) or not body.get("destinations"):
            return self._error(400, "INVALID_ARGUMENT", "destinations must not be empty")
        source = dict(body.get("source") or {})
        if "target" in source:
            source["target"] = _normalise(str(source["target"]))
        targets = []
        for destination in body["destinations"]:
            address = dict(destination)
            if "target" in address:
                address["target"] = _normalise(str(address["target"]))
            targets.append(
                {"destination": address, "status": "queued", "parts": 0, "tm_update": None}
            )
        with self.lock:
            message: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "customer_id": self.customer_id,
                "type": "sms",
                "source": source,
                "targets": targets,
                "text": str(body.get("text", "")),
                "direction": "outbound",
                "tm_create": self._now(),
                "tm_update": None,
                "tm_delete": None,
            }
            self._messages[message["id"]] = message
            self._sends.append(body)
            return Answer(200, _copy(message))

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Answer:
        raw_size = request.query.get("page_size", "")
        if raw_size:
            try:
                size = int(raw_size)
            except ValueError:
                return self._error(400, "INVALID_REQUEST_PARAMETER", "page_size is not a number")
        else:
            size = 100
        if size <= 0 or size > 100:
            size = 100
        token = request.query.get("page_token") or _stamp(datetime.now(UTC))
        newest = sorted(
            (i for i in items if i["tm_create"] < token), key=lambda i: i["tm_create"], reverse=True
        )
        page = _copy(newest[:size])
        next_token = page[-1]["tm_create"] if page else ""
        return Answer(200, {"result": page, "next_page_token": next_token})

    def _control(self, request: Request) -> Answer:
        if request.path == "/_fake/requests":
            return Answer(
                200,
                {
                    "requests": [
                        {
                            "method": r.method,
                            "path": r.path,
                            "query": r.query,
                            "json": r.json,
                            "status": r.answered_status,
                        }
                        for r in list(self.requests)
                    ]
                },
            )
        if request.path == "/_fake/messages":
            return Answer(200, {"messages": self.messages()})
        if request.path == "/_fake/fail_next" and request.method == "POST":
            spec = request.json() or {}
            route = spec.pop("route")
            self.fail_next(route, **spec)
            return Answer(200, {"ok": True})
        return self._error(404, "ROUTE_NOT_FOUND", "no such control route")


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake VoIPbin API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accesskey", default="vb_test_key")
    parser.add_argument("--webhook-secret", default="test-secret")
    args = parser.parse_args()
    fake = FakeVoipbin(
        port=args.port, accesskey=args.accesskey, webhook_secret=args.webhook_secret
    ).start()
    print(fake.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
