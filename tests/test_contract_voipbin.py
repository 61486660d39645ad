"""Every request the client sends validates against VoIPbin's own OpenAPI document, and the
fake answers in the shapes that document (patched for its two known bugs) describes."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.voipbin.client import VoipbinClient

from harness import ACCESSKEY, serve, wait_for
from reference import voipbin_openapi


def validator_for(schema: dict[str, Any], document: dict[str, Any]) -> OAS30Validator:
    # The spec's refs are "#/components/...": carry the components along so they resolve.
    return OAS30Validator({**schema, "components": document["components"]})


def known_keys(schema: dict[str, Any], document: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return set(schema.get("properties", {}))


def assert_valid_send(body: dict[str, Any], document: dict[str, Any]) -> None:
    operation = document["paths"]["/messages"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator_for(schema, document).validate(body)
    # The spec allows unknown keys; we do not send any.
    assert set(body) <= set(schema["properties"])
    address_keys = known_keys(schema["properties"]["source"], document)
    assert set(body["source"]) <= address_keys
    for destination in body["destinations"]:
        assert set(destination) <= address_keys


def assert_valid_message(message: dict[str, Any], document: dict[str, Any]) -> None:
    schema = {"$ref": "#/components/schemas/MessageManagerMessage"}
    validator_for(schema, document).validate(message)


@pytest.fixture
def openapi() -> dict[str, Any]:
    return voipbin_openapi()


async def test_the_bridge_sends_bodies_the_spec_accepts(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str, openapi: dict[str, Any]
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        await service.slash("+31612345678,+442079460958 Contract check ünïcødé 👍")
        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 2)
    for body in fake_voipbin.sends():
        assert_valid_send(body, openapi)
    for message in fake_voipbin.messages():
        assert_valid_message(message, openapi)


async def test_client_requests_and_fake_answers_follow_the_spec(
    fake_voipbin: FakeVoipbin, openapi: dict[str, Any]
) -> None:
    client = VoipbinClient(base_url=fake_voipbin.url, accesskey=ACCESSKEY)
    try:
        sent = await client.send_message(
            source="+31201234567", destination="+31612345678", text="hi"
        )
        await client.get_message(sent.id)
        listed = [m async for m in client.iter_messages()]
        assert [m.id for m in listed] == [sent.id]
    finally:
        await client.aclose()
    parameters = {p["name"]: p for p in _resolve_params(openapi, "/messages", "get")}
    for request in fake_voipbin.requests:
        assert "accesskey" not in request.query
        if request.method == "GET" and request.path == "/v1.0/messages":
            assert set(request.query) <= set(parameters)
            assert int(request.query["page_size"]) <= 100
    assert_valid_send(fake_voipbin.sends()[0], openapi)
    assert_valid_message(fake_voipbin.messages()[0], openapi)


def _resolve_params(document: dict[str, Any], path: str, method: str) -> list[dict[str, Any]]:
    resolved = []
    for parameter in document["paths"][path][method].get("parameters", []):
        if "$ref" in parameter:
            name = parameter["$ref"].rsplit("/", 1)[1]
            parameter = document["components"]["parameters"][name]
        resolved.append(parameter)
    return resolved
