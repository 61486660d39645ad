"""``sms-bridge demo``: run as a user would, in its own process, and read what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bot.demo import (
    ACCESSKEY,
    BOT_TOKEN,
    FIRST_TEXT,
    INBOUND_TEXT,
    REPLY_TEXT,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
)

PEER = "+31 6 12345678"


@pytest.fixture(scope="module")
def demo() -> tuple[subprocess.CompletedProcess[str], float]:
    # Whatever the developer's shell holds, the demo must need none of it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOIPBIN_"))}
    proxy = "http://192.0.2.1:9"  # TEST-NET-1: nothing answers there
    env |= {"PYTHONIOENCODING": "utf-8", "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - started


def section(out: str, start: str, end: str) -> list[str]:
    assert start in out and end in out, out
    return out[out.index(start) : out.index(end)].splitlines()


def test_the_demo_plays_the_whole_conversation(
    demo: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    result, took = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert took < 30
    out = result.stdout
    channel = section(out, "#support (C0SUPPORT1)", "#sms-alerts (C0ALERTS01)")
    alerts = section(out, "#sms-alerts (C0ALERTS01)", "SMS at VoIPbin")

    # the ephemeral acknowledgement of /sms, then the number's thread root at the top level
    ack = channel.index(
        "  sms-bridge (only visible to Anna): 📤 Sending to +31 6 12345678 from "
        "+31 20 123 4567: 1 SMS segment (GSM-7). Follow it in the number's thread."
    )
    assert channel[ack + 1] == f"      in answer to: /sms +31612345678 {FIRST_TEXT}"
    root = next(i for i, line in enumerate(channel) if line.startswith("  sms-bridge: SMS conv"))
    assert ack < root
    assert channel[root].startswith(f"  sms-bridge: SMS conversation with {PEER} (Netherlands)")

    thread = [line for line in channel[root:] if line.startswith("    | ")]
    assert thread == [
        f"    | sms-bridge: SMS from @Anna to {PEER}: {FIRST_TEXT}",
        "    |     ✅ Delivered",
        f"    | sms-bridge: SMS from {PEER}: {INBOUND_TEXT}",
        f"    | Bob: {REPLY_TEXT}",
        "    |     reactions: ❌ (:x:)",
        f"    | sms-bridge: ⚠️ SMS to {PEER} failed: the carrier reported the message as not "
        "delivered (status 'failed'). It was not delivered.   [also sent to the channel]",
    ]
    # the failure is in the channel too ("also send to channel") and in the alerts channel
    assert any(
        line.startswith(f"  sms-bridge (from a thread): ⚠️ SMS to {PEER} failed") for line in channel
    )
    assert any(line.startswith(f"  sms-bridge: 🚨 SMS to {PEER} failed") for line in alerts)

    # and what went through VoIPbin
    assert f"[delivered]  {FIRST_TEXT}" in out
    assert f"[received]  {INBOUND_TEXT}" in out
    assert f"[failed]  {REPLY_TEXT}" in out


def test_the_demo_shows_no_secret_and_stays_on_loopback(
    demo: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    result, _ = demo
    everything = result.stdout + result.stderr
    for secret in (BOT_TOKEN, SIGNING_SECRET, ACCESSKEY, WEBHOOK_SECRET):
        assert secret not in everything
    urls = [word for word in result.stdout.split() if word.startswith("http")]
    assert len(urls) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in urls)
    assert result.stderr == ""
