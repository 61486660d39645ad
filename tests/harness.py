"""Runs the real service on 127.0.0.1 against the fakes, and speaks to it as Slack and VoIPbin
do: signed slash commands and events, signed webhooks, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier

from bot.config import AppConfig, Settings
from bot.fakes.slack import FakeSlack
from bot.fakes.slack_limits import refusal
from bot.fakes.voipbin import FakeVoipbin
from bot.web import create_app

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token-0123456789"
ACCESSKEY = "vb_test_accesskey_secret_42"
WEBHOOK_SECRET = "test-webhook-secret"
TEAM = "T0001"
CHANNEL = "C0SMS00001"
OUR_NUMBER = "+31201234567"
ALERTS = "C0ALERTS01"


def make_config(**overrides: Any) -> AppConfig:
    data: dict[str, Any] = {
        "region": "NL",
        "numbers": [{"number": OUR_NUMBER, "channel": CHANNEL}],
        "alerts": {"channel": ALERTS, "stuck_after": 600},
        "policy": {"countries": ["NL", "GB"]},
        "slack": {"enabled": False},
        "jobs": {
            "poll_interval_seconds": 0.05,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "max_attempts": 4,
        },
    }
    data.update(overrides)
    return AppConfig.model_validate(data)


def write_config(tmp_path: Path, extra: str = "") -> str:
    """An ``app.yaml`` as an operator writes it: OUR_NUMBER routed to CHANNEL, alerts to
    ALERTS, then ``extra`` (more top-level keys); returns its path."""
    path = tmp_path / "app.yaml"
    path.write_text(
        "region: NL\n"
        "numbers:\n"
        f"  - number: '{OUR_NUMBER}'\n"
        f"    channel: {CHANNEL}\n"
        "alerts:\n"
        f"  channel: {ALERTS}\n" + extra,
        encoding="utf-8",
    )
    return str(path)


def make_settings(
    slack: FakeSlack, voipbin: FakeVoipbin, database_url: str, *, webhook_secret: bool = True
) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "VOIPBIN_ACCESSKEY": ACCESSKEY,
        "VOIPBIN_API_URL": voipbin.url,
        "DATABASE_URL": database_url,
    }
    if webhook_secret:
        env["VOIPBIN_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    return Settings.model_validate(env)


def sign_slack(body: str, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
    return {"x-slack-request-timestamp": ts, "x-slack-signature": signature}


def slash_form(
    slack: FakeSlack,
    text: str,
    *,
    channel: str = CHANNEL,
    user: str = "U0ANNA",
    command: str = "/sms",
) -> tuple[str, dict[str, str]]:
    """A slash command as Slack posts it: the form body and its signed headers; its
    ``response_url`` is on the fake Slack."""
    body = urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "support",
            "user_id": user,
            "user_name": "anna",
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": f"{slack.base}/response/{uuid.uuid4().hex}",
            "trigger_id": "1.2.3",
        }
    )
    return body, sign_slack(body) | {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Service:
    """The running service and the ways to reach it."""

    http: httpx.AsyncClient
    slack: FakeSlack
    voipbin: FakeVoipbin
    app: Any
    _ts: int = field(default=1_700_000_500)

    async def slash(
        self, text: str, *, channel: str = CHANNEL, user: str = "U0ANNA", command: str = "/sms"
    ) -> httpx.Response:
        body, headers = slash_form(self.slack, text, channel=channel, user=user, command=command)
        return check_ack(await self.http.post("/slack/events", content=body, headers=headers))

    def next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts}.000200"

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM,
                "api_app_id": "A0001",
                "event": event,
                "type": "event_callback",
                "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
            }
        )
        headers = sign_slack(body) | {"content-type": "application/json"}
        if retry_num is not None:
            headers |= {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def reply(
        self,
        thread_ts: str,
        text: str,
        *,
        user: str = "U0ANNA",
        channel: str = CHANNEL,
        ts: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
        **extra: Any,
    ) -> httpx.Response:
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts or self.next_ts(),
            "thread_ts": thread_ts,
            "channel_type": "channel",
            "team": TEAM,
        } | extra
        return await self.event(event, event_id=event_id, retry_num=retry_num)

    async def webhook(
        self, kind: str, message: dict[str, Any], *, signature: str | None = None
    ) -> httpx.Response:
        body = FakeVoipbin.event(kind, message)
        sig = self.voipbin.sign(body) if signature is None else signature
        headers = {"content-type": "application/json"}
        if sig:
            headers["x-voipbin-signature"] = sig
        return await self.http.post("/voipbin/webhook", content=body, headers=headers)

    async def inbound(self, sender: str, text: str, *, to: str = OUR_NUMBER) -> dict[str, Any]:
        message = self.voipbin.inbound(sender, to, text)
        response = await self.webhook("message_created", message)
        assert response.status_code == 200, response.text
        return message


@contextlib.asynccontextmanager
async def serve(
    slack: FakeSlack,
    voipbin: FakeVoipbin,
    database_url: str,
    *,
    config: AppConfig | None = None,
    webhook_secret: bool = True,
) -> AsyncIterator[Service]:
    """Start the real app (the factory ``sms-bridge serve`` uses) under uvicorn on a free
    loopback port, and stop it (lifespan included) on exit."""
    config = config or make_config()
    if not config.slack.enabled:
        # The bridge's own pacing is off in this config (most tests are about other things and
        # post a thread root, a message and a notice in the same millisecond), so the fake's
        # per-channel pacing is off too; tests of pacing turn both on (tests/e2e/test_faults.py).
        # chat.update keeps Slack's workspace limit: the bridge does not pace it at all.
        slack.set_rate_limit("chat.postMessage", None)
    app = create_app(
        make_settings(slack, voipbin, database_url, webhook_secret=webhook_secret), config
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), timeout=15)
    if task.done():
        task.result()
        raise RuntimeError("the service did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
        try:
            yield Service(http=http, slack=slack, voipbin=voipbin, app=app)
            # Slack accepts blocks without a text fallback, but notifications and screen
            # readers then show nothing: every test that ran the app fails on one here.
            warned = [f"{c.method} {c.params.get('channel', '')}" for c in slack.warned()]
            assert not warned, f"blocks without a text fallback: {warned}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=30)


def check_ack(response: httpx.Response) -> httpx.Response:
    """Fail the test if the app answered Slack's request (a slash command, an interaction)
    with a body real Slack would refuse: the same rules as the fake Slack's
    (bot/fakes/slack_limits.py), with blocks sent without a text fallback refused too."""
    if response.status_code != 200 or not response.content:
        return response
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text
    warnings: list[str] = []
    refused = refusal("ack", body, warnings=warnings)
    if refused is not None or warnings:
        problems = list(refused.problems) if refused is not None else warnings
        error = refused.error if refused is not None else "warning"
        raise AssertionError(
            f"Slack would refuse the app's answer ({error}):\n  "
            + "\n  ".join(problems)
            + f"\nthe answer: {response.text[:2000]}"
        )
    return response


async def wait_until(predicate: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Wait for a condition with a deadline (the service works in the background)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def wait_for(
    slack_or_voipbin: Any, predicate: Callable[[Any], bool], timeout: float = 10
) -> None:
    """Wait for a fake to have seen something, without blocking the event loop."""
    await wait_until(lambda: predicate(slack_or_voipbin), timeout=timeout)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(slack: FakeSlack, voipbin: FakeVoipbin, database_url: str) -> dict[str, str]:
    """The environment of an ``sms-bridge`` subprocess talking to the fakes: this one's,
    without any SLACK_/VOIPBIN_ variable of the machine, plus the test identities."""
    import os

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VOIPBIN_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "VOIPBIN_ACCESSKEY": ACCESSKEY,
        "VOIPBIN_API_URL": voipbin.url,
        "VOIPBIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }


class ServiceProcess:
    """``sms-bridge serve`` as a real subprocess, for the tests that kill it. ``args`` are
    added to the command line; ``env`` overrides the environment (None unsets a name)."""

    def __init__(
        self,
        *,
        slack: FakeSlack,
        voipbin: FakeVoipbin,
        database_url: str,
        config_path: str,
        log_path: str,
        args: Sequence[str] = (),
        env: Mapping[str, str | None] | None = None,
    ) -> None:
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._argv = [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--config",
            config_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *args,
        ]
        base: dict[str, str | None] = {**process_env(slack, voipbin, database_url)}
        merged: dict[str, str | None] = {**base, **(env or {})}
        self._env = {k: v for k, v in merged.items() if v is not None}
        self.process: Any = None

    def start(self) -> None:
        import subprocess

        log = open(self._log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(self._argv, env=self._env, stdout=log, stderr=log)
        log.close()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"service exited with {self.process.returncode}")
                try:
                    if (await client.get(f"{self.url}/healthz", timeout=1)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("service did not become ready")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 60.0) -> int:
        import signal

        self.process.send_signal(signal.SIGTERM)
        return int(self.process.wait(timeout=timeout))
