"""Issue 18, finding 9: ``sms-bridge manifest --url`` takes only what Slack's app configuration
would take as a request URL (the real CLI, as a subprocess)."""

from __future__ import annotations

import pytest
import yaml

from bot.exit_codes import Exit

from operator_cli import assert_said, sms_bridge

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "url", ["x.example", "http://sms.example.com", "", "https://", "https://sms.example.com?a=1"]
)
def test_a_url_slack_would_refuse_is_a_usage_error(url: str) -> None:
    ran = sms_bridge(["manifest", f"--url={url}"], env={})
    assert_said(ran, Exit.CONFIG, "--url", "https://")
    assert ran.out == "", "no manifest is printed"


def test_a_public_https_url_fills_every_request_url() -> None:
    ran = sms_bridge(["manifest", "--url", "https://sms.example.com:8443/bridge/"], env={})
    assert ran.code == 0, ran.err
    manifest = yaml.safe_load(ran.out)
    wanted = "https://sms.example.com:8443/bridge/slack/events"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == wanted
