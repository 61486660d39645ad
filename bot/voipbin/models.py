"""Pydantic models of VoIPbin's JSON, lenient where the real API is (reference §3).

Address fields are omitted when empty, timestamps are RFC 3339 or ``null`` (older deployments
used ``"2022-03-13 15:11:05.235717"`` and a ``9999-01-01`` sentinel for "not set"), and target
statuses outside the documented enum do occur, so ``status`` is a plain string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("9999-"):
            return None  # the legacy "not set" sentinel
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        raise ValueError("a timestamp must be a string or null")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Address(_Lenient):
    type: str = ""
    target: str = ""
    target_name: str = ""
    name: str = ""
    detail: str = ""


class Target(_Lenient):
    destination: Address = Field(default_factory=Address)
    status: str = ""
    parts: int = 0
    tm_update: Timestamp = None


class Message(_Lenient):
    """An SMS as VoIPbin shows it, in REST answers and in webhook ``data``."""

    id: str = Field(min_length=1)
    customer_id: str = ""
    type: str = "sms"
    source: Address = Field(default_factory=Address)
    targets: list[Target] = Field(default_factory=list)
    text: str = ""
    direction: str = ""
    tm_create: Timestamp = None
    tm_update: Timestamp = None
    tm_delete: Timestamp = None

    @property
    def status(self) -> str:
        """The status of the first target (the bridge sends one destination per message)."""
        return self.targets[0].status if self.targets else ""

    @property
    def dispatched(self) -> bool:
        """For an outbound message: VoIPbin handed it to a provider. VoIPbin updates a
        message (``tm_update``) only after a provider took it or when it is deleted, which
        stamps ``tm_update`` and ``tm_delete`` alike (bin-message-manager/pkg/messagehandler/
        send.go, db.go; pkg/dbhandler/message.go ``MessageUpdate``). A message every provider
        failed is never updated: ``tm_update`` stays null (reference §3.2)."""
        return self.tm_update is not None and self.tm_update != self.tm_delete

    @property
    def our_number_inbound(self) -> str:
        """For an inbound message: our number, the one it was sent to."""
        return self.targets[0].destination.target if self.targets else ""


class MessagePage(_Lenient):
    result: list[Message] = Field(default_factory=list)
    next_page_token: str = ""


class Number(_Lenient):
    id: str
    number: str
    type: str = ""
    status: str = ""
    name: str = ""


class NumberPage(_Lenient):
    result: list[Number] = Field(default_factory=list)
    next_page_token: str = ""


class Customer(_Lenient):
    id: str = ""
    name: str = ""
    detail: str = ""
    email: str = ""
    phone_number: str = ""
    address: str = ""
    webhook_method: str = ""
    webhook_uri: str = ""
    webhook_secret: str = ""


class ErrorBody(_Lenient):
    status: str = ""
    reason: str = ""
    message: str = ""
    request_id: str = ""


class ErrorEnvelope(_Lenient):
    error: ErrorBody


class SendRequest(BaseModel):
    """The body of ``POST /messages``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Address
    destinations: list[Address]
    text: str

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)
