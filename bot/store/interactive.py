"""The names ``bot.bridge`` still imports from here, now kept in the modules named after their
data: ``pending_sends``, ``signatures``, ``rollups``, and ``repo`` (a message by its key).
Nothing new imports this module; it goes once the bridge imports those."""

from __future__ import annotations

from bot.store.pending_sends import PendingSend, get_pending, hold_send, move_pending
from bot.store.repo import find_message_by_key
from bot.store.rollups import (
    Rollup,
    claim_broadcast,
    get_rollup,
    open_rollup,
    save_rollup,
    start_rollup,
)
from bot.store.signatures import get_signature, set_signature

__all__ = [
    "PendingSend",
    "Rollup",
    "claim_broadcast",
    "find_message_by_key",
    "get_pending",
    "get_rollup",
    "get_signature",
    "hold_send",
    "move_pending",
    "open_rollup",
    "save_rollup",
    "set_signature",
    "start_rollup",
]
