"""The Send SMS modal, opened by the global and the message shortcut.

Which channel it sends from: the channel of the number it sends from. Each of our numbers
routes to one channel, where its threads live, so picking the number picks the thread's
channel. The message shortcut offers the numbers of the message's channel (all numbers when
that channel has none); the global shortcut offers every number. With one choice there is
no picker. Slack does not check that the person may write in that channel (a global shortcut
works anywhere), so the bridge does: only members of the number's channel may send.

A valid submission sends like ``/sms`` (signature, policy, segment count); a long message is
held and the modal turns into a Send / Cancel confirmation. Validation errors are shown on
their fields (``response_action: errors``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge.held import HeldSends
from bot.bridge.ports import Rejected, Unavailable
from bot.config import AppConfig
from bot.phone import PhoneNumberError, format_international, parse_recipients
from bot.slack import fit, messages
from bot.slack.messenger import SlackMessenger
from bot.slack.mrkdwn import escape, mentioned_user_ids, to_plain_text
from bot.slack.render import answer
from bot.slack.sending import Outcome, Sender

log = logging.getLogger(__name__)

GLOBAL_SHORTCUT = "sms_send_global"
MESSAGE_SHORTCUT = "sms_send_message"
CALLBACK_ID = "sms_send_modal"
CONFIRM_CALLBACK = "sms_send_modal_confirm"
TEXT_MAX = 3000  # plain_text_input's own limit

# Which field a refusal belongs on.
_RULE_FIELD = {"country": "to", "number-type": "to", "opted-out": "to", "too-long": "text"}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


OPTION_MAX = fit.OPTION_TEXT_MAX
# How long opening the modal waits for channel names (the trigger expires after 3 s).
NAMES_TIMEOUT = 1.0


def _numbers(config: AppConfig, channel: str | None) -> list[str]:
    here = config.numbers_for(channel) if channel else []
    return here or [route.number for route in config.numbers]


def number_label(number: str, channel: str, channel_name: str | None) -> str:
    """``+31 20 123 4567 · #support``: one of our numbers and the channel its threads are
    in (the channel's id when Slack did not name it)."""
    where = f"#{channel_name}" if channel_name else channel
    return fit.cut_plain(f"{format_international(number)} · {where}", OPTION_MAX)


def build_view(
    *,
    numbers: list[str],
    text: str = "",
    to: str = "",
    labels: Mapping[str, str] | None = None,
    channel_of: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The modal: our number (when there is a choice, each shown with its channel as in
    ``labels``; else which number sends, in which channel of ``channel_of``), the number(s)
    to text, the text."""
    if not numbers:
        return {
            "type": "modal",
            "callback_id": CALLBACK_ID,
            "title": _plain("Send SMS"),
            "close": _plain("Close"),
            "blocks": [
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": messages.modal_no_numbers(),
                    },
                }
            ],
        }
    blocks: list[dict[str, Any]] = []
    if len(numbers) > 1:
        shown = labels or {}
        options = [
            {"text": _plain(shown.get(n) or format_international(n)), "value": n}
            for n in numbers[: fit.OPTIONS_MAX]
        ]
        blocks.append(
            {
                "type": "input",
                "block_id": "from",
                "label": _plain("Send from"),
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options,
                    "initial_option": options[0],
                },
                "hint": _plain(messages.modal_from_hint()),
            }
        )
        if len(numbers) > fit.OPTIONS_MAX:
            # A picker holds 100 options: say so, and how to send from the others.
            cut = messages.modal_numbers_cut(fit.OPTIONS_MAX, len(numbers))
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut}]})
    elif channel_of and channel_of.get(numbers[0]):
        ours = escape(format_international(numbers[0]))
        sends_from = messages.modal_sends_from(ours, channel_of[numbers[0]])
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sends_from}]})
    to_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "placeholder": _plain("+31612345678"),
    }
    if to:
        to_input["initial_value"] = to
    blocks.append(
        {
            "type": "input",
            "block_id": "to",
            "label": _plain("To"),
            "element": to_input,
            "hint": _plain(messages.modal_to_hint()),
        }
    )
    text_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": TEXT_MAX,
    }
    if text:
        text_input["initial_value"] = text[:TEXT_MAX]
    blocks.append(
        {"type": "input", "block_id": "text", "label": _plain("Message"), "element": text_input}
    )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain("Send SMS"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"numbers": numbers[: fit.OPTIONS_MAX]}),
        "blocks": blocks,
    }


async def prefill(messenger: SlackMessenger, raw: str) -> str:
    """A Slack message's text as it would be typed into an SMS."""
    names = await messenger.user_names(mentioned_user_ids(raw))
    return to_plain_text(raw, user_names=names).strip()


async def labels_of(
    numbers: list[str], *, config: AppConfig, messenger: SlackMessenger
) -> dict[str, str]:
    """Each number with the channel it is routed to, for the picker."""
    routes = {n: config.channel_for(n) or "" for n in numbers}
    names = await messenger.channel_names([c for c in routes.values() if c], within=NAMES_TIMEOUT)
    return {n: number_label(n, c, names.get(c)) for n, c in routes.items()}


async def open_modal(
    client: AsyncWebClient,
    *,
    config: AppConfig,
    messenger: SlackMessenger,
    body: dict[str, Any],
    channel: str | None,
    text: str,
) -> None:
    numbers = _numbers(config, channel)
    labels = (
        await labels_of(numbers, config=config, messenger=messenger) if len(numbers) > 1 else {}
    )
    channel_of = {n: config.channel_for(n) or "" for n in numbers}
    view = build_view(numbers=numbers, text=text, labels=labels, channel_of=channel_of)
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SlackApiError as exc:
        log.warning("views.open failed error=%s", exc.response.get("error"))


def _value(values: dict[str, Any], block: str) -> str:
    field = (values.get(block) or {}).get("value") or {}
    selected = field.get("selected_option") or {}
    return str(selected.get("value") or field.get("value") or "")


def _confirm_view(outcome_blocks: list[dict[str, Any]], pending_id: int) -> dict[str, Any]:
    """The modal, turned into the Send / Cancel question for a long message."""
    blocks = [b for b in outcome_blocks if b.get("type") != "actions"]
    return {
        "type": "modal",
        "callback_id": CONFIRM_CALLBACK,
        "title": _plain("Send SMS"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "notify_on_close": True,
        "private_metadata": json.dumps({"pending": pending_id}),
        "blocks": blocks,
    }


async def submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    *,
    config: AppConfig,
    messenger: SlackMessenger,
    sender: Sender,
) -> None:
    """Check the fields, then send (or hold for confirmation); errors go on their fields."""
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    user = str((body.get("user") or {}).get("id") or "")
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    offered = [str(n) for n in metadata.get("numbers") or []]
    our_number = _value(values, "from") or (offered[0] if offered else "")
    channel = config.channel_for(our_number) if our_number in offered else None
    errors: dict[str, str] = {}
    if channel is None:
        errors["from" if len(offered) > 1 else "to"] = messages.modal_pick_a_number()
    recipients: list[str] = []
    try:
        recipients = parse_recipients(_value(values, "to").replace(" ", ""), config.region)
    except PhoneNumberError as exc:
        errors["to"] = exc.reason[:150]
    text = _value(values, "text").strip()
    if not text:
        errors["text"] = messages.modal_no_text()
    if channel is not None and "from" not in errors and not await _member(messenger, channel, user):
        where = "from" if len(offered) > 1 else "to"
        errors[where] = messages.modal_not_a_member()
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    assert channel is not None
    try:
        outcome = await sender.send(
            channel=channel, user=user, recipients=recipients, text=text, our_number=our_number
        )
    except Exception:
        log.exception("could not record an SMS from the modal channel=%s", channel)
        outcome = Outcome(messages.failed())
    if outcome.refusal is not None:
        field = _RULE_FIELD.get(outcome.refusal.rule, "text")
        await ack(response_action="errors", errors={field: outcome.refusal.message[:300]})
        return
    if outcome.held and outcome.blocks is not None and outcome.pending_id is not None:
        await ack(response_action="update", view=_confirm_view(outcome.blocks, outcome.pending_id))
        return
    if not outcome.sent:
        await ack(response_action="errors", errors={"text": to_plain_text(outcome.text)[:300]})
        return
    await ack()
    await _tell(client, channel=channel, user=user, text=outcome.text)


async def confirmed(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    *,
    held_sends: HeldSends,
    sender: Sender,
) -> None:
    """Send on the confirmation step of the modal."""
    pending_id = _pending_of(body)
    user = str((body.get("user") or {}).get("id") or "")
    if pending_id is None:
        await ack()
        return
    outcome = await sender.confirm(pending_id=pending_id, user=user)
    await ack()
    held = await held_sends.held(pending_id)
    if held is not None:
        await _tell(client, channel=held.channel, user=user, text=outcome.text)


async def closed(body: dict[str, Any], *, sender: Sender) -> None:
    """Cancel on the confirmation step: the held send is dropped."""
    pending_id = _pending_of(body)
    user = str((body.get("user") or {}).get("id") or "")
    if pending_id is not None:
        await sender.cancel(pending_id=pending_id, user=user)


def _pending_of(body: dict[str, Any]) -> int | None:
    try:
        return int(json.loads((body.get("view") or {}).get("private_metadata") or "{}")["pending"])
    except (ValueError, KeyError, TypeError):
        return None


async def _member(messenger: SlackMessenger, channel: str, user: str) -> bool:
    try:
        return user in await messenger.channel_members(channel)
    except (Rejected, Unavailable):
        log.warning("could not read the members of channel %s", channel)
        return False


async def _tell(client: AsyncWebClient, *, channel: str, user: str, text: str) -> None:
    """The answer to a modal send, where /sms would have shown it: in the channel, to the
    sender only. ``text`` is already Slack markup (escaped)."""
    try:
        await client.chat_postEphemeral(channel=channel, user=user, **answer(text))
    except SlackApiError as exc:
        log.warning("could not tell the sender error=%s", exc.response.get("error"))


__all__ = [
    "CALLBACK_ID",
    "CONFIRM_CALLBACK",
    "GLOBAL_SHORTCUT",
    "MESSAGE_SHORTCUT",
    "build_view",
    "closed",
    "confirmed",
    "labels_of",
    "number_label",
    "open_modal",
    "prefill",
    "submitted",
]
