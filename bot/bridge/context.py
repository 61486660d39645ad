"""What the bridge's services share besides the store: the runner's doorbell (``Wake``),
the clock's type, and a stored message read with its conversation. Each service is given the
parts it uses by ``Bridge`` (``bot.bridge.service``), the one place they are built."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import conversations, sms

# Seconds since the epoch, now (``time.time`` outside the tests).
Clock = Callable[[], float]


class Wake:
    """Tells the local job runner that work was written. The runner is built after the
    bridge (it takes the bridge's handlers), so its ``wake`` is plugged in later (``set``)."""

    def __init__(self, target: Callable[[], None] = lambda: None) -> None:
        self._target = target

    def set(self, target: Callable[[], None]) -> None:
        self._target = target

    def __call__(self) -> None:
        self._target()


async def load(
    engine: AsyncEngine, message_id: int
) -> tuple[sms.Message, conversations.Conversation]:
    """A stored message and its conversation."""
    async with engine.connect() as conn:
        message = await sms.get_message(conn, message_id)
        conversation = await conversations.get_conversation(conn, message.conversation_id)
        return message, conversation
