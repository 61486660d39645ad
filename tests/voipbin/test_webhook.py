from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bridge.ports import InboundSms, StatusReport
from bot.voipbin.webhook import WebhookError, _parse_slowly, parse_event, sign, signature_valid

VECTOR_BODY = b'{"type":"message_created","data":{"id":"a5d2114a-8e84-48cd-8bb2-c406eeb08cd1"}}'
VECTOR_SIG = "sha256=ce5545b1e75f55f749921439b79055954f56a8a57961a412c5577ca3dc194596"


def test_signature_matches_the_reference_test_vector() -> None:
    assert sign("test-secret", VECTOR_BODY) == VECTOR_SIG
    assert signature_valid("test-secret", VECTOR_BODY, VECTOR_SIG)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", VECTOR_SIG.replace("c", "d"), VECTOR_SIG[7:], "sha1=" + VECTOR_SIG[7:]],
)
def test_wrong_or_missing_signatures_are_refused(header: str | None) -> None:
    assert not signature_valid("test-secret", VECTOR_BODY, header)


def test_a_changed_body_fails_the_signature() -> None:
    assert not signature_valid("test-secret", VECTOR_BODY + b" ", VECTOR_SIG)


def test_an_uppercase_hex_signature_is_accepted() -> None:
    assert signature_valid("test-secret", VECTOR_BODY, "sha256=" + VECTOR_SIG[7:].upper())


def test_parse_inbound_message_with_absent_fields_and_nulls() -> None:
    body = json.dumps(
        {
            "type": "message_created",
            "data": {
                "id": "1fe68e20-f12f-11ec-84fe-03665484eeb6",
                "type": "sms",
                "source": {"type": "tel", "target": "+15559876543"},
                "targets": [
                    {
                        "destination": {"type": "tel", "target": "+15551234567"},
                        "status": "received",
                        "parts": 1,
                        "tm_update": None,
                    }
                ],
                "text": "Hi",
                "direction": "inbound",
                "tm_create": "2026-08-20T10:31:02.50213Z",
                "tm_update": None,
                "tm_delete": "9999-01-01 00:00:00.000000",
            },
        }
    ).encode()
    event = parse_event(body)
    assert event.message is not None
    assert event.message.our_number_inbound == "+15551234567"
    assert event.message.source.name == ""
    assert event.message.tm_create is not None and event.message.tm_create.microsecond == 502130
    assert event.message.tm_delete is None


def test_legacy_timestamps_and_unknown_statuses_are_accepted() -> None:
    body = (
        b'{"type":"message_updated","data":{"id":"x1","direction":"outbound",'
        b'"targets":[{"destination":{"target":"+1"},"status":"buffered"}],'
        b'"tm_create":"2022-03-13 15:11:05.235717"}}'
    )
    event = parse_event(body)
    assert event.message is not None and event.message.status == "buffered"


def _delivery(kind: str, direction: str, *, status: str = "", updated: bool = False) -> object:
    ours, theirs = {"target": "+31201234567"}, {"target": "+31612345678"}
    data = {
        "id": "m1",
        "direction": direction,
        "source": theirs if direction == "inbound" else ours,
        "targets": [{"destination": ours if direction == "inbound" else theirs, "status": status}],
        "text": "Hi",
        "tm_update": "2026-08-20T10:31:03Z" if updated else None,
    }
    return parse_event(json.dumps({"type": kind, "data": data}).encode()).delivery()


