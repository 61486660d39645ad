"""A fake VoIPbin API on 127.0.0.1 that behaves like VoIPbin's source code, not its docs
(``shared/reference/voipbin-api.md``; ``voipbin/monorepo`` paths below). That means:

- the access key is read from ``?accesskey=`` (§1.1), and a JWT is never valid here;
- ``POST /messages`` answers 200 with every target ``queued``, ``parts`` 0 and ``tm_update``
  null (§2.1, §3.5), after the identity gate and the balance check, which refuse a send with
  ``500 INTERNAL`` (bin-message-manager/pkg/messagehandler/send.go returns plain errors, which
  pkg/listenhandler/main.go answers 500 and bin-api-manager/server/error_translate.go turns
  into INTERNAL);
- the send then goes to a provider (``dispatch``), as send.go's background loop does:
  MessageBird rebuilds the targets from its answer (status ``sent``, ``parts`` set), Telnyx
  leaves them ``queued`` with ``parts`` 0; either way the message's ``tm_update`` is set and
  ``message_updated`` is sent (db.go ``dbUpdateTargets``). When every provider fails nothing
  more happens;
- webhooks go to the customer's ``webhook_uri`` as bin-webhook-manager/pkg/webhookhandler/
  message.go sends them: ``{"type","data"}``, the ``X-Voipbin-Signature`` header as Go's
  ``Header.Set`` writes ``X-VoIPBIN-Signature`` (canonical MIME case), up to 3 attempts, the
  next one only after a transport error or a status >= 500. ``message_created`` is published
  before the POST is answered (db.go ``dbCreate``), so it can arrive first. Unlike VoIPbin,
  which refuses loopback addresses, this fake delivers only to 127.0.0.1 and ::1;
- lists are newest first, paged by a ``tm_create`` cursor, and include deleted messages (§2.2);
  a non-UUID id is 400 ``INVALID_ID``, an unknown one 404 ``MESSAGE_NOT_FOUND`` (§2.3);
- errors use VoIPbin's envelope and ``X-Request-Id`` (§6.1);
- the customer may make 16.7 requests a second on ``/v1.0``, 33 at once (§6.2); over that it
  is answered 429 ``RATE_LIMIT_EXCEEDED`` with ``Retry-After`` (``set_rate_limit``);
- timestamps are Go's RFC 3339 with trailing zeros trimmed (§3.4).

Faults can be scripted per route: an HTTP status, a reset connection, a malformed body or a
hang, each optionally *after* the work was done ("created, then the client saw a 500").

Run it alone with ``python -m bot.fakes.voipbin --port 8902``. ``GET /_fake/requests`` and
``POST /_fake/fail_next`` then control it from another process.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import hmac
import json
import queue
import random
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from bot.fakes._server import Answer, FakeServer, Fault, Request, take_token
from bot.phone import count_segments

NIL_UUID = "00000000-0000-0000-0000-000000000000"
ROUTES = frozenset(
    {
        "POST /messages",
        "GET /messages",
        "GET /messages/{id}",
        "DELETE /messages/{id}",
        "GET /numbers",
        "GET /customer",
        "PUT /customer",
    }
)
# HTTP status -> (envelope status, the reason a fault gets by default, message), §6.1.
_ENVELOPES = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT", "The request is invalid."),
    401: ("UNAUTHENTICATED", "INVALID_CREDENTIALS", "The credentials are invalid."),
    402: ("PAYMENT_REQUIRED", "INSUFFICIENT_BALANCE", "The balance is insufficient."),
    403: ("PERMISSION_DENIED", "PERMISSION_DENIED", "Permission denied."),
    404: ("NOT_FOUND", "RESOURCE_NOT_FOUND", "The resource was not found."),
    409: ("FAILED_PRECONDITION", "FAILED_PRECONDITION", "A precondition failed."),
    429: ("RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED", "Too many requests."),
    500: ("INTERNAL", "INTERNAL", "An internal error occurred."),
    503: ("UNAVAILABLE", "SERVICE_UNAVAILABLE", "The service is unavailable."),
}
_ADDRESS_FIELDS = ("type", "target", "target_name", "name", "detail")  # Go struct order
_CUSTOMER_FIELDS = (
    "name",
    "detail",
    "email",
    "phone_number",
    "address",
    "webhook_method",
    "webhook_uri",
)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Where a send goes after it is stored (``FakeVoipbin.dispatch``): a provider, "none" (every
# provider failed: nothing more happens), or "random" (MessageBird or Telnyx, as VoIPbin's
# iteration over a Go map picks them). None: nothing happens by itself; the test moves the
# message on with ``set_status``.
DISPATCH_MODES = frozenset({"messagebird", "telnyx", "none", "random"})
# bin-webhook-manager/pkg/webhookhandler/message.go: ``for i := 0; i < 3; i++``.
WEBHOOK_ATTEMPTS = 3
# Go's net/http default; webhook-manager sets none of its own.
GO_USER_AGENT = "Go-http-client/1.1"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class VoipbinRequest:
    """One API request: its method, path, query (credentials removed), JSON body (None if it
    had none or it was not JSON), arrival time (``time.monotonic()``) and the HTTP status it
    got (0 when the connection was reset instead)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any | None
    at: float
    answered_status: int


