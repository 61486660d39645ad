"""FakeVoipbin, driven over real HTTP with httpx, against the reference's description of
VoIPbin's behaviour (shared/reference/voipbin-api.md)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.fakes.voipbin import FakeVoipbin, page_token, rfc3339

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
