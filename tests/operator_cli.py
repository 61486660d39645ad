"""Runs the real ``sms-bridge`` command as an operator does, for the tests of its mistakes:
a subprocess with only the environment given, and what it printed and how it ended."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import ACCESSKEY, BOT_TOKEN, SIGNING_SECRET

# Nothing listens on the discard port of loopback: a call that is made is refused at once.
NOWHERE = "http://127.0.0.1:9/"


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def operator_env(**overrides: str | None) -> dict[str, str]:
    """This environment without the machine's Slack/VoIPbin/database settings, plus the test
    secrets; ``overrides`` set (or, with None, remove) names."""
    keep = ("SLACK_", "VOIPBIN_", "DATABASE_URL", "SMS_BRIDGE_CONFIG", "LOG_")
    env: dict[str, str | None] = {
        **{k: v for k, v in os.environ.items() if not k.startswith(keep)},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": NOWHERE,
        "VOIPBIN_ACCESSKEY": ACCESSKEY,
        "VOIPBIN_API_URL": NOWHERE,
        **overrides,
    }
    return {k: v for k, v in env.items() if v is not None}


def sms_bridge(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    timeout: float = 60,
) -> Ran:
    """``sms-bridge ARGS`` to its end (``timeout`` is a deadline, not a wait)."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def assert_said(ran: Ran, code: int, *words: str) -> None:
    """Ended with ``code``, every word in what it printed, and no traceback."""
    assert ran.code == code, ran.text
    for word in words:
        assert word in ran.text, ran.text
    assert "Traceback" not in ran.text, ran.text
