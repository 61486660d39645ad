"""Delivery statuses and their order.

VoIPbin documents queued → sent → delivered | failed (plus gw_timeout, dlr_timeout), but its
providers can copy other strings verbatim (reference §3.2), and webhooks arrive out of order.
A status may only move forward: a late ``sent`` must not hide ``delivered`` or ``failed``.

What VoIPbin's code does (``voipbin/monorepo``, bin-message-manager/pkg/messagehandler/send.go
and db.go): every target is ``queued`` at create; a background loop then hands the SMS to
MessageBird or Telnyx. MessageBird's answer replaces the targets (status ``sent``), Telnyx's
leaves them ``queued``, and either way the message is updated (``tm_update`` set,
``message_updated`` sent). No delivery receipt is ever processed. So ``queued`` with
``tm_update`` set means handed to the carrier, and only ``queued`` with ``tm_update`` null
means not dispatched (yet, or ever: when every provider failed nothing more happens). The
bridge records the first as its own status, ``dispatched`` (``reported``).
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PENDING = "pending"  # queued, or a status we do not know
    # Handed to the carrier by VoIPbin, which reported no status (the Telnyx path): no
    # delivery receipt will come; it is not stuck.
    DISPATCHED = "dispatched"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    RECEIVED = "received"  # inbound
    # Taken back before it was sent: a thread reply deleted inside the undo window
    # (``policy.send_delay_seconds``). Nothing reached VoIPbin; it is neither on its way nor
    # a failure.
    CANCELLED = "cancelled"


# The bridge's own status for a message VoIPbin dispatched without a status of its own.
DISPATCHED = "dispatched"

FAILURE_STATUSES = frozenset({"failed", "gw_timeout", "dlr_timeout", "delivery_failed", "expired"})

_RANK = {
    Phase.PENDING: 1,
    # As high as ``sent``: both are all VoIPbin will ever say (no receipts), and the first of
    # equal ranks stays.
    Phase.DISPATCHED: 2,
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
    if value == DISPATCHED:
        return Phase.DISPATCHED
    if value == "received":
        return Phase.RECEIVED
    if value in ("cancelled", "canceled"):
        return Phase.CANCELLED
    return Phase.PENDING


def rank(status: str) -> int:
    """Higher is later. Delivered, failed and cancelled are final and share the top rank, so
    the first final status wins and none replaces another."""
    return _RANK[phase(status)]


def reported(status: str, *, dispatched: bool) -> str:
    """The status to record for an outbound SMS that VoIPbin reports as ``status``;
    ``dispatched``: VoIPbin updated the message after creating it (``tm_update`` set, or a
    ``message_updated`` arrived), which it does only once a provider took the SMS. A status
    that is still pending then becomes ``dispatched``; any other is kept as VoIPbin wrote it."""
    if dispatched and phase(status) is Phase.PENDING:
        return DISPATCHED
    return status
