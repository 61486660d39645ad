"""Webhook deliveries from VoIPbin: signature check, parsing (reference §4.2–§4.4), and the
translation to the bridge's own facts (``InboundSms``, ``StatusReport``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.bridge.ports import Delivery, InboundSms, StatusReport
from bot.voipbin.models import Message

MESSAGE_EVENTS = frozenset({"message_created", "message_updated", "message_deleted"})


class WebhookError(ValueError):
    """The delivery is malformed; the message says what is wrong (it is sent back as a 400)."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-VoIPBIN-Signature`` value VoIPbin sends for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``header`` against the HMAC-SHA256 of the raw body."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().lower().encode())


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    data: Any = None


class _MessageDelivery(BaseModel):
    """The common delivery (a message event with a valid message), parsed in one pass."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["message_created", "message_updated", "message_deleted"]
    data: Message


class WebhookEvent(BaseModel):
    """A delivery; ``message`` is set for the message_* types, None for the others."""

    model_config = ConfigDict(frozen=True)

    type: str
    message: Message | None = None

    @property
    def dispatched(self) -> bool:
        """VoIPbin handed the (outbound) message to a provider: ``message_updated`` is sent
        only then (bin-message-manager/pkg/messagehandler/db.go ``dbUpdateTargets``), and a
        message read from the API or a WebSocket frame shows it by its ``tm_update``."""
        if self.message is None:
            return False
        return self.type == "message_updated" or self.message.dispatched

    def delivery(self) -> Delivery | None:
        """What the delivery tells the bridge: an SMS received (``message_created`` of an
        inbound message), a status of an SMS sent (any event of an outbound one but its
        deletion), or nothing (other event types, deletions, updates of inbound SMS)."""
        message = self.message
        if message is None or self.type == "message_deleted":
            return None
        if message.direction == "inbound" and self.type == "message_created":
            return InboundSms(
                sms_id=message.id,
                our_number=message.our_number_inbound,
                sender=message.source.target,
                text=message.text,
            )
        if message.direction == "outbound":
            return StatusReport(
                sms_id=message.id, status=message.status, dispatched=self.dispatched
            )
        return None


def parse_event(body: bytes) -> WebhookEvent:
    """Parse a delivery body. Raises WebhookError for anything that is not a valid envelope or,
    for a message event, not a valid message."""
    try:
        # The usual delivery, read and validated by pydantic-core straight from the bytes.
        # Anything it does not take (another event type, a malformed body) goes the long way
        # below, which decides what is accepted and words the error.
        delivery = _MessageDelivery.model_validate_json(body)
    except ValidationError:
        return _parse_slowly(body)
    return _checked(delivery.type, delivery.data)


def _parse_slowly(body: bytes) -> WebhookEvent:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookError("the body is not JSON") from None
    if not isinstance(raw, dict):
        raise WebhookError("the body must be a JSON object with 'type' and 'data'")
    try:
        envelope = _Envelope.model_validate(raw)
    except ValidationError:
        raise WebhookError("the body must have a string 'type'") from None
    if envelope.type not in MESSAGE_EVENTS:
        return WebhookEvent(type=envelope.type)
    if not isinstance(envelope.data, dict):
        raise WebhookError(f"{envelope.type}: 'data' must be a message object")
    try:
        message = Message.model_validate(envelope.data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "data" for e in exc.errors())
        raise WebhookError(f"{envelope.type}: 'data' is not a valid message ({fields})") from None
    return _checked(envelope.type, message)


def event_of(type_: str, message: Message) -> WebhookEvent:
    """The delivery of ``message`` as a ``type_`` event (for a message that came another
    way: a WebSocket frame, ``GET /messages``), with the checks of a webhook delivery."""
    return _checked(type_, message)


def _checked(type_: str, message: Message) -> WebhookEvent:
    if message.direction == "inbound" and type_ == "message_created":
        if not message.our_number_inbound:
            raise WebhookError(
                "an inbound message must name the number it was sent to "
                "(targets[0].destination.target)"
            )
        if not message.source.target:
            raise WebhookError("an inbound message must name its sender (source.target)")
    return WebhookEvent(type=type_, message=message)
