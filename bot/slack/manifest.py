"""The Slack app manifest: what the code needs from Slack, in one place.

``manifests/slack-app.yaml`` is the template operators paste into Slack; ``sms-bridge manifest
--url`` prints it with the request URLs filled in. A test checks that its scopes and events
are exactly the ones below, and that the code calls no Web API method outside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Bot scopes, each with the reason the code needs it.
BOT_SCOPES: dict[str, str] = {
    "commands": "the /sms slash command",
    "chat:write": "chat.postMessage and chat.update for threads, statuses and alerts",
    "channels:history": "message.channels events (thread replies) and finding earlier posts",
    "groups:history": "message.groups events in private channels, and finding earlier posts",
    "reactions:write": "status reactions on thread replies sent as SMS",
    "users:read": "users.info, to turn @mentions into names in the SMS text",
    "usergroups:read": "usergroups.users.list, for numbers.senders.usergroups in app.yaml",
    "channels:read": "conversations.members, for numbers.senders.channels (public channels)",
    "groups:read": "conversations.members, for numbers.senders.channels (private channels)",
}
BOT_EVENTS = ("message.channels", "message.groups", "app_home_opened")
SLASH_COMMAND = "/sms"
# Shortcuts (callback_id -> type) that open the Send SMS modal; see bot.slack.modal.
SHORTCUTS = {"sms_send_global": "global", "sms_send_message": "message"}
TEMPLATE_URL = "https://sms-bridge.example.com"

# In a checkout the template is manifests/slack-app.yaml; an installed wheel carries a copy
# next to this module (see [tool.hatch.build.targets.wheel.force-include]).
_PACKAGED = Path(__file__).resolve().parent / "slack-app.yaml"
TEMPLATE = (
    _PACKAGED
    if _PACKAGED.is_file()
    else Path(__file__).resolve().parents[2] / "manifests" / "slack-app.yaml"
)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def render(base_url: str, template: dict[str, Any] | None = None) -> str:
    """The manifest with every request URL pointing at ``base_url``."""
    manifest = load_template() if template is None else template
    events_url = base_url.rstrip("/") + "/slack/events"
    for command in manifest["features"]["slash_commands"]:
        command["url"] = events_url
    manifest["settings"]["event_subscriptions"]["request_url"] = events_url
    interactivity = manifest["settings"].get("interactivity") or {}
    if interactivity.get("is_enabled"):
        interactivity["request_url"] = events_url
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
