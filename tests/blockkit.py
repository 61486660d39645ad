"""Checks that what the bridge shows in Slack is Block Kit that Slack accepts. The rules are
those of the fake Slack (bot/fakes/slack_limits.py: slack_sdk's models, which must read every
block and view back unchanged, plus the documented limits they do not check); these helpers
only turn a refusal into an assertion with the list of what broke."""

from __future__ import annotations

from typing import Any

from bot.fakes.slack import FakeSlack
from bot.fakes.slack_limits import refusal


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """``blocks`` is a non-empty list that ``chat.postMessage`` would accept."""
    assert isinstance(blocks, list) and blocks, "blocks must be a non-empty list"
    refused = refusal("chat.postMessage", {"text": "fallback", "blocks": blocks})
    assert refused is None, f"Slack would refuse these blocks: {refused}"


def assert_valid_view(view: dict[str, Any]) -> None:
    """``view`` (a modal or a home view) is one ``views.update`` would accept."""
    refused = refusal("views.update", {"view": view})
    assert refused is None, f"Slack would refuse this view: {refused}"


def assert_valid_payloads(slack: FakeSlack) -> int:
    """Every call the fake Slack received with ``blocks`` or a ``view`` is one Slack accepts,
    and a message with blocks has a ``text`` fallback; returns how many were checked."""
    checked = 0
    for call in slack.calls():
        params = call.params
        if params.get("blocks") or isinstance(params.get("view"), dict):
            refused = refusal(call.method, params)
            assert refused is None, f"Slack would refuse {call.method}: {refused}"
            checked += 1
        if params.get("blocks"):
            assert params.get("text"), f"{call.method} has blocks but no text fallback"
    return checked
