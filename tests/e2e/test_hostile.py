"""Hostile input and secrets: garbage on both endpoints never gets a 5xx or sends anything,
and a full scenario logged at DEBUG holds no secret and, at INFO and above, no full number."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import httpx
import pytest
import yaml

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.tables import jobs, messages

from harness import (
    ACCESSKEY,
    BOT_TOKEN,
    CHANNEL,
    OUR_NUMBER,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    ServiceProcess,
    serve,
    sign_slack,
    wait_until,
)
from test_bridge_e2e import PEER, count, idle


def _bodies(seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    samples: list[bytes] = [
        b"",
        b"{}",
        b"null",
        b'{"type": null}',
        b'{"type": "message_created", "data": {"id": 1}}',
        b'{"type": "message_created", "data": {"id": "x", "targets": "nope"}}',
        b'{"type": "message_created", "data": {"id": "x", "direction": "inbound", "targets": []}}',
        b'{"type": "message_updated", "data": {"id": "x", "direction": "outbound"}}',
        json.dumps({"type": "message_created", "data": {"id": "y" * 10_000}}).encode(),
        '{"type": "\u0000"}'.encode(),
    ]
    for _ in range(n):
        size = rng.randint(0, 300)
        samples.append(bytes(rng.getrandbits(8) for _ in range(size)))
    return samples


async def test_garbage_on_both_endpoints_never_gets_a_5xx(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url) as service:
        for body in _bodies(seed=7, n=150):
            signed = {"x-voipbin-signature": fake_voipbin.sign(body)}
            webhook = await service.http.post("/voipbin/webhook", content=body, headers=signed)
            assert webhook.status_code < 500, body[:80]
            unsigned = await service.http.post("/voipbin/webhook", content=body)
            assert unsigned.status_code == 401
            text = body.decode("latin-1")
            for content_type in ("application/json", "application/x-www-form-urlencoded"):
                headers = sign_slack(text) | {"content-type": content_type}
                slack = await service.http.post("/slack/events", content=body, headers=headers)
                assert slack.status_code < 500, body[:80]
        # a stale Slack signature (outside Bolt's five-minute window) is refused
        stale = "command=%2Fsms&text=%2B31612345678+hi&channel_id=" + CHANNEL
        headers = sign_slack(stale, timestamp=1_600_000_000)
        headers["content-type"] = "application/x-www-form-urlencoded"
        assert (
            await service.http.post("/slack/events", content=stale, headers=headers)
        ).status_code == 401
        too_big = b"{" + b" " * (300 * 1024) + b"}"
        big = await service.http.post(
            "/slack/events", content=too_big, headers=sign_slack(too_big.decode())
        )
        assert big.status_code == 413
        await idle(service)
        assert await count(service, messages) == 0
        assert await count(service, jobs) == 0
    assert fake_voipbin.sends() == []


@pytest.mark.slow
async def test_no_secret_in_any_log_line_and_no_full_number_at_info(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "region": "NL",
                "numbers": [{"number": OUR_NUMBER, "channel": CHANNEL}],
                "alerts": {"channel": "C0ALERTS01"},
                "slack": {"enabled": False},
                "jobs": {
                    "poll_interval_seconds": 0.05,
                    "backoff_base_seconds": 0.05,
                    "backoff_max_seconds": 0.1,
                    "max_attempts": 2,
                },
            }
        )
    )
    log_path = tmp_path / "service.log"
    service = ServiceProcess(
        slack=fake_slack,
        voipbin=fake_voipbin,
        database_url=sqlite_url,
        config_path=str(config),
        log_path=str(log_path),
    )
    service._env["LOG_LEVEL"] = "DEBUG"
    service.start()
    try:
        await service.wait_ready()
        async with httpx.AsyncClient(base_url=service.url, trust_env=False) as http:
            # a send, an inbound SMS, a failure of each kind, a bad signature
            body = (
                f"command=%2Fsms&text={PEER.replace('+', '%2B')}+hi&channel_id={CHANNEL}&user_id=U1"
            )
            headers = sign_slack(body) | {"content-type": "application/x-www-form-urlencoded"}
            assert (
                await http.post("/slack/events", content=body, headers=headers)
            ).status_code == 200
            await wait_until(lambda: len(fake_voipbin.sends()) == 1)
            message = fake_voipbin.inbound(PEER, OUR_NUMBER, "hello")
            event = FakeVoipbin.event("message_created", message)
            sig = {"x-voipbin-signature": fake_voipbin.sign(event)}
            assert (
                await http.post("/voipbin/webhook", content=event, headers=sig)
            ).status_code == 200
            fake_voipbin.fail_next("POST /messages", mode="reset", times=5)
            body2 = body.replace("hi", "again")
            headers = sign_slack(body2) | {"content-type": "application/x-www-form-urlencoded"}
            await http.post("/slack/events", content=body2, headers=headers)
            await wait_until(lambda: len(fake_slack.posts("C0ALERTS01")) >= 1, timeout=20)
            bad = await http.post(
                "/voipbin/webhook", content=event, headers={"x-voipbin-signature": "sha256=00"}
            )
            assert bad.status_code == 401
    finally:
        assert await asyncio.to_thread(service.terminate) == 0
    text = log_path.read_text()
    assert "sms accepted" in text, "the scenario was logged"
    for secret in (BOT_TOKEN, SIGNING_SECRET, ACCESSKEY, WEBHOOK_SECRET):
        assert secret not in text, "a secret reached the log"
    for line in text.splitlines():
        # LOG_LEVEL=debug is sms-bridge's own debugging: no library's statements and values
        # (LOG_LIBRARY_LEVEL), and no full number at any level (LOG_UNMASKED).
        assert PEER not in line, f"a full phone number: {line}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry["level"] == "debug":
            assert entry["logger"].startswith("bot"), f"a library's debug line: {line}"


def test_json_log_lines_carry_the_ids_as_fields() -> None:
    import io
    import logging

    from bot.logs import JsonFormatter, RedactSecrets

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets(["vb_secret_value"]))
    logger = logging.getLogger("bot.test")
    logger.addHandler(handler)
    try:
        logger.warning(
            "sms sent message_id=%d conversation_id=%d url=%s", 17, 3, "x?accesskey=vb_secret_value"
        )
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["message_id"] == 17 and entry["conversation_id"] == 3
    assert entry["level"] == "warning"
    assert "vb_secret_value" not in stream.getvalue()
