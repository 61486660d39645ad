"""FakeVoipbin, driven over real HTTP with httpx, against the reference's description of
VoIPbin's behaviour (shared/reference/voipbin-api.md)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import httpx
import pytest

from bot.fakes.voipbin import FakeVoipbin, page_token, rfc3339
from bot.fakes.voipbin_ws import FakeVoipbinWs

KEY = "vb_test_key"
OURS = {"type": "tel", "target": "+15551234567"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
TOKEN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def voipbin() -> Iterator[FakeVoipbin]:
    with FakeVoipbin() as fake:
        yield fake


@pytest.fixture
def api(voipbin: FakeVoipbin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=voipbin.url, params={"accesskey": KEY}, trust_env=False) as c:
        yield c


def send(api: httpx.Client, text: str, to: str = "+15559876543") -> dict[str, Any]:
    body = {"source": OURS, "destinations": [{"type": "tel", "target": to}], "text": text}
    response = api.post("/messages", json=body)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message


def assert_error(response: httpx.Response, status: int, kind: str, reason: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["status"], error["reason"]) == (kind, reason)
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-Id"]


def test_webhook_signature_test_vector() -> None:
    body = b'{"type":"message_created","data":{"id":"a5d2114a-8e84-48cd-8bb2-c406eeb08cd1"}}'
    assert FakeVoipbin(webhook_secret="test-secret").sign(body) == (
        "sha256=ce5545b1e75f55f749921439b79055954f56a8a57961a412c5577ca3dc194596"
    )
    assert FakeVoipbin.event("message_created", {"id": "a5d2114a-8e84-48cd-8bb2-c406eeb08cd1"}) == (
        body
    )
    # Go's encoder: UTF-8 kept, HTML characters escaped.
    assert FakeVoipbin.event("x", {"text": "é <b> & ü"}) == (
        '{"type":"x","data":{"text":"é \\u003cb\\u003e \\u0026 ü"}}'.encode()
    )


def test_timestamps_are_gos() -> None:
    moment = datetime(2026, 8, 20, 10, 30, 0, 123450, tzinfo=UTC)
    assert rfc3339(moment) == "2026-08-20T10:30:00.12345Z"
    assert rfc3339(moment.replace(microsecond=0)) == "2026-08-20T10:30:00Z"
    assert page_token(moment) == "2026-08-20T10:30:00.123450Z"


def test_the_access_key_goes_in_the_query_string(voipbin: FakeVoipbin) -> None:
    with httpx.Client(base_url=voipbin.url, trust_env=False) as bare:
        assert_error(bare.get("/messages"), 401, "UNAUTHENTICATED", "AUTHENTICATION_REQUIRED")
        wrong = bare.get("/messages", params={"accesskey": "vb_wrong"})
        assert_error(wrong, 401, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
        # A Bearer header is read as a JWT, and first: the right key beside it does not help.
        jwt = bare.get(
            "/messages", params={"accesskey": KEY}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert_error(jwt, 401, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
        echoed = bare.get("/messages", headers={"X-Request-Id": "req-from-client-1"})
        assert echoed.headers["X-Request-Id"] == "req-from-client-1"
        assert_error(bare.get("/nowhere"), 404, "NOT_FOUND", "ROUTE_NOT_FOUND")
    assert all("accesskey" not in r.query for r in voipbin.requests)
    assert [r.answered_status for r in voipbin.requests] == [401, 401, 401, 401, 404]


def test_send_stores_the_message_as_voipbin_does(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    body = {
        "source": {"type": "tel", "target": " +1 (555) 123-4567 ", "name": ""},
        "destinations": [{"type": "tel", "target": "+1 555 987-6543"}],
        "text": "Hello from Slack",
        "unknown": "ignored",
    }
    response = api.post("/messages", json=body)
    assert response.status_code == 200
    message = response.json()
    assert list(message) == [
        "id",
        "customer_id",
        "type",
        "source",
        "targets",
        "text",
        "direction",
        "tm_create",
        "tm_update",
        "tm_delete",
    ]
    assert uuid.UUID(message["id"]).version == 4
    assert message["customer_id"] == voipbin.customer_id
    assert (message["type"], message["direction"]) == ("sms", "outbound")
    assert message["source"] == {"type": "tel", "target": "+15551234567"}  # "name" omitted
    assert message["targets"] == [
        {
            "destination": {"type": "tel", "target": "+15559876543"},
            "status": "queued",
            "parts": 0,
            "tm_update": None,
        }
    ]
    assert STAMP.match(message["tm_create"])
    assert (message["tm_update"], message["tm_delete"]) == (None, None)

    assert voipbin.sends() == [body]
    assert voipbin.messages() == [message] == [voipbin.get_message(message["id"])]
    (request,) = voipbin.requests
    assert (request.method, request.path, request.query) == ("POST", "/v1.0/messages", {})
    assert (request.json, request.answered_status) == (body, 200)


def test_send_errors(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    garbled = api.post("/messages", content=b"{not json", headers={"content-type": "text/json"})
    assert_error(garbled, 400, "INVALID_ARGUMENT", "INVALID_JSON_BODY")
    nobody = api.post("/messages", json={"source": OURS, "destinations": [], "text": "x"})
    assert_error(nobody, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert voipbin.sends() == [] and voipbin.messages() == []


def test_list_pages_newest_first_with_a_tm_create_cursor(
    voipbin: FakeVoipbin, api: httpx.Client
) -> None:
    sent = [send(api, f"sms {n}") for n in range(5)]
    pages: list[list[str]] = []
    token = ""
    while True:
        params = {"page_size": "2"} | ({"page_token": token} if token else {})
        page = api.get("/messages", params=params).json()
        pages.append([m["text"] for m in page["result"]])
        if not page["result"]:
            assert page["next_page_token"] == ""
            break
        assert TOKEN.match(page["next_page_token"])  # fixed six digits, even on the last page
        token = page["next_page_token"]
    assert pages == [["sms 4", "sms 3"], ["sms 2", "sms 1"], ["sms 0"], []]

    everything = api.get("/messages", params={"page_size": "0"}).json()["result"]  # 0 -> 100
    assert [m["id"] for m in everything] == [m["id"] for m in reversed(sent)]
    oversized = api.get("/messages", params={"page_size": "500"}).json()["result"]
    assert len(oversized) == 5
    bad = api.get("/messages", params={"page_size": "two"})
    assert_error(bad, 400, "INVALID_ARGUMENT", "INVALID_REQUEST_PARAMETER")


def test_get_and_delete_by_id(api: httpx.Client) -> None:
    message = send(api, "to delete")
    assert api.get(f"/messages/{message['id']}").json() == message
    assert_error(api.get("/messages/not-a-uuid"), 400, "INVALID_ARGUMENT", "INVALID_ID")
    unknown = api.get(f"/messages/{uuid.uuid4()}")
    assert_error(unknown, 404, "NOT_FOUND", "MESSAGE_NOT_FOUND")

    deleted = api.delete(f"/messages/{message['id']}").json()
    assert deleted["tm_delete"] is not None and deleted["tm_update"] == deleted["tm_delete"]
    gone = api.get(f"/messages/{message['id']}")
    assert_error(gone, 404, "NOT_FOUND", "RESOURCE_NOT_FOUND")
    listed = api.get("/messages").json()["result"]
    assert [m["tm_delete"] for m in listed] == [deleted["tm_delete"]]  # still listed


def test_status_faults_use_the_envelope(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    voipbin.fail_next("POST /messages")
    assert_error(api.post("/messages", json={}), 500, "INTERNAL", "INTERNAL")
    voipbin.fail_next("GET /messages", status=503)
    assert_error(api.get("/messages"), 503, "UNAVAILABLE", "SERVICE_UNAVAILABLE")
    voipbin.fail_next("GET /messages/{id}", status=429)
    limited = api.get(f"/messages/{uuid.uuid4()}")
    assert_error(limited, 429, "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED")
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["details"] == [{"limited_by": "customer"}]
    with pytest.raises(ValueError, match="unknown route"):
        voipbin.fail_next("POST /message")


def test_the_customer_is_rate_limited_as_voipbin_limits_it(
    voipbin: FakeVoipbin, api: httpx.Client
) -> None:
    # VoIPbin: 16.7 requests a second per customer, burst 33 (reference §6.2); a refused
    # request is not carried out, and the refusal is not charged to the bucket.
    answers = [api.post("/messages", json=json.loads(json.dumps(_BODY))) for _ in range(40)]
    codes = [a.status_code for a in answers]
    assert codes[:33] == [200] * 33, codes
    limited = answers[codes.index(429)]
    assert_error(limited, 429, "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED")
    assert limited.json()["error"]["details"] == [{"limited_by": "customer"}]
    assert int(limited.headers["Retry-After"]) >= 1
    assert len(voipbin.sends()) == codes.count(200) < 40
    time.sleep(0.5)  # the bucket refills at 16.7/s: ~8 more go through, then 429 again
    again = [api.get("/numbers").status_code for _ in range(60)]
    assert again[0] == 200 and 429 in again, again
    # The unauthenticated are refused before the customer's limit is counted (§1.1).
    assert httpx.get(f"{voipbin.url}/numbers", trust_env=False).status_code == 401
    voipbin.set_rate_limit(None)
    assert all(api.get("/numbers").status_code == 200 for _ in range(50))
    with pytest.raises(ValueError, match="bad rate limit"):
        voipbin.set_rate_limit(0)


_BODY = {"source": OURS, "destinations": [{"type": "tel", "target": "+15559876543"}], "text": "x"}


def test_created_then_500(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    voipbin.fail_next("POST /messages", status=500, create_first=True)
    body = {"source": OURS, "destinations": [{"type": "tel", "target": "+1555"}], "text": "hi"}
    assert api.post("/messages", json=body).status_code == 500
    assert [m["text"] for m in voipbin.messages()] == ["hi"]  # VoIPbin has it
    assert voipbin.sends() == []  # but nobody was told


def test_reset_and_malformed(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    voipbin.fail_next("POST /messages", mode="reset")
    with pytest.raises(httpx.TransportError):
        send(api, "lost")
    assert voipbin.requests[-1].answered_status == 0
    assert voipbin.messages() == []

    voipbin.fail_next("GET /messages", mode="malformed")
    garbage = api.get("/messages")
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbage.json()


def test_hang_outlasts_the_client_timeout_then_creates(voipbin: FakeVoipbin) -> None:
    voipbin.fail_next("POST /messages", mode="hang", delay=0.4)
    body = {"source": OURS, "destinations": [OURS], "text": "slow"}
    with (
        httpx.Client(base_url=voipbin.url, params={"accesskey": KEY}, trust_env=False) as api,
        pytest.raises(httpx.TimeoutException),
    ):
        api.post("/messages", json=body, timeout=0.1)
    voipbin.wait_for(lambda v: len(v.messages()) == 1 and len(v.requests) == 1, timeout=3)
    # The late answer then meets a closed socket; let that happen inside this test so the
    # server's "broken pipe" report lands in this test's captured output.
    time.sleep(0.1)


def test_numbers_customer_and_test_side_helpers(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    first = voipbin.add_number("+15551234567")
    voipbin.add_number("+15550000000", status="deleted")
    second = voipbin.add_number("+899123456", type="virtual")
    page = api.get("/numbers", params={"page_size": "1"}).json()
    assert [n["id"] for n in page["result"]] == [second["id"]]
    rest = api.get("/numbers", params={"page_token": page["next_page_token"]}).json()
    assert [n["number"] for n in rest["result"]] == ["+15551234567"]
    assert rest["result"][0] == first

    customer = api.get("/customer").json()
    assert customer["webhook_secret"] == "test-secret" and customer["name"] == "Fake customer"
    put = {"webhook_method": "POST", "webhook_uri": "https://bridge.example/voipbin/webhook"}
    updated = api.put("/customer", json=put).json()
    assert updated["webhook_uri"] == put["webhook_uri"]
    assert updated["name"] == updated["email"] == ""  # every omitted field is overwritten
    assert voipbin.customer == updated

    inbound = voipbin.inbound("+15559876543", "+15551234567", "Hi there")
    assert inbound["direction"] == "inbound"
    assert inbound["targets"][0]["status"] == "received" and inbound["targets"][0]["parts"] == 1
    assert voipbin.messages("inbound") == [inbound] and voipbin.messages() == []

    sent = send(api, "status me")
    updated_message = voipbin.set_status(sent["id"], "sent")
    assert updated_message["targets"][0]["status"] == "sent"
    assert updated_message["targets"][0]["parts"] == 1
    assert updated_message["tm_update"] is not None
    assert api.get(f"/messages/{sent['id']}").json() == updated_message


def test_wait_for_times_out_with_a_summary(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    api.get("/customer")
    with pytest.raises(AssertionError, match=r"GET /v1\.0/customer -> 200"):
        voipbin.wait_for(lambda v: len(v.sends()) == 1, timeout=0.1)


def test_standalone_process_with_its_control_api() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.fakes.voipbin",
            "--port",
            "0",
            "--accesskey",
            "vb_other",
            "--webhook-secret",
            "s3cret",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1\.0", url)
        base = url.removesuffix("/v1.0")
        with httpx.Client(trust_env=False, timeout=5) as http:
            scripted = http.post(
                f"{base}/_fake/fail_next", json={"route": "GET /customer", "status": 503}
            )
            assert scripted.status_code == 200
            assert http.get(f"{url}/customer", params={"accesskey": "vb_other"}).status_code == 503
            customer = http.get(f"{url}/customer", params={"accesskey": "vb_other"}).json()
            assert customer["webhook_secret"] == "s3cret"
            requests = http.get(f"{base}/_fake/requests").json()["requests"]
        assert [(r["path"], r["answered_status"], r["query"]) for r in requests] == [
            ("/v1.0/customer", 503, {}),
            ("/v1.0/customer", 200, {}),
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0


# -- what happens after a send: the providers (voipbin/monorepo bin-message-manager) --------


def test_a_send_is_stored_queued_then_dispatched_as_the_provider_leaves_it(
    voipbin: FakeVoipbin, api: httpx.Client
) -> None:
    # pkg/messagehandler/send.go: stored with every target queued, parts 0, tm_update null;
    # then the provider loop. MessageBird rebuilds the targets from its answer
    # (models/messagebird/recipient.go: status verbatim, messagePartCount); Telnyx returns
    # them unchanged (pkg/messagehandler/provider_telnyx.go); either way db.go
    # dbUpdateTargets stamps tm_update (pkg/dbhandler/message.go MessageUpdate).
    seen: dict[str, dict[str, Any]] = {}
    for mode in ("messagebird", "telnyx", "none"):
        voipbin.dispatch = mode
        answer = send(api, f"via {mode} " + "x" * 170)  # two GSM-7 parts
        assert answer["targets"][0] | {"destination": None} == {
            "destination": None,
            "status": "queued",
            "parts": 0,
            "tm_update": None,
        }
        assert answer["tm_update"] is None
        seen[mode] = api.get(f"/messages/{answer['id']}").json()
        assert voipbin.provider_of(answer["id"]) == (None if mode == "none" else mode)
    bird, telnyx, failed = seen["messagebird"], seen["telnyx"], seen["none"]
    assert [(t["status"], t["parts"], t["tm_update"]) for t in bird["targets"]] == [
        ("sent", 2, None)
    ]
    assert bird["targets"][0]["destination"] == {"type": "tel", "target": "+15559876543"}
    assert STAMP.match(bird["tm_update"]) and bird["tm_update"] > bird["tm_create"]
    assert [(t["status"], t["parts"]) for t in telnyx["targets"]] == [("queued", 0)]
    assert STAMP.match(telnyx["tm_update"])
    # every provider failed: nothing more happens, ever
    assert [(t["status"], t["parts"]) for t in failed["targets"]] == [("queued", 0)]
    assert failed["tm_update"] is None
    with pytest.raises(ValueError, match="unknown dispatch"):
        voipbin.dispatch = "twilio"


def test_random_dispatch_picks_either_provider(voipbin: FakeVoipbin, api: httpx.Client) -> None:
    # send.go ranges over a Go map of the two providers: the order is random.
    voipbin.dispatch = "random"
    voipbin.random.seed(7)
    sent = [send(api, f"sms {n}")["id"] for n in range(16)]
    providers = {voipbin.provider_of(i) for i in sent}
    assert providers == {"messagebird", "telnyx"}
    for message_id in sent:
        status = voipbin.get_message(message_id)["targets"][0]["status"]
        assert status == ("sent" if voipbin.provider_of(message_id) == "messagebird" else "queued")


def test_refusals_are_500_internal_and_store_nothing(
    voipbin: FakeVoipbin, api: httpx.Client
) -> None:
    # send.go: the identity gate, then the balance check per target, both plain errors, which
    # pkg/listenhandler/main.go answers 500 and bin-api-manager/server/error_translate.go
    # turns into INTERNAL.
    body = {"source": OURS, "destinations": [{"type": "tel", "target": "+1555"}], "text": "x"}
    voipbin.set_identity("pending")
    assert_error(api.post("/messages", json=body), 500, "INTERNAL", "INTERNAL")
    voipbin.set_identity("verified")
    voipbin.balance = 1
    assert api.post("/messages", json=body).status_code == 200
    assert_error(api.post("/messages", json=body), 500, "INTERNAL", "INTERNAL")
    assert len(voipbin.messages()) == 1 and voipbin.balance == 0


# -- webhooks as bin-webhook-manager/pkg/webhookhandler/message.go sends them ---------------


class Receiver:
    """A webhook receiver on 127.0.0.1 that records each request's raw header names and body
    and answers the scripted statuses in turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None, *, delay: float = 0.0) -> None:
        """``delay``: how long each answer takes (the request is recorded after it)."""
        self.statuses = list(statuses or [])
        self.delay = delay
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(receiver.delay)
                receiver.requests.append((self.command, list(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/voipbin/webhook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def test_webhooks_carry_the_event_and_gos_signature_header(
    voipbin: FakeVoipbin, api: httpx.Client, receiver: Receiver
) -> None:
    voipbin.retry_delay = 0.01
    voipbin.set_webhook(receiver.url)
    voipbin.dispatch = "telnyx"
    sent = send(api, "hello <b> & you")
    voipbin.wait_for(lambda v: len(v.deliveries()) == 2 and all(d.done for d in v.deliveries()))
    assert [(d.type, d.message_id, d.attempts) for d in voipbin.deliveries()] == [
        ("message_created", sent["id"], [200]),
        ("message_updated", sent["id"], [200]),
    ]
    (method, headers, created), (_, _, updated) = receiver.requests
    names = [name for name, _ in headers]
    # Header.Set("X-VoIPBIN-Signature", ...) puts the canonical MIME form on the wire
    assert "X-Voipbin-Signature" in names and "X-VoIPBIN-Signature" not in names
    values = dict(headers)
    assert values["X-Voipbin-Signature"] == voipbin.sign(created)
    assert values["Content-Type"] == "application/json"
    assert values["User-Agent"] == "Go-http-client/1.1"
    assert method == "POST"
    assert created == FakeVoipbin.event("message_created", sent)
    assert json.loads(updated) == {
        "type": "message_updated",
        "data": voipbin.get_message(sent["id"]),
    }
    assert json.loads(updated)["data"]["targets"][0]["status"] == "queued"


@pytest.mark.parametrize(
    ("answers", "attempts"),
    [
        ([500, 502, 200], [500, 502, 200]),  # retried after a status >= 500
        ([503, 503, 503, 503], [503, 503, 503]),  # at most 3 attempts
        ([404], [404]),  # any 1xx-4xx counts as delivered
        ([400], [400]),
        ([302], [302]),
    ],
)
def test_webhooks_are_retried_only_after_a_server_error(
    voipbin: FakeVoipbin, answers: list[int], attempts: list[int]
) -> None:
    receiver = Receiver(answers)
    try:
        voipbin.retry_delay = 0.01
        voipbin.set_webhook(receiver.url)
        voipbin.deliver("message_created", voipbin.inbound("+15559876543", OURS["target"], "hi"))
        voipbin.wait_for(lambda v: v.deliveries()[0].done)
        assert voipbin.deliveries()[0].attempts == attempts
        assert len(receiver.requests) == len(attempts)
    finally:
        receiver.close()


def test_webhooks_are_retried_after_a_transport_error_and_go_to_loopback_only(
    voipbin: FakeVoipbin,
) -> None:
    voipbin.retry_delay = 0.01
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there now
    voipbin.set_webhook(url)
    voipbin.deliver("message_created", {"id": "a"})
    voipbin.set_webhook("https://bridge.example/voipbin/webhook")
    voipbin.deliver("message_created", {"id": "b"})
    voipbin.set_webhook("")
    assert voipbin.deliver("message_created", {"id": "c"}) is None  # no webhook: none sent
    voipbin.wait_for(lambda v: all(d.done for d in v.deliveries()))
    assert [(d.message_id, d.attempts) for d in voipbin.deliveries()] == [
        ("a", [0, 0, 0]),
        ("b", []),  # this fake never sends traffic off the machine
    ]


def test_message_created_can_arrive_before_the_send_is_answered(voipbin: FakeVoipbin) -> None:
    # db.go dbCreate publishes message_created before send.go returns the message.
    receiver = Receiver(delay=0.3)  # a slow receiver: the POST's answer waits for it
    try:
        voipbin.set_webhook(receiver.url)
        voipbin.created_before_answer = True
        with httpx.Client(base_url=voipbin.url, params={"accesskey": KEY}, trust_env=False) as api:
            sent = send(api, "early")
        assert [json.loads(body)["data"]["id"] for _, _, body in receiver.requests] == [sent["id"]]
    finally:
        receiver.close()


# -- the WebSocket: every message event on two topics ---------------------------------------


async def test_a_message_subscriber_gets_each_event_twice(voipbin: FakeVoipbin) -> None:
    # bin-api-manager/pkg/subscribehandler/webhookmanager.go createTopics publishes a message
    # event on customer_id:<c>:message:<id> and customer_id:<c>:message:<type>:<id>; topics
    # match by prefix, so a customer_id:<c>:message subscriber hears both (reference §4.6).
    async with (
        FakeVoipbinWs(accesskey=KEY, customer_id=voipbin.customer_id) as ws_fake,
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_fake.url, params={"accesskey": KEY}) as ws,
    ):
        await ws.send_json({"type": "subscribe", "topics": [ws_fake.message_topic()]})
        await ws_fake.wait_subscribed()
        sms = voipbin.inbound("+15559876543", OURS["target"], "twice")
        assert await ws_fake.push_message(sms) == 1  # one connection, two frames
        frames = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
        assert frames == [sms, sms]
        # one message's own topic under the new format matches the second copy only
        topic = f"customer_id:{voipbin.customer_id}:message:message_updated:"
        assert ws_fake.event_topics("message_updated", "m1") == [
            f"customer_id:{voipbin.customer_id}:message:m1",
            topic + "m1",
        ]
