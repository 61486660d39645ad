"""Issue 18, finding 11: ``--help`` says each option's default, ``--version`` answers, and
options that would be silently ignored together are refused (the real CLI, as a subprocess)."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

from bot.exit_codes import Exit

from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(60)


def test_version() -> None:
    assert_said(sms_bridge(["--version"], env={}), 0, f"sms-bridge {version('sms-bridge')}")


def test_serve_help_gives_every_option_a_help_text_and_its_default() -> None:
    ran = sms_bridge(["serve", "--help"], env={"COLUMNS": "200"})
    assert ran.code == 0, ran.err
    helps = dict(re.findall(r"^  (--[a-z-]+)(?: \S+)?\s{2,}(.+)$", ran.out, re.MULTILINE))
    assert set(helps) >= {"--config", "--host", "--port", "--inbound", "--poll-interval"}
    assert helps["--host"].endswith("(default: 0.0.0.0)")
    assert helps["--port"].endswith("(default: 8080)")
    assert helps["--inbound"].endswith("(default: websocket)")
    assert helps["--poll-interval"].endswith("(default: 5.0)")
    assert "$SMS_BRIDGE_CONFIG" in helps["--config"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--inbound", "poll"], "--inbound is only used with --no-public-url"),
        (["--poll-interval", "2"], "--poll-interval is only used with --no-public-url"),
        (["--no-public-url", "--no-jobs"], "--no-jobs is for the HTTP mode"),
    ],
)
def test_options_that_would_be_ignored_together_are_refused(args: list[str], named: str) -> None:
    ran = sms_bridge(["serve", *args], env=operator_env())
    assert_said(ran, Exit.CONFIG, named, "usage: sms-bridge serve")
