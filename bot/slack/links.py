"""Links to threads. ``chat.getPermalink`` gives the workspace's own URL (right on Enterprise
Grid and custom domains too) and needs no scope; a thread root's link never changes, so each
is asked for once per process. When Slack cannot answer in time, the generic
``https://slack.com/archives/<channel>/p<ts>`` link is used: Slack opens it in the reader's
workspace."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from cachetools import LRUCache

ARCHIVE_BASE = "https://slack.com/archives"

Permalink = Callable[..., Awaitable[str | None]]


def archive_link(channel: str, ts: str) -> str:
    """The generic link to message ``ts`` of ``channel``."""
    return f"{ARCHIVE_BASE}/{channel}/p{ts.replace('.', '')}"


class ThreadLinks:
    """``permalink(channel=, ts=)`` is ``SlackMessenger.permalink`` (None when Slack says no)."""

    def __init__(self, *, permalink: Permalink, timeout: float = 1.5, concurrency: int = 8) -> None:
        self._permalink = permalink
        self._timeout = timeout
        self._limit = asyncio.Semaphore(concurrency)
        self._cache: LRUCache[tuple[str, str], str] = LRUCache(maxsize=20000)

    async def link(self, channel: str, ts: str) -> str:
        cached = self._cache.get((channel, ts))
        if cached is not None:
            return cached
        async with self._limit:
            try:
                found = await asyncio.wait_for(
                    self._permalink(channel=channel, ts=ts), self._timeout
                )
            except TimeoutError:
                found = None
        if found is None:
            return archive_link(channel, ts)
        self._cache[(channel, ts)] = found
        return found

    async def links(self, refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Links to several messages at once, by ``(channel, ts)``."""
        wanted = list(dict.fromkeys(refs))
        found = await asyncio.gather(*(self.link(channel, ts) for channel, ts in wanted))
        return dict(zip(wanted, found, strict=True))
