"""The Slack app manifest: valid against Slack's own schema, and asking for exactly what the
code uses."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.cli import main
from bot.slack import modal
from bot.slack.manifest import (
    BOT_EVENTS,
    BOT_SCOPES,
    SHORTCUTS,
    SLASH_COMMAND,
    load_template,
    render,
)

from reference import slack_manifest_schema

SLACK_CODE = Path(__file__).resolve().parents[2] / "bot" / "slack"

# Each Web API method the code may call, and the scope it needs (None: no scope needed).
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_getPermalink": None,
    "reactions_add": "reactions:write",
    "reactions_remove": "reactions:write",
    "users_info": "users:read",
    "usergroups_users_list": "usergroups:read",
    "conversations_members": "channels:read",
    "conversations_info": "channels:read",
    "chat_postEphemeral": "chat:write",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "auth_test": None,
    "views_open": None,
    "views_publish": None,
}


def test_the_manifest_is_valid_against_slacks_schema() -> None:
    schema = slack_manifest_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(load_template()), key=str)
    assert errors == []


def test_the_manifest_asks_for_exactly_what_the_code_uses() -> None:
    manifest = load_template()
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(BOT_EVENTS)
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == [SLASH_COMMAND]


def test_the_manifest_declares_the_shortcuts_the_code_listens_for() -> None:
    manifest = load_template()
    declared = {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}
    assert declared == SHORTCUTS
    assert SHORTCUTS == {modal.GLOBAL_SHORTCUT: "global", modal.MESSAGE_SHORTCUT: "message"}
    # buttons, shortcuts and the modal arrive at the same URL as commands and events
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert (
        interactivity["request_url"] == manifest["settings"]["event_subscriptions"]["request_url"]
    )


def test_every_web_api_call_in_the_code_is_covered_by_a_scope() -> None:
    called = set()
    for path in SLACK_CODE.rglob("*.py"):
        called |= set(re.findall(r"\b_?client\.([a-z]+_[A-Za-z]+)\b", path.read_text()))
    assert called, "no Web API calls found: the pattern is out of date"
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add these methods and their scopes to METHOD_SCOPES: {unknown}"
    needed = {METHOD_SCOPES[m] for m in called} - {None}
    assert needed <= set(BOT_SCOPES)
    # message events need the history scopes, the slash command needs commands
    assert {"channels:history", "groups:history", "commands"} <= set(BOT_SCOPES)


def test_manifest_command_fills_in_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "https://bridge.acme.test/"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    url = "https://bridge.acme.test/slack/events"
    assert printed["features"]["slash_commands"][0]["url"] == url
    assert printed["settings"]["event_subscriptions"]["request_url"] == url
    assert printed["settings"]["interactivity"]["request_url"] == url
    schema = slack_manifest_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(printed)
    assert "example.com" not in render("https://bridge.acme.test")
