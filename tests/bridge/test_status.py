from __future__ import annotations

import pytest

from bot.bridge.status import Phase, phase, rank, reported


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", Phase.PENDING),
        ("QUEUED", Phase.PENDING),
        ("scheduled", Phase.PENDING),
        ("buffered", Phase.PENDING),
        ("", Phase.PENDING),
        ("sent", Phase.SENT),
        ("delivered", Phase.DELIVERED),
        ("failed", Phase.FAILED),
        ("gw_timeout", Phase.FAILED),
        ("dlr_timeout", Phase.FAILED),
        ("delivery_failed", Phase.FAILED),
        ("expired", Phase.FAILED),
        ("received", Phase.RECEIVED),
        # a thread reply deleted inside the undo window: neither on its way nor failed
        ("cancelled", Phase.CANCELLED),
    ],
)
def test_phase_of_raw_statuses(raw: str, expected: Phase) -> None:
    assert phase(raw) is expected


def test_statuses_only_move_forward() -> None:
    assert rank("queued") < rank("sent") < rank("delivered")
    assert rank("sent") < rank("failed")
    # both final: neither replaces the other
    assert rank("delivered") == rank("failed") == rank("gw_timeout")
    assert rank("sent") > rank("scheduled")
    # a cancelled reply is final: nothing can move it back to queued or on to sent
    assert rank("cancelled") == rank("delivered") > rank("sent")


def test_a_dispatched_sms_is_recorded_as_dispatched_not_pending() -> None:
    # reference §3.2 and bin-message-manager/pkg/messagehandler/send.go, db.go: Telnyx leaves
    # the target queued, but the message is updated once the provider took it.
    assert reported("queued", dispatched=True) == "dispatched"
    assert phase("dispatched") is Phase.DISPATCHED
    assert reported("queued", dispatched=False) == "queued"
    assert reported("sent", dispatched=True) == "sent"  # MessageBird's own word is kept
    assert reported("failed", dispatched=True) == "failed"
    # as far on as sent (neither will be followed by a receipt), behind the final ones
    assert rank("queued") < rank("dispatched") == rank("sent") < rank("delivered")
