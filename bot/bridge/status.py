"""Delivery statuses and their order.

VoIPbin documents queued → sent → delivered | failed (plus gw_timeout, dlr_timeout), but its
providers can copy other strings verbatim (reference §3.2), and webhooks arrive out of order.
A status may only move forward: a late ``sent`` must not hide ``delivered`` or ``failed``.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PENDING = "pending"  # queued, or a status we do not know
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    RECEIVED = "received"  # inbound
    # Taken back before it was sent: a thread reply deleted inside the undo window
    # (``policy.send_delay_seconds``). Nothing reached VoIPbin; it is neither on its way nor
    # a failure.
    CANCELLED = "cancelled"


FAILURE_STATUSES = frozenset({"failed", "gw_timeout", "dlr_timeout", "delivery_failed", "expired"})

_RANK = {
    Phase.PENDING: 1,
    Phase.SENT: 2,
    Phase.DELIVERED: 3,
    Phase.FAILED: 3,
    Phase.RECEIVED: 3,
    Phase.CANCELLED: 3,
}


def phase(status: str) -> Phase:
    """The phase a raw VoIPbin status string belongs to."""
    value = status.strip().lower()
    if value in FAILURE_STATUSES or "fail" in value:
        return Phase.FAILED
    if value == "delivered":
        return Phase.DELIVERED
    if value == "sent":
        return Phase.SENT
    if value == "received":
        return Phase.RECEIVED
    if value in ("cancelled", "canceled"):
        return Phase.CANCELLED
    return Phase.PENDING


def rank(status: str) -> int:
    """Higher is later. Delivered, failed and cancelled are final and share the top rank, so
    the first final status wins and none replaces another."""
    return _RANK[phase(status)]


def describe_failure(status: str) -> str:
    """Plain words for a failure status, for people reading the thread."""
    value = status.strip().lower()
    if value == "gw_timeout":
        return "the SMS gateway never confirmed the message (gateway timeout)"
    if value == "dlr_timeout":
        return "the carrier never sent a delivery report (delivery report timeout)"
    return f"the carrier reported the message as not delivered (status {value!r})"