@dataclass
class WebhookDelivery:
    """One webhook VoIPbin sent: its event type, the message id, the body as sent, and the
    HTTP status each attempt got (0: a transport error; none when the URI was refused)."""

    type: str
    message_id: str
    body: bytes
    attempts: list[int] = field(default_factory=list)
    done: bool = False
    uri: str = ""  # the customer's webhook when the event was published
    method: str = "POST"


class _Unbindable(ValueError):
    """A body Go's JSON binding would refuse: VoIPbin answers 400 INVALID_JSON_BODY."""


def normalise(target: str) -> str:
    """As VoIPbin does (§2.1 step 3): trim, keep a leading ``+``, drop every other non-digit."""
    text = target.strip()
    digits = re.sub(r"\D", "", text)
    return f"+{digits}" if text.startswith("+") else digits


def rfc3339(moment: datetime) -> str:
    """Go's RFC3339Nano in UTC at microsecond precision: ``2026-08-20T10:30:00.12345Z``,
    trailing zeros trimmed (``...:00Z`` on a whole second)."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def page_token(moment: datetime) -> str:
    """The list cursor's fixed six-digit form: ``2026-08-20T10:30:00.123450Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _go_json(value: Any) -> bytes:
    """JSON bytes as Go's encoding/json writes them: compact, UTF-8, ``<>&`` and U+2028/9
    escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def _address(value: Any) -> dict[str, str]:
    """A request's Address as VoIPbin stores it: known fields only, the target normalised,
    empty fields absent (they are ``omitempty``, §3.1)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Unbindable("an address must be an object")
    address: dict[str, str] = {}
    for name in _ADDRESS_FIELDS:
        field = value.get(name)
        if field is None:
            continue
        if not isinstance(field, str):
            raise _Unbindable(f"address.{name} must be a string")
        if name == "target":
            field = normalise(field)
        if field:
            address[name] = field
    return address


def refused_credentials(
    headers: Mapping[str, str], query: Mapping[str, str], accesskey: str
) -> tuple[str, str] | None:
    """VoIPbin's authentication middleware (reference §1.1), which guards every ``/v1.0``
    route, ``/v1.0/ws`` included: a JWT (cookie ``token``, ``?token=``, ``Authorization:
    Bearer``) is looked at first, and these fakes issue none; then cookie or query
    ``accesskey``. ``headers`` are looked up by lower-case name. Returns the 401's reason and
    message, or None when ``accesskey`` was given."""
    cookies = SimpleCookie()
    with contextlib.suppress(CookieError):
        cookies.load(headers.get("cookie", ""))
    jwt = (
        "token" in cookies
        or query.get("token")
        or headers.get("authorization", "").startswith("Bearer ")
    )
    key = cookies["accesskey"].value if "accesskey" in cookies else ""
    key = key or query.get("accesskey", "")
    if not jwt and not key:
        return "AUTHENTICATION_REQUIRED", "Authentication is required."
    if jwt or not hmac.compare_digest(key.encode(), accesskey.encode()):
        return "INVALID_CREDENTIALS", "The credentials are invalid."
    return None


