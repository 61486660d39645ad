"""Interactivity as Slack sends it: a form body with one ``payload=`` field of JSON, signed
like every other Slack request (button clicks, shortcuts, modal submissions and closes)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx

from harness import CHANNEL, TEAM, Service, check_ack, sign_slack


async def interact(service: Service, payload: dict[str, Any]) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)})
    headers = sign_slack(body) | {"content-type": "application/x-www-form-urlencoded"}
    response = await service.http.post("/slack/events", content=body, headers=headers)
    return check_ack(response)  # an answer Slack would refuse fails the test here


def _common(service: Service, user: str) -> dict[str, Any]:
    return {
        "token": "legacy",
        "api_app_id": "A0001",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**9}",
    }


async def click(
    service: Service,
    action_id: str,
    value: str,
    *,
    user: str = "U0ANNA",
    channel: str = CHANNEL,
    message_ts: str = "1700000000.000001",
    ephemeral: bool = False,
) -> httpx.Response:
    """A button click (``block_actions``); its response_url is on the fake Slack."""
    payload = _common(service, user) | {
        "type": "block_actions",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "channel": {"id": channel, "name": "support"},
        "response_url": f"{service.slack.base}/response/{uuid.uuid4().hex}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"b-{action_id}",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return await interact(service, payload)


async def global_shortcut(service: Service, callback_id: str, *, user: str = "U0ANNA") -> Any:
    payload = _common(service, user) | {
        "type": "shortcut",
        "callback_id": callback_id,
        "action_ts": str(time.time()),
    }
    return await interact(service, payload)


async def message_shortcut(
    service: Service,
    callback_id: str,
    message: dict[str, Any],
    *,
    user: str = "U0ANNA",
    channel: str = CHANNEL,
) -> Any:
    payload = _common(service, user) | {
        "type": "message_action",
        "callback_id": callback_id,
        "action_ts": str(time.time()),
        "channel": {"id": channel, "name": "support"},
        "message": {"type": "message", **message},
        "message_ts": message.get("ts", ""),
        "response_url": f"{service.slack.base}/response/{uuid.uuid4().hex}",
    }
    return await interact(service, payload)


def view_state(values: dict[str, str], selects: dict[str, str] | None = None) -> dict[str, Any]:
    """``view.state`` of a submission: text inputs by block id, selects by block id."""
    state: dict[str, Any] = {
        block: {"value": {"type": "plain_text_input", "value": value}}
        for block, value in values.items()
    }
    for block, value in (selects or {}).items():
        state[block] = {
            "value": {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
            }
        }
    return {"values": state}


async def submit(
    service: Service, view: dict[str, Any], state: dict[str, Any], *, user: str = "U0ANNA"
) -> httpx.Response:
    """Submit a modal that the bridge opened (``view`` as views.open received it)."""
    payload = _common(service, user) | {
        "type": "view_submission",
        "view": {"id": "V0MODAL01", "team_id": TEAM, "state": state, **view},
    }
    return await interact(service, payload)


async def close(service: Service, view: dict[str, Any], *, user: str = "U0ANNA") -> Any:
    payload = _common(service, user) | {
        "type": "view_closed",
        "is_cleared": False,
        "view": {"id": "V0MODAL01", "team_id": TEAM, **view},
    }
    return await interact(service, payload)
