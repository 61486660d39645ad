"""``sms-bridge serve --no-public-url`` as operators run it: a real process, configured by its
command line and environment alone, without SLACK_SIGNING_SECRET. Slack reaches it over Socket
Mode (FakeSocketMode) and VoIPbin over its WebSocket or by polling (FakeVoipbinWs); each socket
fake passes every other request on to FakeSlack / FakeVoipbin, so ``SLACK_API_URL`` and
``VOIPBIN_API_URL`` each name one address, as in production."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from bot.fakes.voipbin import FakeVoipbin
from bot.fakes.voipbin_ws import FakeVoipbinWs

from harness import (
    ACCESSKEY,
    BOT_TOKEN,
    CHANNEL,
    OUR_NUMBER,
    TEAM,
    WEBHOOK_SECRET,
    ServiceProcess,
    wait_until,
    write_config,
)

APP_TOKEN = "xapp-1-A0001-5678-cliprocesstoken"
PEER = "+31612345678"
PEER_PRETTY = "+31 6 12345678"


def app_yaml(tmp_path: Path) -> str:
    """The usual app.yaml, with no Slack pacing and quick jobs, so the test runs fast."""
    quick = (
        "slack:\n"
        "  enabled: false\n"
        "jobs:\n"
        "  poll_interval_seconds: 0.05\n"
        "  shutdown_grace_seconds: 5\n"
    )
    return write_config(tmp_path, quick)


def thread_texts(slack: FakeSlack) -> list[str]:
    """The texts of the peer's thread, its root first (none before the root is posted)."""
    roots = [
        m for m in slack.messages(CHANNEL) if not m.get("thread_ts") and PEER_PRETTY in m["text"]
    ]
    assert len(roots) <= 1, slack.summary()  # one thread per number
    return [str(m["text"]) for r in roots for m in slack.thread(CHANNEL, r["ts"])]


def get_messages_calls(voipbin: FakeVoipbin) -> int:
    return sum(1 for r in voipbin.requests if r.method == "GET" and r.path == "/v1.0/messages")


@pytest.mark.parametrize("inbound", ["websocket", "poll"])
async def test_serve_without_a_public_url_as_a_process(
    inbound: str, tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    log_path = tmp_path / "service.log"
    async with (
        FakeSocketMode(app_token=APP_TOKEN, team_id=TEAM, forward_to=fake_slack.base) as socket,
        FakeVoipbinWs(
            accesskey=ACCESSKEY, customer_id=fake_voipbin.customer_id, forward_to=fake_voipbin.base
        ) as ws,
    ):
        service = ServiceProcess(
            slack=fake_slack,
            voipbin=fake_voipbin,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}",
            config_path=app_yaml(tmp_path),
            log_path=str(log_path),
            args=["--no-public-url", "--inbound", inbound, "--poll-interval", "0.2"],
            env={
                "SLACK_SIGNING_SECRET": None,  # Socket Mode needs none
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_API_URL": socket.url,
                "VOIPBIN_API_URL": ws.api_url,
            },
        )
        service.start()
        try:
            await socket.wait_connected(within=60)
            if inbound == "websocket":
                await ws.wait_subscribed(within=30)
                topic = f"customer_id:{fake_voipbin.customer_id}:message"
                assert ws.subscribes == [{"type": "subscribe", "topics": [topic]}]

            # /sms over Socket Mode: acknowledged in the envelope's ack, one SMS at VoIPbin.
            ack = await socket.slash_command(f"{PEER} Hello from a process", channel=CHANNEL)
            assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
            assert "Sending to" in ack.payload["text"]
            await wait_until(lambda: len(fake_voipbin.sends()) == 1, timeout=30)
            assert fake_voipbin.sends() == [
                {
                    "source": {"type": "tel", "target": OUR_NUMBER},
                    "destinations": [{"type": "tel", "target": PEER}],
                    "text": "Hello from a process",
                }
            ]

            # The answer by SMS lands in the number's thread: pushed over the WebSocket, or
            # found by the next poll.
            answer = fake_voipbin.inbound(PEER, OUR_NUMBER, "Answered by SMS")
            polls = get_messages_calls(fake_voipbin)
            if inbound == "websocket":
                assert await ws.push_event("message_created", answer) == 1
            await wait_until(
                lambda: any("Answered by SMS" in t for t in thread_texts(fake_slack)), timeout=30
            )
            texts = thread_texts(fake_slack)  # the root, what was sent, the answer
            assert PEER_PRETTY in texts[0] and "Hello from a process" in texts[1]
            assert "Answered by SMS" in texts[2] and len(texts) == 3
            if inbound == "websocket":
                assert get_messages_calls(fake_voipbin) == polls  # the socket, not a poll
        finally:
            code = await asyncio.to_thread(service.terminate, 60)

        log = log_path.read_text(encoding="utf-8")
        assert code == 0, log
        assert len(fake_voipbin.sends()) == 1  # exactly one SMS, ever
        assert socket.open_connections == 0 and ws.open_connections == 0
        assert "sms-bridge stopped" in log
        for secret in (APP_TOKEN, BOT_TOKEN, ACCESSKEY, WEBHOOK_SECRET):
            assert secret not in log


def serve(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOIPBIN_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--config", app_yaml(tmp_path), *args],
        env=keep | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


BASE_ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "VOIPBIN_ACCESSKEY": ACCESSKEY,
    "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing may be asked: it refuses first
    "VOIPBIN_API_URL": "http://127.0.0.1:9/v1.0",
}


def test_without_an_app_token_it_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    done = serve(tmp_path, "--no-public-url", env=BASE_ENV)
    assert done.returncode == 2, done.stderr
    assert "SLACK_APP_TOKEN is not set" in done.stderr
    assert "connections:write" in done.stderr and "Socket Mode" in done.stderr
    assert "SLACK_SIGNING_SECRET" not in done.stderr  # not needed in this mode
    assert BOT_TOKEN not in done.stderr + done.stdout

    wrong = serve(tmp_path, "--no-public-url", env=BASE_ENV | {"SLACK_APP_TOKEN": BOT_TOKEN})
    assert wrong.returncode == 2
    assert "SLACK_APP_TOKEN must be an app-level token (xapp-" in wrong.stderr
    assert BOT_TOKEN not in wrong.stderr + wrong.stdout


def test_http_mode_still_needs_the_signing_secret(tmp_path: Path) -> None:
    done = serve(tmp_path, "--port", "9", env=BASE_ENV | {"SLACK_APP_TOKEN": APP_TOKEN})
    assert done.returncode == 2, done.stderr
    assert "SLACK_SIGNING_SECRET is not set" in done.stderr
    assert "serve --no-public-url" in done.stderr  # the way out without a public URL
