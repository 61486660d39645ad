"""Turning what the WebSocket and ``GET /messages`` give into webhook events, with the same
checks as a webhook delivery; ``WebhookEvent.delivery`` makes them what the bridge takes
(``Bridge.accept``).

VoIPbin's WebSocket frames come in two shapes (reference §4.6): wrapped like a webhook,
``{"type": "message_created", "data": {...message...}}``, or unwrapped, the message object
itself with no event type. An unwrapped message is read as the delivery its state implies:
``message_deleted`` when ``tm_delete`` is set, else ``message_created`` for an inbound message
and for an outbound one VoIPbin has not updated since (``tm_update`` null: not dispatched), and
``message_updated`` for an outbound one it has (handed to a provider; the bridge tells that
from a message no provider took, reference §3.2). The bridge is idempotent for both
(keyed by the VoIPbin message id; statuses only move forward), so reading the same message
twice, or as "updated" when it was just created, is harmless.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from bot.voipbin.models import Message
from bot.voipbin.webhook import WebhookError, WebhookEvent, event_of, parse_event


def event_kind(direction: str, *, deleted: bool, dispatched: bool = False) -> str:
    """The webhook type a message in this state would have been delivered with (the last
    one): ``dispatched``, the message was updated after it was created."""
    if deleted:
        return "message_deleted"
    if direction == "inbound" or not dispatched:
        return "message_created"
    return "message_updated"


def event_for_message(message: Message) -> WebhookEvent:
    """The delivery for a message read from ``GET /messages`` (raises WebhookError for an
    inbound message that names no sender or no number, as a webhook would)."""
    kind = event_kind(
        message.direction, deleted=message.tm_delete is not None, dispatched=message.dispatched
    )
    return event_of(kind, message)


def parse_frame(data: str | bytes) -> WebhookEvent | None:
    """One WebSocket text frame as a delivery; None for a frame that is neither a wrapped
    event nor a message (the bridge has nothing to do with it). Raises WebhookError for a
    frame that is not JSON, or is a malformed message."""
    body = data.encode() if isinstance(data, str) else data
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookError("the frame is not JSON") from None
    if not isinstance(raw, dict):
        raise WebhookError("the frame is not a JSON object")
    if "data" in raw:
        return parse_event(body)  # wrapped, exactly as a webhook
    if "id" not in raw or "direction" not in raw:
        return None
    try:
        message = Message.model_validate(raw)
    except ValidationError:
        raise WebhookError("the frame looks like a message but is not a valid one") from None
    kind = event_kind(
        message.direction, deleted=message.tm_delete is not None, dispatched=message.dispatched
    )
    return event_of(kind, message)
