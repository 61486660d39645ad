"""Inbound SMS and statuses by polling ``GET /messages`` (reference §2.2): the fallback when
neither a webhook nor the WebSocket can reach us, and the catch-up after every WebSocket
(re)connect.

Each poll pages through the list, newest first, down to the high-water mark (the newest
``tm_create`` seen so far) minus a safety overlap, and hands the messages to
``Bridge.accept``, oldest first so a conversation's SMS are posted in order:

- inbound messages as ``message_created``;
- outbound messages as ``message_updated`` (their status). A status changes after the message
  was created, so outbound messages that have no final status yet are remembered, and the poll
  reaches back to the oldest of them, for at most ``status_window`` seconds after it was created
  (after that the bridge's own check of stuck messages takes over).

The bridge is idempotent (keyed by VoIPbin message id; statuses only move forward), so the
overlap is harmless; a bounded memory of what was already handed over keeps it from doing the
same work again. The mark is kept in memory: the first poll starts ``lookback`` seconds ago.
A mark only moves once a poll has handed everything over, so a failure is retried in full.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.bridge import status as st
from bot.bridge.ports import Delivery
from bot.nopublic.background import BackgroundTask
from bot.nopublic.frames import event_for_message
from bot.voipbin.client import VoipbinError, VoipbinRateLimited
from bot.voipbin.models import Message
from bot.voipbin.webhook import WebhookError

log = logging.getLogger(__name__)

FINAL_RANK = st.rank("delivered")


class Acceptor(Protocol):
    """What takes the deliveries: ``bot.bridge.service.Bridge``."""

    async def accept(self, delivery: Delivery) -> str: ...


class MessageSource(Protocol):
    """What lists the messages: ``bot.voipbin.client.VoipbinClient``."""

    def iter_messages(self, *, since: datetime | None = None) -> AsyncIterator[Message]: ...


def _now() -> datetime:
    return datetime.now(UTC)


def delivery_key(message: Message) -> tuple[str, str, str]:
    """A message in one state: a new status, its dispatch (VoIPbin's Telnyx path changes
    ``tm_update`` alone, reference §3.2) or its deletion is a new delivery."""
    state = f"{message.status}|{message.tm_update}|{message.tm_delete}"
    return (message.id, message.direction, state)


class Poller:
    """Polls ``GET /messages`` and feeds the bridge. ``poll_once`` for one pass (the
    WebSocket's catch-up), ``start(interval)`` / ``stop()`` to poll on its own."""

    def __init__(
        self,
        *,
        bridge: Acceptor,
        voipbin: MessageSource,
        lookback: float = 600.0,
        overlap: float = 60.0,
        status_window: float = 600.0,
        max_backoff: float = 60.0,
        memory: int = 10_000,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._bridge = bridge
        self._voipbin = voipbin
        self._overlap = timedelta(seconds=overlap)
        self._status_window = timedelta(seconds=status_window)
        self._max_backoff = max_backoff
        self._memory = memory
        self._clock = clock
        self._mark = clock() - timedelta(seconds=lookback)
        self._pending: dict[str, datetime] = {}  # outbound id -> tm_create, no final status yet
        self._handed: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._lock = asyncio.Lock()
        self._background = BackgroundTask("voipbin-poller")
        self.polls = 0  # completed polls, for tests and logs
        self.handed_over = 0  # deliveries handed to the bridge

    @property
    def mark(self) -> datetime:
        """The high-water mark: messages created before ``mark - overlap`` are done."""
        return self._mark

    def advance_to(self, moment: datetime) -> None:
        """Everything created before ``moment`` is known to have been handed over (the
        WebSocket was connected until then): the next poll need not reach further back."""
        self._mark = max(self._mark, moment)

    async def poll_once(self) -> int:
        """One pass; returns how many deliveries were handed to the bridge. Raises what the
        API or the bridge raised (the mark then stays where it was)."""
        async with self._lock:
            return await self._poll()

    async def _poll(self) -> int:
        now = self._clock()
        since = self._mark - self._overlap
        horizon = now - self._status_window
        self._pending = {k: v for k, v in self._pending.items() if v >= horizon}
        cutoff = min([since, *self._pending.values()])
        found = [m async for m in self._voipbin.iter_messages(since=cutoff)]
        handed = 0
        for message in reversed(found):  # oldest first
            created = message.tm_create or now
            if message.direction == "inbound" and created < since:
                continue
            if message.direction not in ("inbound", "outbound"):
                continue
            key = delivery_key(message)
            if key in self._handed:
                continue
            try:
                delivery = event_for_message(message).delivery()
            except WebhookError as exc:
                log.warning("poll: message skipped voipbin_id=%s: %s", message.id, exc)
                self._remember(key)
                continue
            if delivery is not None:
                await self._bridge.accept(delivery)
            self._remember(key)
            handed += 1
        for message in found:
            if message.direction != "outbound" or message.tm_create is None:
                continue
            final = message.tm_delete is not None or st.rank(message.status) >= FINAL_RANK
            if final or message.tm_create < horizon:
                self._pending.pop(message.id, None)
            else:
                self._pending[message.id] = message.tm_create
        newest = max((m.tm_create for m in found if m.tm_create is not None), default=None)
        if newest is not None:
            self._mark = max(self._mark, newest)
        self.polls += 1
        self.handed_over += handed
        if handed:
            log.info("poll handed over %d deliveries", handed)
        return handed

    def note_handed(self, message: Message) -> None:
        """``message``, in this state, reached the bridge another way (a WebSocket frame):
        the next poll need not hand it over again."""
        self._remember(delivery_key(message))

    def _remember(self, key: tuple[str, str, str]) -> None:
        self._handed[key] = None
        while len(self._handed) > self._memory:
            self._handed.popitem(last=False)

    # -- polling on its own -------------------------------------------------------------------

    def start(self, interval: float) -> None:
        self._background.start(lambda: self.run(interval))

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._background.task

    async def stop(self) -> None:
        await self._background.stop()

    async def run(self, interval: float) -> None:
        """Poll every ``interval`` seconds until cancelled; after a failure, wait longer
        (doubling, up to ``max_backoff``), or as long as a 429 asks."""
        failures = 0
        log.info("polling VoIPbin for inbound SMS every %.1fs", interval)
        while True:
            delay = interval
            try:
                await self.poll_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except VoipbinError as exc:  # its message names the route, never the URL
                failures += 1
                delay = min(self._max_backoff, interval * 2**failures)
                if isinstance(exc, VoipbinRateLimited):
                    delay = max(delay, exc.retry_after)
                log.warning("poll failed (retrying in %.1fs): %s", delay, exc.message)
            except Exception:
                failures += 1
                delay = min(self._max_backoff, interval * 2**failures)
                log.exception("poll failed (retrying in %.1fs)", delay)
            await asyncio.sleep(delay)