# VoIPbin's default per-customer rate limit (reference §6.2, bin-api-manager's
# customer_ratelimit middleware): requests a second, burst.
CUSTOMER_RATE_LIMIT = (16.7, 33)


class FakeVoipbin(FakeServer):
    """VoIPbin's REST API at ``url`` (``http://127.0.0.1:PORT/v1.0``) for one customer."""

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
        self._dispatch_mode: str | None = None
        self.random = random.Random()  # picks a provider; seed it for a repeatable mix
        # SMS the account can still pay for (one per target), None for no limit.
        self.balance: int | None = None
        # Deliver message_created before answering the POST, as can happen in VoIPbin.
        self.created_before_answer = False
        # webhook-manager sleeps 1 s between attempts; tests shorten it.
        self.retry_delay = 1.0
        self._providers: dict[str, str] = {}  # message id -> the provider that took it
        self._deliveries: list[WebhookDelivery] = []
        self._outbox: queue.Queue[WebhookDelivery | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._requests: list[VoipbinRequest] = []
        self._answering = 0
        # VoIPbin's per-customer limit on /v1.0 (reference §6.2: 16.7 requests a second,
        # burst 33, after authentication); set_rate_limit changes or removes it.
        self._rate: tuple[float, int] | None = CUSTOMER_RATE_LIMIT
        self._bucket: dict[str, tuple[float, float]] = {}  # the customer's: (tokens, when)
        self.rate_limited_count = 0
        self._sends: list[Any] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self._numbers: dict[str, dict[str, Any]] = {}
        self._created: dict[str, datetime] = {}  # id -> tm_create, for ordering and paging
        self._last = datetime.now(UTC)
        created = self._now()
        self._customer: dict[str, Any] = {
            "id": customer_id,
            "name": "Fake customer",
            "detail": "",
            "email": "ops@fake.voipbin.test",
            "phone_number": "",
            "address": "",
            "webhook_method": "POST",
            "webhook_uri": "",
            "billing_account_id": str(uuid.uuid5(uuid.NAMESPACE_URL, customer_id)),
            "metadata": {"rtp_debug": False},
            "email_verified": True,
            "status": "active",
            "identity_verification_status": "verified",
            "tm_deletion_scheduled": None,
            "tm_create": rfc3339(created),
            "tm_update": None,
            "tm_delete": None,
            "webhook_secret": webhook_secret,
        }

    @property
    def url(self) -> str:
        """The API base URL, ``/v1.0`` included."""
        return f"{self.base}/v1.0"

    @property
    def dispatch(self) -> str | None:
        """What happens to a send after it is stored: one of DISPATCH_MODES, or None (the
        test moves it on with ``set_status``)."""
        return self._dispatch_mode

    @dispatch.setter
    def dispatch(self, mode: str | None) -> None:
        if mode is not None and mode not in DISPATCH_MODES:
            raise ValueError(f"unknown dispatch {mode!r}; one of {sorted(DISPATCH_MODES)}")
        self._dispatch_mode = mode

    def start(self) -> Self:
        super().start()
        self._sender = threading.Thread(target=self._send_webhooks, daemon=True)
        self._sender.start()
        return self

    def stop(self) -> None:
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout=10)
            self._sender = None
        super().stop()

    # -- test-side set-up -------------------------------------------------------------------

    # fail_next (FakeServer): faults are keyed by route ("POST /messages",
    # "GET /messages/{id}", ...: see ROUTES) and answer VoIPbin's error envelope for the
    # status (500 INTERNAL, 503 SERVICE_UNAVAILABLE, 429 with Retry-After: 1, ...).
    def check_route(self, route: str) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {sorted(ROUTES)}")

    def add_number(
        self, number: str, *, type: str = "normal", status: str = "active"
    ) -> dict[str, Any]:
        """Own a number (listed by ``GET /numbers`` unless deleted); returns the Number (§5)."""
        with self.lock:
            created = self._now()
            entry: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "customer_id": self.customer_id,
                "number": number,
                "type": type,
                "call_flow_id": NIL_UUID,
                "message_flow_id": NIL_UUID,
                "name": "",
                "detail": "",
                "status": status,
                "t38_enabled": False,
                "emergency_enabled": False,
                "metadata": {"rtp_debug": False},
                "tm_purchase": rfc3339(created),
                "tm_renew": None,
                "tm_create": rfc3339(created),
                "tm_update": None,
                "tm_delete": rfc3339(created) if status == "deleted" else None,
            }
            self._numbers[entry["id"]] = entry
            self._created[entry["id"]] = created
            return copy.deepcopy(entry)

    def inbound(self, source: str, our_number: str, text: str) -> dict[str, Any]:
        """Store an SMS from ``source`` received on ``our_number`` (target status
        ``received``, 1 part) and return it: the ``data`` of its ``message_created``."""
        destination = {"type": "tel", "target": our_number}
        sender = {"type": "tel", "target": source}
        with self.lock:
            return self._store("inbound", sender, [destination], text, status="received", parts=1)

    def set_identity(self, status: str) -> None:
        """The customer's ``identity_verification_status`` (none, pending, verified,
        rejected): a send is refused unless it is ``verified``."""
        with self.lock:
            self._customer["identity_verification_status"] = status

    def set_webhook(self, uri: str, method: str = "POST") -> None:
        """Point the customer's webhook at ``uri`` (as ``PUT /customer`` does); "" stops it."""
        with self.lock:
            self._customer["webhook_uri"] = uri
            self._customer["webhook_method"] = method

    def provider_of(self, message_id: str) -> str | None:
        """The provider that took a sent message (messagebird, telnyx), or None."""
        with self.lock:
            return self._providers.get(message_id)

    def set_status(self, message_id: str, status: str, parts: int = 1) -> dict[str, Any]:
        """Give every target of a stored message ``status`` and ``parts`` and stamp
        ``tm_update``; returns the whole message (the ``data`` of a ``message_updated``)."""
        with self.lock:
            message = self._messages[message_id]
            for target in message["targets"]:
                target["status"] = status
                target["parts"] = parts
            message["tm_update"] = rfc3339(self._now())
            self.lock.notify_all()
            return copy.deepcopy(message)

    # -- webhooks (§4.2) ---------------------------------------------------------------------

    @staticmethod
    def event(type: str, message: dict[str, Any]) -> bytes:
        """The exact body VoIPbin delivers to the webhook: ``{"type":...,"data":...}``."""
        return _go_json({"type": type, "data": message})

    def sign(self, body: bytes) -> str:
        """The ``X-VoIPBIN-Signature`` for ``body``: ``sha256=<hex HMAC-SHA256>``."""
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    def deliver(self, type: str, message: dict[str, Any]) -> WebhookDelivery | None:
        """Send ``{"type": type, "data": message}`` to the customer's webhook, in the
        background, as webhook-manager does; None when no webhook is set."""
        with self.lock:
            # Read when the event is published (webhookhandler/webhook.go
            # SendWebhookToCustomer), sent afterwards.
            uri = self._customer["webhook_uri"]
            method = self._customer["webhook_method"] or "GET"  # Go: "" is GET
        if not uri:
            return None
        body = self.event(type, message)
        delivery = WebhookDelivery(type, str(message.get("id", "")), body, uri=uri, method=method)
        with self.lock:
            self._deliveries.append(delivery)
        self._outbox.put(delivery)
        return delivery

    def deliveries(self) -> list[WebhookDelivery]:
        """Every webhook sent or being sent, in the order they were published."""
        with self.lock:
            return [
                WebhookDelivery(
                    d.type, d.message_id, d.body, list(d.attempts), d.done, d.uri, d.method
                )
                for d in self._deliveries
            ]

    def _send_webhooks(self) -> None:
        with httpx.Client(trust_env=False, timeout=30.0) as http:
            while True:
                delivery = self._outbox.get()
                if delivery is None:
                    return
                self._post_webhook(http, delivery)

    def _post_webhook(self, http: httpx.Client, delivery: WebhookDelivery) -> None:
        """webhookhandler/message.go ``sendMessage``: up to 3 attempts, the next only after a
        transport error or a status >= 500, a pause after each failure."""
        uri, method, secret = delivery.uri, delivery.method, self.webhook_secret
        if urlsplit(uri).hostname not in _LOOPBACK:
            self._record_attempt(delivery, None)
            return
        # Go's Header.Set writes the canonical MIME form of "X-VoIPBIN-Signature".
        headers = {"Content-Type": "application/json", "User-Agent": GO_USER_AGENT}
        if secret:
            headers["X-Voipbin-Signature"] = self.sign(delivery.body)
        for _ in range(WEBHOOK_ATTEMPTS):
            try:
                status = http.request(method, uri, content=delivery.body, headers=headers)
                code = status.status_code
            except httpx.TransportError:
                code = 0
            self._record_attempt(delivery, code)
            if 0 < code < 500:
                break
            time.sleep(self.retry_delay)
        self._record_attempt(delivery, None)

    def _record_attempt(self, delivery: WebhookDelivery, status: int | None) -> None:
        """Note an attempt's status, or (None) that the delivery is over."""
        with self.lock:
            if status is None:
                delivery.done = True
            else:
                delivery.attempts.append(status)
            self.lock.notify_all()

    # -- test-side queries ------------------------------------------------------------------

    @property
    def answering(self) -> int:
        """API requests being answered right now (e.g. a "hang" fault still sleeping, whose
        SMS is created when it wakes): a test that counts SMS waits for 0 first."""
        with self.lock:
            return self._answering

    @property
    def requests(self) -> list[VoipbinRequest]:
        """Every API request so far, in arrival order (control routes excluded)."""
        with self.lock:
            return list(self._requests)

    @property
    def customer(self) -> dict[str, Any]:
        """The customer as ``GET /customer`` shows it now."""
        with self.lock:
            return copy.deepcopy(self._customer)

    def sends(self) -> list[dict[str, Any]]:
        """The bodies of the ``POST /messages`` that created a message and were answered 200."""
        with self.lock:
            return copy.deepcopy(self._sends)

    def messages(self, direction: str | None = "outbound") -> list[dict[str, Any]]:
        """Stored messages, oldest first, deleted ones included: outbound only by default,
        ``"inbound"`` for received ones, ``None`` for all."""
        with self.lock:
            found = [
                copy.deepcopy(m)
                for m in self._messages.values()
                if direction is None or m["direction"] == direction
            ]
            return sorted(found, key=lambda m: self._created[m["id"]])

    def get_message(self, message_id: str) -> dict[str, Any]:
        """One stored message (KeyError if there is none)."""
        with self.lock:
            return copy.deepcopy(self._messages[message_id])

    def summary(self) -> str:
        """The last requests, for assertion messages."""
        with self.lock:
            recent = self._requests[-15:]
            total = len(self._requests)
        lines = [f"  {r.method} {r.path} -> {r.answered_status}" for r in recent]
        return f"{total} requests, the last {len(recent)}:\n" + "\n".join(lines)

    # -- the server side --------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        """Answer one HTTP request (called on the server's threads)."""
        if request.path.startswith("/_fake/"):
            return self._control(request)
        received = time.monotonic()
        with self.lock:
            self._answering += 1
        try:
            answer = self._respond(request)
        finally:
            with self.lock:
                self._answering -= 1
        supplied = request.headers.get("x-request-id", "")
        request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else self._request_id()
        answer.headers.setdefault("X-Request-Id", request_id)
        error = answer.body.get("error") if isinstance(answer.body, dict) else None
        if isinstance(error, dict) and error.get("request_id") == "":
            error["request_id"] = answer.headers["X-Request-Id"]
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        query = {k: v for k, v in request.query.items() if k not in ("accesskey", "token")}
        status = 0 if answer.reset else answer.status
        with self.lock:
            self._requests.append(
                VoipbinRequest(request.method, request.path, query, body, received, status)
            )
            self.lock.notify_all()
        return answer

    def _respond(self, request: Request) -> Answer:
        route = self._route(request)
        if route is None:
            return self._error(404, "ROUTE_NOT_FOUND", "The route was not found.")
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        retry_after = self._rate_limited()
        if retry_after is not None:
            answer = self._error(429, details=[{"limited_by": "customer"}])
            answer.headers["Retry-After"] = str(retry_after)
            return answer
        fault = self.take_fault(route)
        done = self._serve(route, request) if fault and fault.create_first else None
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.mode != "hang":
            return self._fault(fault)
        answer = done if done is not None else self._serve(route, request)
        if route == "POST /messages" and answer.status == 200:
            with self.lock:
                self._sends.append(request.json())
        return answer

    def _rate_limited(self) -> int | None:
        """None if the request may go ahead, else the whole seconds (rounded up) until the
        customer's bucket holds a token again: its ``Retry-After``."""
        with self.lock:
            if self._rate is None:
                return None
            per_second, burst = self._rate
            retry_after = take_token(
                self._bucket, "customer", per_second=per_second, burst=burst, now=time.monotonic()
            )
            if retry_after is not None:
                self.rate_limited_count += 1
            return retry_after

    def set_rate_limit(self, per_second: float | None = 16.7, burst: int = 33) -> None:
        """The account's limit on ``/v1.0``: ``burst`` requests at once, then ``per_second``
        (over it: 429 ``RATE_LIMIT_EXCEEDED`` with ``Retry-After``, as VoIPbin answers).
        ``per_second=None`` removes it; by default it is VoIPbin's own (``CUSTOMER_RATE_LIMIT``)."""
        if per_second is not None and (per_second <= 0 or burst < 1):
            raise ValueError(f"bad rate limit: {per_second}/s, burst {burst}")
        with self.lock:
            self._rate = None if per_second is None else (per_second, burst)
            self._bucket.clear()

    @staticmethod
    def _route(request: Request) -> str | None:
        if not request.path.startswith("/v1.0/"):
            return None
        rest = request.path[len("/v1.0") :]
        if re.fullmatch(r"/messages/[^/]+", rest):
            rest = "/messages/{id}"
        route = f"{request.method} {rest}"
        return route if route in ROUTES else None

    def _authenticate(self, request: Request) -> Answer | None:
        refused = refused_credentials(request.headers, request.query, self.accesskey)
        return None if refused is None else self._error(401, *refused)

    def _serve(self, route: str, request: Request) -> Answer:
        """The real answer of a route (state changes included)."""
        if route == "POST /messages":
            return self._send(request)
        if route == "GET /messages":
            with self.lock:
                items = list(self._messages.values())
            return self._page(request, items)
        if route in ("GET /messages/{id}", "DELETE /messages/{id}"):
            return self._one(request.method, request.path.rsplit("/", 1)[1])
        if route == "GET /numbers":
            with self.lock:
                items = [n for n in self._numbers.values() if n["tm_delete"] is None]
            return self._page(request, [n for n in items if n["status"] != "deleted"])
        if route == "GET /customer":
            return Answer(200, self.customer)
        return self._put_customer(request)

    def _send(self, request: Request) -> Answer:
        try:
            if not request.body:
                raise _Unbindable("empty body")
            body = request.json()
            if body is not None and not isinstance(body, dict):
                raise _Unbindable("the body must be an object")
            body = body or {}
            source = _address(body.get("source"))
            destinations = body.get("destinations")
            if not isinstance(destinations, list | None):
                raise _Unbindable("destinations must be a list")
            addresses = [_address(d) for d in destinations or []]
            text = body.get("text")
            if not isinstance(text, str | None):
                raise _Unbindable("text must be a string")
        except (ValueError, UnicodeDecodeError):
            return self._error(400, "INVALID_JSON_BODY", "The request body is not valid JSON.")
        if not addresses:
            return self._error(400, "INVALID_ARGUMENT", "The destinations must not be empty.")
        with self.lock:
            # send.go: the identity gate, then the balance check (one per target), each a
            # plain error that reaches the client as 500 INTERNAL.
            if self._customer["identity_verification_status"] != "verified":
                return self._error(500, "INTERNAL", "An internal error occurred.")
            if self.balance is not None:
                if self.balance < len(addresses):
                    return self._error(500, "INTERNAL", "An internal error occurred.")
                self.balance -= len(addresses)
            message = self._store(
                "outbound", source, addresses, text or "", status="queued", parts=0
            )
            dispatched = self._dispatch(message["id"])
        created = self.deliver("message_created", message)
        if created is not None and self.created_before_answer:
            self.wait_for(lambda _: created.done, timeout=60)
        if dispatched is not None:
            self.deliver("message_updated", dispatched)
        return Answer(200, message)

    def _dispatch(self, message_id: str) -> dict[str, Any] | None:
        """send.go's provider loop (call with the lock held); returns the updated message
        (the ``data`` of its ``message_updated``), or None when nothing happened."""
        mode = self.dispatch
        if mode is None or mode == "none":
            return None
        provider = self.random.choice(["messagebird", "telnyx"]) if mode == "random" else mode
        message = self._messages[message_id]
        if provider == "messagebird":
            # models/messagebird/recipient.go ConvertTartget: type, "+" + the recipient's
            # digits, MessageBird's status verbatim, its part count; nothing else.
            parts = count_segments(message["text"]).segments
            message["targets"] = [
                {
                    "destination": {"type": "tel", "target": t["destination"].get("target", "")},
                    "status": "sent",
                    "parts": parts,
                    "tm_update": None,
                }
                for t in message["targets"]
            ]
        self._providers[message_id] = provider
        message["tm_update"] = rfc3339(self._now())
        self.lock.notify_all()
        return copy.deepcopy(message)

    def _store(
        self,
        direction: str,
        source: dict[str, str],
        destinations: list[dict[str, str]],
        text: str,
        *,
        status: str,
        parts: int,
    ) -> dict[str, Any]:
        """Create a message (call with the lock held); returns a copy."""
        created = self._now()
        message: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "customer_id": self.customer_id,
            "type": "sms",
            "source": source,
            "targets": [
                {"destination": d, "status": status, "parts": parts, "tm_update": None}
                for d in destinations
            ],
            "text": text,
            "direction": direction,
            "tm_create": rfc3339(created),
            "tm_update": None,
            "tm_delete": None,
        }
        self._messages[message["id"]] = message
        self._created[message["id"]] = created
        self.lock.notify_all()
        return copy.deepcopy(message)

    def _one(self, method: str, raw_id: str) -> Answer:
        try:
            message_id = str(uuid.UUID(raw_id))
        except ValueError:
            return self._error(400, "INVALID_ID", "The id is not a valid UUID.")
        with self.lock:
            message = self._messages.get(message_id)
            if message is None:
                return self._error(404, "MESSAGE_NOT_FOUND", "The message was not found.")
            if method == "DELETE":  # no check for "already deleted" (§2.3)
                message["tm_delete"] = message["tm_update"] = rfc3339(self._now())
                self.lock.notify_all()
            elif message["tm_delete"] is not None:
                return self._error(404, "RESOURCE_NOT_FOUND", "The resource was not found.")
            return Answer(200, copy.deepcopy(message))

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Answer:
        """§2.2: newest first, ``tm_create < page_token``, ``page_size`` 1..100 (else 100),
        ``next_page_token`` = the last item's ``tm_create`` in six-digit form, or ``""``."""
        raw_size = request.query.get("page_size", "")
        size = 100
        if raw_size:
            if not re.fullmatch(r"[+-]?\d+", raw_size):
                return self._error(
                    400, "INVALID_REQUEST_PARAMETER", "The page_size is not an integer."
                )
            size = int(raw_size)
        if not 0 < size <= 100:
            size = 100
        token = request.query.get("page_token", "")
        cursor = _parse_time(token) if token else None
        if token and cursor is None:  # the database finds nothing before a garbage cursor
            return Answer(200, {"result": [], "next_page_token": ""})
        with self.lock:
            dated = [(self._created[i["id"]], i) for i in items]
            older = [(at, i) for at, i in dated if cursor is None or at < cursor]
            older.sort(key=lambda pair: pair[0], reverse=True)
            page = older[:size]
            result = [copy.deepcopy(i) for _, i in page]
        next_token = page_token(page[-1][0]) if page else ""
        return Answer(200, {"result": result, "next_page_token": next_token})

    def _put_customer(self, request: Request) -> Answer:
        """§4.1: all seven fields are overwritten; an omitted one becomes ``""``."""
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise _Unbindable("the body must be an object")
            values = {name: body.get(name) for name in _CUSTOMER_FIELDS}
            if not all(isinstance(v, str | None) for v in values.values()):
                raise _Unbindable("the fields are strings")
        except (ValueError, UnicodeDecodeError):
            return self._error(400, "INVALID_JSON_BODY", "The request body is not valid JSON.")
        with self.lock:
            self._customer.update({name: value or "" for name, value in values.items()})
            self._customer["tm_update"] = rfc3339(self._now())
            return Answer(200, copy.deepcopy(self._customer))

    def _now(self) -> datetime:
        """The current time, strictly increasing (the list cursor relies on it)."""
        now = max(datetime.now(UTC), self._last + timedelta(microseconds=1))
        self._last = now
        return now

    @staticmethod
    def _request_id() -> str:
        return f"req_{uuid.uuid4().hex[:26].upper()}"

    @staticmethod
    def _error(
        status: int,
        reason: str | None = None,
        message: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> Answer:
        """VoIPbin's error envelope; ``handle`` fills in the request id."""
        kind, default_reason, default_message = _ENVELOPES.get(
            status, ("INTERNAL", "INTERNAL", "An error occurred.")
        )
        error: dict[str, Any] = {
            "status": kind,
            "reason": reason or default_reason,
            "message": message or default_message,
            "request_id": "",
        }
        if details:
            error["details"] = details
        return Answer(status, {"error": error})

    def _fault(self, fault: Fault) -> Answer:
        if fault.mode == "reset":
            return Answer(0, None, reset=True)
        if fault.mode == "malformed":
            return Answer(200, None, raw=b"<html><body><h1>502 Bad Gateway</h1></body></html>")
        if fault.body is not None:
            return Answer(fault.status, fault.body, dict(fault.headers))
        if fault.status == 429:
            answer = self._error(429, details=[{"limited_by": "customer"}])
            answer.headers["Retry-After"] = "1"
        else:
            answer = self._error(fault.status)
        answer.headers.update(fault.headers)
        return answer

    def _control(self, request: Request) -> Answer:
        """``GET /_fake/requests``, ``GET /_fake/messages[?direction=]``, ``GET /_fake/stats``
        (sends stored, requests answered 429), and POSTs of JSON to ``/_fake/fail_next``
        (``{"route": ..., **kwargs}``), ``/_fake/inbound`` (``{"source","our_number","text"}``),
        ``/_fake/set_status`` (``{"message_id","status","parts"?}``) and ``/_fake/rate_limit``
        (``{"per_second": 16.7 or null, "burst": 33}``)."""
        if request.method == "GET" and request.path == "/_fake/stats":
            with self.lock:
                sends = len(self._sends)
                return Answer(200, {"sends": sends, "rate_limited": self.rate_limited_count})
        if request.method == "GET" and request.path == "/_fake/requests":
            return Answer(200, {"requests": [asdict(r) for r in self.requests]})
        if request.method == "GET" and request.path == "/_fake/messages":
            direction = request.query.get("direction") or None
            return Answer(200, {"messages": self.messages(direction)})
        actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "/_fake/fail_next": lambda spec: self.fail_next(spec.pop("route"), **spec),
            "/_fake/inbound": lambda spec: self.inbound(**spec),
            "/_fake/set_status": lambda spec: self.set_status(**spec),
            "/_fake/rate_limit": lambda spec: self.set_rate_limit(**spec),
        }
        action = actions.get(request.path)
        if request.method != "POST" or action is None:
            return self._error(404, "ROUTE_NOT_FOUND", "No such control route.")
        try:
            result = action(dict(request.json() or {}))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            return self._error(400, "INVALID_ARGUMENT", f"Bad control request: {exc!r}")
        return Answer(200, result if result is not None else {"ok": True})


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.fakes.voipbin``: serve until SIGTERM or SIGINT; print the URL first."""
    parser = argparse.ArgumentParser(description="A fake VoIPbin API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accesskey", default="vb_test_key")
    parser.add_argument("--webhook-secret", default="test-secret")
    parser.add_argument("--number", action="append", default=[], help="an owned number")
    parser.add_argument(
        "--dispatch", choices=sorted(DISPATCH_MODES), help="what happens to a send after it"
    )
    args = parser.parse_args(argv)
    fake = FakeVoipbin(port=args.port, accesskey=args.accesskey, webhook_secret=args.webhook_secret)
    fake.dispatch = args.dispatch
    for number in args.number:
        fake.add_number(number)
    fake.start()
    print(fake.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
