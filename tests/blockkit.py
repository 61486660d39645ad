"""Checks that what the bridge shows in Slack is Block Kit that Slack accepts: every block and
view is parsed by slack_sdk's models (which enforce types, required fields and lengths) and
must come back unchanged (nothing unknown, nothing dropped)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.fakes.slack import FakeSlack


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    assert isinstance(blocks, list) and blocks, "blocks must be a non-empty list"
    assert len(blocks) <= 50, "a message holds at most 50 blocks"
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, f"not a Block Kit block: {block}"
        assert parsed.to_dict() == block, f"slack_sdk reads this block differently: {block}"


def assert_valid_view(view: dict[str, Any]) -> None:
    assert View(**view).to_dict() == view, f"slack_sdk reads this view differently: {view}"
    assert_valid_blocks(view["blocks"])


def assert_valid_payloads(slack: FakeSlack) -> int:
    """Every ``blocks`` and ``view`` the fake Slack received is valid; returns how many were
    checked. A message with blocks must also have a ``text`` fallback."""
    checked = 0
    for call in slack.calls():
        params = call.params
        if params.get("blocks"):
            assert_valid_blocks(params["blocks"])
            assert params.get("text"), f"{call.method} has blocks but no text fallback"
            checked += 1
        if isinstance(params.get("view"), dict):
            assert_valid_view(params["view"])
            checked += 1
    return checked
