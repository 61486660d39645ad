"""Issue 18, finding 3: at start, ``sms-bridge serve`` (and ``worker``) log one line per
dependency — the database, the Slack token, the VoIPbin access key, the VoIPbin webhook —
saying ok or what is wrong and what to do, with no secret; a refused credential is a warning
that repeats until it is fixed. Real processes against the fakes, their JSON log read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import (
    ACCESSKEY,
    BOT_TOKEN,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    ServiceProcess,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.timeout(120)


def _entries(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _about(log: Path, name: str) -> list[dict[str, Any]]:
    return [e for e in _entries(log) if e.get("dependency") == name]


def _no_secret(log: Path) -> None:
    text = log.read_text()
    for secret in (BOT_TOKEN, SIGNING_SECRET, ACCESSKEY, WEBHOOK_SECRET, "xoxb-wrong-token"):
        assert secret not in text


async def _started(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    *,
    env: dict[str, str | None] | None = None,
) -> tuple[ServiceProcess, Path]:
    log = tmp_path / "service.log"
    service = ServiceProcess(
        slack=fake_slack,
        voipbin=fake_voipbin,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}",
        config_path=write_config(tmp_path, "  dependency_check_seconds: 1\n"),
        log_path=str(log),
        env=env,
    )
    service.start()
    return service, log


async def test_good_credentials_say_ok_once_each_and_name_the_database(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    fake_voipbin.set_webhook("https://bridge.example.org/voipbin/webhook")
    service, log = await _started(tmp_path, fake_slack, fake_voipbin)
    try:
        await service.wait_ready()
        names = ("database", "slack", "voipbin", "webhook")
        await wait_until(lambda: all(_about(log, n) for n in names), timeout=20)
        # a few more checks go by: still one line each
        checks = len(fake_slack.calls("auth.test"))
        await wait_until(lambda: len(fake_slack.calls("auth.test")) >= checks + 2, timeout=20)
    finally:
        assert await asyncio.to_thread(service.terminate) == 0
    for name in names:
        lines = _about(log, name)
        assert [(e["level"], e["status"]) for e in lines] == [("info", "ok")], lines
    assert "bridge.db" in _about(log, "database")[0]["message"]
    assert "POST https://bridge.example.org/voipbin/webhook" in _about(log, "webhook")[0]["message"]
    _no_secret(log)


async def test_a_refused_slack_token_warns_until_it_is_fixed(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    service, log = await _started(
        tmp_path, fake_slack, fake_voipbin, env={"SLACK_BOT_TOKEN": "xoxb-wrong-token"}
    )
    try:
        await service.wait_ready()
        await wait_until(lambda: len(_about(log, "slack")) >= 3, timeout=30)
        # Slack starts taking the token (as when an app is reinstalled with it): said once
        fake_slack.bot_token = "xoxb-wrong-token"
        await wait_until(lambda: _about(log, "slack")[-1]["status"] == "ok", timeout=30)
        checks = len(fake_slack.calls("auth.test"))
        await wait_until(lambda: len(fake_slack.calls("auth.test")) >= checks + 2, timeout=20)
    finally:
        assert await asyncio.to_thread(service.terminate) == 0
    lines = _about(log, "slack")
    *wrong, fixed = lines
    assert len(wrong) >= 3
    assert {(e["level"], e["status"]) for e in wrong} == {("warning", "wrong")}, lines
    assert "invalid token (invalid_auth)" in wrong[0]["message"]
    assert "SLACK_BOT_TOKEN" in wrong[0]["message"]
    assert (fixed["level"], fixed["status"]) == ("info", "ok")
    assert "ok again" in fixed["message"]
    # the other dependencies are fine and said so once
    assert [e["status"] for e in _about(log, "voipbin")] == ["ok"]
    assert [e["status"] for e in _about(log, "database")] == ["ok"]
    _no_secret(log)


async def test_a_refused_voipbin_key_and_a_missing_webhook_are_named(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    service, log = await _started(
        tmp_path, fake_slack, fake_voipbin, env={"VOIPBIN_ACCESSKEY": "not-the-key"}
    )
    try:
        await service.wait_ready()
        await wait_until(lambda: len(_about(log, "voipbin")) >= 2, timeout=30)
    finally:
        assert await asyncio.to_thread(service.terminate) == 0
    lines = _about(log, "voipbin")
    assert {(e["level"], e["status"]) for e in lines} == {("warning", "wrong")}, lines
    assert "invalid access key" in lines[0]["message"]
    assert "VOIPBIN_ACCESSKEY" in lines[0]["message"]
    assert "not-the-key" not in log.read_text()
    # the webhook cannot be read without the key: no line claims it is fine
    assert all(e["status"] != "ok" for e in _about(log, "webhook"))


async def test_an_unset_webhook_is_a_warning_with_the_fix(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin
) -> None:
    fake_voipbin.set_webhook("")
    service, log = await _started(tmp_path, fake_slack, fake_voipbin)
    try:
        await service.wait_ready()
        await wait_until(lambda: len(_about(log, "webhook")) >= 2, timeout=30)
    finally:
        assert await asyncio.to_thread(service.terminate) == 0
    line = _about(log, "webhook")[0]
    assert (line["level"], line["status"]) == ("warning", "wrong")
    assert "webhook_uri is not set" in line["message"]
    assert "--fix-webhook" in line["message"]