def test_deliveries_become_the_bridges_own_facts() -> None:
    """The bridge is handed InboundSms and StatusReport, never VoIPbin's message."""
    assert _delivery("message_created", "inbound") == InboundSms(
        sms_id="m1", our_number="+31201234567", sender="+31612345678", text="Hi"
    )
    assert _delivery("message_created", "outbound", status="queued") == StatusReport(
        sms_id="m1", status="queued", dispatched=False
    )
    # an update is sent only once a provider took the SMS; tm_update says so on its own
    assert _delivery("message_updated", "outbound", status="queued") == StatusReport(
        sms_id="m1", status="queued", dispatched=True
    )
    assert _delivery("message_created", "outbound", status="sent", updated=True) == (
        StatusReport(sms_id="m1", status="sent", dispatched=True)
    )
    assert _delivery("message_deleted", "outbound", status="sent") is None
    assert _delivery("message_updated", "inbound", status="received") is None
    assert parse_event(b'{"type":"call_created","data":{"anything":1}}').delivery() is None


def test_other_event_types_parse_without_a_message() -> None:
    assert parse_event(b'{"type":"call_created","data":{"anything":1}}').message is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"data":{}}',
        b'{"type":1}',
        b'{"type":"message_created"}',
        b'{"type":"message_created","data":[]}',
        b'{"type":"message_created","data":{"id":""}}',
        b'{"type":"message_created","data":{"id":"x","tm_create":"yesterday"}}',
        b"\xff\xfe",
        b'{"type":"message_created","data":{"id":"x","direction":"inbound","targets":[]}}',
        b'{"type":"message_created","data":{"id":"x","direction":"inbound",'
        b'"targets":[{"destination":{"target":"+31201234567"}}]}}',
    ],
)
def test_malformed_bodies_raise_a_webhook_error(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse_event(body)


@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise_anything_else(body: bytes) -> None:
    with contextlib.suppress(WebhookError):
        parse_event(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.sampled_from(["message_created", "message_updated", "message_deleted", "call_created"]),
    json_values,
)
def test_arbitrary_json_data_never_raises_anything_else(kind: str, data: object) -> None:
    with contextlib.suppress(WebhookError):
        parse_event(json.dumps({"type": kind, "data": data}).encode())


def _outcome(parse: object, body: bytes) -> object:
    try:
        return parse(body)  # type: ignore[operator]
    except WebhookError as exc:
        return ("refused", str(exc))


scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False)


def mostly(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Valid values three times in four, a wrong type otherwise."""
    return st.one_of(valid, valid, valid, scalars)


timestamps = mostly(
    st.sampled_from(["2024-05-01T10:00:00Z", "2022-03-13 15:11:05.235717", "9999-01-01", "", "x"])
    | st.none()
)
addresses = mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "type": mostly(st.text(max_size=4)),
            "target": mostly(st.sampled_from(["+31612345678", "", "Shop"])),
            "name": mostly(st.text(max_size=4)),
        },
    )
)
targets = st.fixed_dictionaries(
    {},
    optional={
        "destination": addresses,
        "status": mostly(st.sampled_from(["sent", "delivered", "odd"])),
        "parts": mostly(st.integers(-1, 3) | st.sampled_from(["2", "two", 1.0, 1.5])),
        "tm_update": timestamps,
    },
)
messages = st.fixed_dictionaries(
    {
        "id": mostly(st.sampled_from(["m-1", "", "7"])),
        "direction": mostly(st.sampled_from(["inbound", "inbound", "outbound", ""])),
    },
    optional={
        "source": addresses,
        "targets": mostly(st.lists(targets, max_size=2)),
        "text": mostly(st.text(max_size=8)),
        "tm_create": timestamps,
        "unknown": json_values,
    },
)


@settings(max_examples=400)
@given(
    st.sampled_from(["message_created", "message_updated", "message_deleted", "call_created"]),
    messages | json_values,
)
def test_the_one_pass_parse_agrees_with_the_long_way(kind: str, data: object) -> None:
    """parse_event reads the usual delivery in one pass (pydantic-core from the bytes); the
    long way (json.loads, then the envelope, then the message) decides everything else. Both
    must accept the same bodies, with the same result, and refuse the same ones."""
    body = json.dumps({"type": kind, "data": data}).encode()
    assert _outcome(parse_event, body) == _outcome(_parse_slowly, body)
