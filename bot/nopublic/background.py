"""One loop run as a background task, started and stopped by its owner (the poller, the
VoIPbin WebSocket subscriber)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class BackgroundTask:
    """``start(loop)`` runs ``loop()`` in a task named ``name``, unless one is running;
    ``stop()`` cancels it and waits until it has ended."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The running task (or the one that ended by itself), None once stopped."""
        return self._task

    def start(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(loop(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
