"""The Bolt AsyncApp: the /sms command and the thread-reply listener."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge.service import Bridge
from bot.slack import commands as _verbs  # noqa: F401  (registers the /sms verbs)
from bot.slack.actions import register_actions
from bot.slack.directory_commands import Lookups
from bot.slack.home import HomeTab, register_home
from bot.slack.links import ThreadLinks
from bot.slack.messenger import SlackMessenger
from bot.slack.mrkdwn import mentioned_user_ids, to_plain_text
from bot.slack.sending import Sender
from bot.slack.verbs import VERBS, Context

log = logging.getLogger(__name__)

# Message subtypes that are a person writing: plain messages, "also send to channel", and
# messages with a file (its text is sent; the file cannot be).
HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share")


def build_bolt_app(
    *,
    client: AsyncWebClient,
    signing_secret: str,
    bridge: Bridge,
    messenger: SlackMessenger,
) -> AsyncApp:
    """The Slack side of the service. Listeners record work and return: the HTTP answer to
    Slack is sent only once the work is safely in the database (``process_before_response``),
    so a crash before that point makes Slack redeliver rather than lose it."""
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    # Each listener is given the services it calls, not the whole bridge.
    config, replies, signatures = bridge.config, bridge.replies, bridge.signatures
    region = config.region

    async def groups_of(channel: str, user: str, our_number: str | None = None) -> set[str]:
        """The user groups and channels named in the channel's number's senders (or
        ``our_number``'s) that ``user`` belongs to (looked up only when the number restricts
        its senders)."""
        numbers = [our_number] if our_number else config.numbers_for(channel)
        route = config.route_for(numbers[0]) if numbers else None
        if route is None or user in route.senders.users:
            return set()
        found: set[str] = set()
        for group in route.senders.usergroups:
            try:
                if user in await messenger.usergroup_members(group):
                    found.add(group)
            except Exception:
                log.warning("could not read the members of user group %s", group)
        for member_of in route.senders.channels:
            try:
                if user in await messenger.channel_members(member_of):
                    found.add(member_of)
            except Exception:
                log.warning("could not read the members of channel %s", member_of)
        return found

    sender = Sender(
        config=config,
        checks=bridge.checks,
        sending=bridge.sending,
        held_sends=bridge.held_sends,
        retries=bridge.retries,
        signatures=bridge.signatures,
        groups_of=groups_of,
    )
    links = ThreadLinks(permalink=messenger.permalink)
    lookups = Lookups(directory=bridge.directory, links=links, config=config)

    @app.middleware
    async def drop_redeliveries(
        body: dict[str, Any], request: AsyncBoltRequest, next: Any
    ) -> BoltResponse | None:
        # Slack redelivers an event (same event_id, X-Slack-Retry-Num) when our answer was
        # slow or lost. The work itself is keyed by the Slack message, so this is only the
        # fast path; a redelivery racing the first attempt is caught by that key.
        event_id = body.get("event_id")
        redelivery = bool(event_id and request.headers.get("x-slack-retry-num"))
        if redelivery and await replies.seen(f"slack:{event_id}"):
            log.info("slack redelivery dropped event_id=%s", event_id)
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        await next()
        return None

    @app.command(re.compile(r"^/sms"))
    async def sms_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        # The verbs are registered in bot.slack.commands and bot.slack.directory_commands;
        # respond() dispatches by the registry and never raises, so the ack always goes out.
        context = Context(
            channel=str(command.get("channel_id") or ""),
            user=str(command.get("user_id") or ""),
            region=region,
            opt_outs=bridge.opt_outs,
            sender=sender,
            lookups=lookups,
            user_names=messenger.user_names,
        )
        said = await VERBS.respond(str(command.get("text") or ""), context)
        await ack(response_type="ephemeral", **said)

    @app.event({"type": "message", "subtype": HUMAN_SUBTYPES})
    async def thread_reply(event: dict[str, Any], body: dict[str, Any]) -> None:
        thread_ts = event.get("thread_ts")
        ts = event.get("ts")
        user = event.get("user")
        if event.get("bot_id") or not user or not thread_ts or not ts or thread_ts == ts:
            return
        channel = str(event.get("channel") or "")
        if not await replies.owns_thread(channel=channel, thread_ts=str(thread_ts)):
            return
        raw = str(event.get("text") or "")
        names = await messenger.user_names(mentioned_user_ids(raw))
        text = to_plain_text(raw, user_names=names).strip()
        if not text:
            return
        text = await signatures.signed(str(user), text)
        await replies.accept_reply(
            user_groups=await groups_of(channel, str(user)),
            event_key=f"slack:{body['event_id']}" if body.get("event_id") else None,
            team=str(body.get("team_id") or event.get("team") or ""),
            channel=channel,
            thread_ts=str(thread_ts),
            ts=str(ts),
            user=str(user),
            text=text,
        )

    register_actions(
        app,
        config=config,
        edits=bridge.edits,
        held_sends=bridge.held_sends,
        messenger=messenger,
        sender=sender,
    )
    home = HomeTab(
        client=client,
        config=config,
        directory=bridge.directory,
        messenger=messenger,
        links=links,
    )
    register_home(app, home)

    @app.event(re.compile(".*"))
    async def ignore_other_events() -> None:
        # Edits, deletes, joins, bot messages, anything else: answered 200 so Slack does not
        # retry, and otherwise ignored.
        return None

    return app
