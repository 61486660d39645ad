"""What the bridge's services share: one small frozen context, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.directory import Directory
from bot.bridge.ports import Messenger, SmsGateway
from bot.config import AppConfig
from bot.jobs.writer import JobWriter
from bot.metrics import Metrics
from bot.store import repo


class Wake:
    """Tells the local job runner that work was written. The runner is built after the
    bridge (it takes the bridge's handlers), so its ``wake`` is plugged in later (``set``)."""

    def __init__(self, target: Callable[[], None] = lambda: None) -> None:
        self._target = target

    def set(self, target: Callable[[], None]) -> None:
        self._target = target

    def __call__(self) -> None:
        self._target()


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeContext:
    """The database, the clock, the ports and the bookkeeping every service may use; each
    service keeps only the parts it needs. ``writer`` is the shared job writer of the
    intake (``JobWriter``), ``wake`` the runner's doorbell."""

    engine: AsyncEngine
    config: AppConfig
    messenger: Messenger
    gateway: SmsGateway
    clock: Callable[[], float]
    metrics: Metrics
    wake: Wake
    writer: JobWriter
    directory: Directory

    async def load(self, message_id: int) -> tuple[repo.Message, repo.Conversation]:
        """A stored message and its conversation."""
        async with self.engine.connect() as conn:
            message = await repo.get_message(conn, message_id)
            conversation = await repo.get_conversation(conn, message.conversation_id)
            return message, conversation
