"""The App Home tab: published (``views.publish``) each time a person opens it.

It lists the recent conversations of the bridge's channels that the person is a member of:
the last message of each would otherwise leak a private channel's SMS to anyone in the
workspace. Membership comes from ``conversations.members`` (cached for five minutes); a
channel whose members cannot be read is left out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge.directory import Directory
from bot.config import AppConfig
from bot.slack import directory_render as view
from bot.slack.links import ThreadLinks
from bot.slack.messenger import SlackMessenger

log = logging.getLogger(__name__)

HOME_CONVERSATIONS = 15


class HomeTab:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        config: AppConfig,
        directory: Directory,
        messenger: SlackMessenger,
        links: ThreadLinks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._config = config
        self._directory = directory
        self._messenger = messenger
        self._links = links
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def channels_of(self, user: str) -> list[str]:
        """The bridge's channels that ``user`` is a member of."""
        found: list[str] = []
        for channel in dict.fromkeys(route.channel for route in self._config.numbers):
            try:
                if user in await self._messenger.channel_members(channel):
                    found.append(channel)
            except Exception:
                log.warning("could not read the members of channel %s for the home tab", channel)
        return found

    async def build(self, user: str) -> dict[str, Any]:
        """The home view for ``user``."""
        channels = await self.channels_of(user)
        # One more than is shown, to know whether to say that there are more.
        found = await self._directory.recent(channels=channels, limit=HOME_CONVERSATIONS + 1)
        recent = found[:HOME_CONVERSATIONS]
        links = await self._links.links(
            (r.thread.channel, r.thread.thread_ts) for r in recent if r.thread is not None
        )
        return view.home(
            recent, links=links, now=self._clock(), more=len(found) > HOME_CONVERSATIONS
        )

    def publish_soon(self, user: str) -> None:
        """Publish in the background, so Slack has its answer to the event at once."""
        task = asyncio.get_running_loop().create_task(self.publish(user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, user: str) -> None:
        try:
            home = await self.build(user)
            await self._client.views_publish(user_id=user, view=home)
        except (SlackApiError, SlackClientError, TimeoutError) as exc:
            # Nothing to retry for: the next time the tab is opened it is published again.
            log.warning("app home not published user=%s: %s", user, type(exc).__name__)
        except Exception:
            # A background task: nobody else would hear of the failure.
            log.exception("app home could not be built user=%s", user)


def register_home(app: AsyncApp, home: HomeTab) -> None:
    """Listen for ``app_home_opened``; register it before any catch-all event listener."""

    @app.event("app_home_opened")
    async def app_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        home.publish_soon(str(event["user"]))
