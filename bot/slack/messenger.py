"""The domain's ``Messenger`` on Slack's Web API: rendering, pacing, error mapping and
finding a post an interrupted attempt already made."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.bridge import status as st
from bot.bridge.ports import AlertItem, OutgoingView, RateLimited, Rejected, Unavailable
from bot.config import SlackPacing
from bot.jobs.pacing import Held, Pacer, Rate
from bot.slack import render
from bot.slack.links import archive_link

log = logging.getLogger(__name__)

METADATA_EVENT = "sms_bridge_post"
# Slack errors that mean "try again later" rather than "this will never work".
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
# reactions.add / reactions.remove answers that mean the state is already as wanted.
SETTLED_REACTION_ERRORS = frozenset({"already_reacted", "no_reaction"})
# Methods paced per workspace (reference slack.md §3.6: chat.update is Tier 3, 50+ a minute).
METHOD_RATES = {"chat.update": Rate(per_second=50 / 60, burst=20)}
# A call whose method's turn is further away than this is retried later (as after a 429)
# instead of waiting in a worker slot: those jobs have no channel to bound them.
METHOD_MAX_WAIT = 1.0


class SlackMessenger:
    """Posts through one ``AsyncWebClient``. Paces ``chat.postMessage`` per channel (Slack
    allows about one per second per channel) and chat.update per workspace and, after a
    429, holds that channel (or method) for the ``Retry-After`` time without holding up the
    others. ``pacer`` (bot/jobs/pacing.py) shares the pace with every process on the
    database; by default it is this process's alone."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        pacing: SlackPacing,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[str, str], None] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        """``observe(method, outcome)`` is called after every Web API call (for metrics)."""
        self._observe = observe
        self._client = client
        self._pacing = pacing
        self._clock = clock
        # One token less than Slack's burst: the same average rate, with room for the
        # jitter between our clock and Slack's, so steady pacing draws no 429s.
        self._channel_rate = Rate(pacing.per_channel_per_second, max(1, pacing.burst - 1))
        self._pacer = pacer if pacer is not None else Pacer(clock=clock)
        self._names: TTLCache[str, str] = TTLCache(maxsize=5000, ttl=3600)
        self._channel_names: TTLCache[str, str] = TTLCache(maxsize=500, ttl=3600)
        self._groups: TTLCache[str, set[str]] = TTLCache(maxsize=500, ttl=300)

    # -- plumbing --------------------------------------------------------------------------

    async def _call(
        self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]], channel: str = ""
    ) -> AsyncSlackResponse:
        outcome = "unavailable"
        try:
            response = await self._call_once(method, call, channel)
            outcome = "ok"
            return response
        except RateLimited:
            outcome = "rate_limited"
            raise
        except Rejected:
            outcome = "rejected"
            raise
        finally:
            if self._observe is not None:
                self._observe(method, outcome)

    async def _call_once(
        self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]], channel: str
    ) -> AsyncSlackResponse:
        rate = METHOD_RATES.get(method) if self._pacing.enabled else None
        if rate is not None:
            try:
                await self._pacer.turn(
                    f"slack:{method}", rate, counted=False, max_wait=METHOD_MAX_WAIT
                )
            except Held as exc:
                raise RateLimited(
                    f"Slack {method} is rate limited", retry_after=exc.retry_after
                ) from None
        try:
            return await call()
        except SlackApiError as exc:
            response = exc.response
            error = str(response.get("error", "")) if response is not None else ""
            status = response.status_code if response is not None else 0
            if status == 429 or error == "ratelimited":
                retry_after = _retry_after(response.headers if response is not None else {})
                if channel:
                    await self._pacer.hold(f"slack:{channel}", retry_after, self._channel_rate)
                elif rate is not None:
                    await self._pacer.hold(f"slack:{method}", retry_after, rate)
                raise RateLimited(f"Slack {method} rate limited", retry_after=retry_after) from None
            if status >= 500 or error in TRANSIENT_ERRORS:
                raise Unavailable(f"Slack {method} failed: {error or status}") from None
            raise Rejected(f"Slack {method} failed: {error or status}", code=error) from None
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
            raise Unavailable(f"Slack {method} failed: {type(exc).__name__}") from None

    async def _pace(self, channel: str) -> None:
        if not self._pacing.enabled:
            # No pace of our own, but a channel held after a 429 stays held.
            try:
                self._pacer.check(f"slack:{channel}")
            except Held as exc:
                raise RateLimited(
                    f"Slack channel {channel} is rate limited", retry_after=exc.retry_after
                ) from None
            return
        try:
            await self._pacer.turn(f"slack:{channel}", self._channel_rate)
        except Held as exc:
            raise RateLimited(
                f"Slack channel {channel} is rate limited", retry_after=exc.retry_after
            ) from None

    async def _post(
        self,
        *,
        channel: str,
        rendered: render.Rendered,
        key: str,
        reconcile: bool,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> str:
        """Post ``rendered`` and then its further parts (``rendered.more``) in the same
        thread, in order; returns the first post's ts. Each part has a key of its own, so an
        attempt interrupted between parts finds those already posted and posts the rest."""
        ts = await self._post_one(
            channel=channel,
            rendered=rendered,
            key=key,
            reconcile=reconcile,
            thread_ts=thread_ts,
            broadcast=broadcast,
        )
        for number, part in enumerate(rendered.more, start=2):
            await self._post_one(
                channel=channel,
                rendered=part,
                key=f"{key}:part{number}",
                reconcile=reconcile,
                thread_ts=thread_ts or ts,
            )
        return ts

    async def _post_one(
        self,
        *,
        channel: str,
        rendered: render.Rendered,
        key: str,
        reconcile: bool,
        thread_ts: str | None,
        broadcast: bool = False,
    ) -> str:
        if reconcile:
            found = await self._find_post(channel=channel, key=key, thread_ts=thread_ts)
            if found is not None:
                log.warning("slack post found from an earlier attempt key=%s", key)
                return found
        await self._pace(channel)
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": rendered.text,
            "blocks": rendered.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": key}},
        }
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
            if broadcast:
                kwargs["reply_broadcast"] = True
        response = await self._call(
            "chat.postMessage", lambda: self._client.chat_postMessage(**kwargs), channel
        )
        return str(response["ts"])

    async def _find_post(self, *, channel: str, key: str, thread_ts: str | None) -> str | None:
        """The ts of a message we posted with ``key`` in its metadata, if Slack has one."""
        if thread_ts is not None:
            method = "conversations.replies"
            call = self._client.conversations_replies
            base: dict[str, Any] = {"channel": channel, "ts": thread_ts}
        else:
            method = "conversations.history"
            call = self._client.conversations_history
            base = {"channel": channel}
        base.update(include_all_metadata=True, limit=200)
        cursor: str | None = None
        for _ in range(10):  # at most 10 pages; an interrupted post is a recent one
            params = base | ({"cursor": cursor} if cursor else {})
            response = await self._call(method, functools.partial(call, **params))
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    # -- Messenger -------------------------------------------------------------------------

    async def open_thread(
        self,
        *,
        channel: str,
        peer: str,
        our_number: str,
        key: str,
        reconcile: bool,
        opted_out: bool = False,
        name: str | None = None,
        previous_thread_ts: str | None = None,
    ) -> str:
        previous = None
        if previous_thread_ts is not None:
            previous = await self.permalink(channel=channel, ts=previous_thread_ts)
            previous = previous or archive_link(channel, previous_thread_ts)
        return await self._post(
            channel=channel,
            rendered=render.thread_root(
                peer=peer,
                our_number=our_number,
                opted_out=opted_out,
                name=name,
                previous_link=previous,
            ),
            key=key,
            reconcile=reconcile,
        )

    async def post_outgoing(
        self, *, channel: str, thread_ts: str, view: OutgoingView, key: str, reconcile: bool
    ) -> str:
        return await self._post(
            channel=channel,
            rendered=render.outgoing(view),
            key=key,
            reconcile=reconcile,
            thread_ts=thread_ts,
        )

    async def update_outgoing(self, *, channel: str, ts: str, view: OutgoingView) -> None:
        rendered = render.outgoing(view)
        await self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=channel, ts=ts, text=rendered.text, blocks=rendered.blocks
            ),
        )

    async def mark_reply(self, *, channel: str, ts: str, status: str, previous: str | None) -> None:
        wanted = render.REACTION.get(st.phase(status))
        old = render.REACTION.get(st.phase(previous)) if previous else None
        if wanted is None or wanted == old:
            return
        await self._reaction("reactions.add", channel, ts, wanted)
        if old is not None:
            await self._reaction("reactions.remove", channel, ts, old)

    async def _reaction(self, method: str, channel: str, ts: str, name: str) -> None:
        call = (
            self._client.reactions_add
            if method == "reactions.add"
            else self._client.reactions_remove
        )
        try:
            await self._call(method, lambda: call(channel=channel, timestamp=ts, name=name))
        except Rejected as exc:
            if exc.code not in SETTLED_REACTION_ERRORS:
                raise

    async def post_inbound(
        self,
        *,
        channel: str,
        thread_ts: str,
        sender: str,
        text: str,
        key: str,
        reconcile: bool,
        name: str | None = None,
    ) -> str:
        return await self._post(
            channel=channel,
            rendered=render.inbound(sender=sender, text=text, name=name),
            key=key,
            reconcile=reconcile,
            thread_ts=thread_ts,
        )

    async def post_notice(
        self,
        *,
        channel: str,
        thread_ts: str | None,
        text: str,
        broadcast: bool,
        key: str,
        reconcile: bool,
        link: str | None = None,
        mention: str | None = None,
        retry: int | None = None,
    ) -> str:
        return await self._post(
            channel=channel,
            rendered=render.notice(
                text=text, link=link, alert=thread_ts is None, mention=mention, retry=retry
            ),
            key=key,
            reconcile=reconcile,
            thread_ts=thread_ts,
            broadcast=broadcast,
        )

    async def tell(self, *, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        rendered = render.note(text)
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": rendered.text}
        if rendered.blocks:
            kwargs["blocks"] = rendered.blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        await self._call(
            "chat.postEphemeral", functools.partial(self._client.chat_postEphemeral, **kwargs)
        )

    async def usergroup_members(self, group: str) -> set[str]:
        """Members of a Slack user group (cached for 5 minutes)."""
        cached = self._groups.get(group)
        if cached is not None:
            return cached
        response = await self._call(
            "usergroups.users.list",
            functools.partial(self._client.usergroups_users_list, usergroup=group),
        )
        members = {str(u) for u in response.get("users") or []}
        self._groups[group] = members
        return members

    async def channel_members(self, channel: str) -> set[str]:
        """Members of a channel (all pages; cached for 5 minutes)."""
        cached = self._groups.get(f"channel:{channel}")
        if cached is not None:
            return cached
        members: set[str] = set()
        cursor = ""
        for _ in range(100):
            response = await self._call(
                "conversations.members",
                functools.partial(
                    self._client.conversations_members, channel=channel, cursor=cursor, limit=1000
                ),
            )
            members.update(str(u) for u in response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        self._groups[f"channel:{channel}"] = members
        return members

    async def post_rollup(
        self, *, channel: str, source: str, items: list[AlertItem], key: str, reconcile: bool
    ) -> str:
        return await self._post(
            channel=channel,
            rendered=render.rollup(source=source, items=items),
            key=key,
            reconcile=reconcile,
        )

    async def update_rollup(
        self, *, channel: str, ts: str, source: str, items: list[AlertItem]
    ) -> None:
        rendered = render.rollup(source=source, items=items)
        await self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=channel, ts=ts, text=rendered.text, blocks=rendered.blocks
            ),
        )

    async def permalink(self, *, channel: str, ts: str) -> str | None:
        try:
            response = await self._call(
                "chat.getPermalink",
                lambda: self._client.chat_getPermalink(channel=channel, message_ts=ts),
            )
        except (Rejected, Unavailable):
            return None
        link = response.get("permalink")
        return str(link) if link else None

    async def channel_names(self, channels: list[str], *, within: float = 1.5) -> dict[str, str]:
        """Names of channels (``support``, no ``#``), read with ``conversations.info`` at
        once and cached for an hour. A channel Slack cannot name within ``within`` seconds
        is left out: callers answering a trigger (3 s) show its id instead."""
        wanted = list(dict.fromkeys(channels))

        async def one(channel: str) -> str | None:
            cached = self._channel_names.get(channel)
            if cached is not None:
                return cached
            try:
                response = await asyncio.wait_for(
                    self._call(
                        "conversations.info",
                        functools.partial(self._client.conversations_info, channel=channel),
                    ),
                    timeout=within,
                )
            except (Rejected, Unavailable, TimeoutError):
                return None
            name = (response.get("channel") or {}).get("name")
            if not name:
                return None
            self._channel_names[channel] = str(name)
            return str(name)

        found = await asyncio.gather(*(one(channel) for channel in wanted))
        return {channel: name for channel, name in zip(wanted, found, strict=True) if name}

    async def user_names(self, user_ids: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for user_id in user_ids:
            cached = self._names.get(user_id)
            if cached is not None:
                names[user_id] = cached
                continue
            try:
                response = await asyncio.wait_for(
                    self._call(
                        "users.info", functools.partial(self._client.users_info, user=user_id)
                    ),
                    timeout=1.5,
                )
            except (Rejected, Unavailable, TimeoutError):
                continue
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("name")
            if name:
                self._names[user_id] = str(name)
                names[user_id] = str(name)
        return names


def _retry_after(headers: Any) -> float:
    value = None
    if headers is not None:
        value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
