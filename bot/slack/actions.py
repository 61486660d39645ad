"""Listeners for what people do besides typing: the Retry button of a failed SMS, Send /
Cancel on a held one, the Send SMS shortcuts and modal, and edits and deletions of thread
replies that were taken as SMS. Registered by ``bot.slack.app.build_bolt_app`` before its
catch-all."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge.edits import ReplyEdits
from bot.bridge.held import HeldSends
from bot.config import AppConfig
from bot.slack import modal, prompts
from bot.slack.messenger import SlackMessenger
from bot.slack.render import RETRY_ACTION, answer
from bot.slack.sending import Sender

log = logging.getLogger(__name__)


def _action_value(body: dict[str, Any]) -> int | None:
    actions = body.get("actions") or []
    try:
        return int(actions[0]["value"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def register_actions(
    app: AsyncApp,
    *,
    config: AppConfig,
    edits: ReplyEdits,
    held_sends: HeldSends,
    messenger: SlackMessenger,
    sender: Sender,
) -> None:
    """``config``: the numbers the Send SMS modal offers; ``edits``: what an edited or
    deleted thread reply does; ``held_sends``: the held send a modal's Send confirms."""

    @app.action(RETRY_ACTION)
    async def retry(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        message_id = _action_value(body)
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        if message_id is None or not user:
            await ack()
            return
        note = await sender.retry(message_id=message_id, channel=channel, user=user)
        await ack()
        if note is not None:
            await respond(response_type="ephemeral", replace_original=False, **answer(note))

    @app.action(prompts.CONFIRM_SEND)
    async def confirm_send(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        pending_id = _action_value(body)
        user = str((body.get("user") or {}).get("id") or "")
        if pending_id is None or not user:
            await ack()
            return
        outcome = await sender.confirm(pending_id=pending_id, user=user)
        await ack()
        await respond(response_type="ephemeral", replace_original=True, **outcome.message())

    @app.action(prompts.CONFIRM_CANCEL)
    async def confirm_cancel(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        pending_id = _action_value(body)
        user = str((body.get("user") or {}).get("id") or "")
        if pending_id is None or not user:
            await ack()
            return
        outcome = await sender.cancel(pending_id=pending_id, user=user)
        await ack()
        await respond(response_type="ephemeral", replace_original=True, **outcome.message())

    @app.shortcut(modal.GLOBAL_SHORTCUT)
    async def global_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await modal.open_modal(
            client, config=config, messenger=messenger, body=body, channel=None, text=""
        )

    @app.shortcut(modal.MESSAGE_SHORTCUT)
    async def message_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "") or None
        text = await modal.prefill(messenger, str(message.get("text") or ""))
        await modal.open_modal(
            client, config=config, messenger=messenger, body=body, channel=channel, text=text
        )

    @app.view(modal.CALLBACK_ID)
    async def modal_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await modal.submitted(ack, body, client, config=config, messenger=messenger, sender=sender)

    @app.view(modal.CONFIRM_CALLBACK)
    async def modal_confirmed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await modal.confirmed(ack, body, client, held_sends=held_sends, sender=sender)

    @app.view_closed(modal.CONFIRM_CALLBACK)
    async def modal_closed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await modal.closed(body, sender=sender)

    @app.event({"type": "message", "subtype": ("message_changed", "message_deleted")})
    async def reply_changed(event: dict[str, Any], body: dict[str, Any]) -> None:
        deleted = event.get("subtype") == "message_deleted"
        before = event.get("previous_message") or {}
        after = event.get("message") or {}
        if deleted:
            ts = event.get("deleted_ts") or before.get("ts")
        else:
            # Slack also sends message_changed when a link unfurls: only a new text is an edit.
            if (after.get("text") or "") == (before.get("text") or ""):
                return
            ts = after.get("ts") or before.get("ts")
        thread_ts = after.get("thread_ts") or before.get("thread_ts")
        if not ts or not thread_ts or ts == thread_ts:
            return
        if after.get("bot_id") or before.get("bot_id"):
            return
        channel = str(event.get("channel") or "")
        edited = (after.get("edited") or {}).get("ts") or event.get("event_ts") or ""
        change_key = f"deleted:{channel}:{ts}" if deleted else f"edited:{channel}:{ts}:{edited}"
        outcome = await edits.reply_changed(
            team=str(body.get("team_id") or event.get("team") or ""),
            channel=channel,
            ts=str(ts),
            deleted=deleted,
            change_key=change_key,
            event_key=f"slack:{body['event_id']}" if body.get("event_id") else None,
        )
        log.info("thread reply %s outcome=%s", "deleted" if deleted else "edited", outcome)
