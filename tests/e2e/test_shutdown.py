"""SIGTERM: stop claiming, let in-flight jobs finish or hand them back, exit 0. And the
`sms-bridge jobs` command that shows and revives dead jobs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.jobs import queue
from bot.store.db import create_engine, migrate

from harness import CHANNEL, OUR_NUMBER, ServiceProcess, wait_until

pytestmark = pytest.mark.slow


def config_file(tmp_path: Path, grace: float) -> str:
    path = tmp_path / "app.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "region": "NL",
                "numbers": [{"number": OUR_NUMBER, "channel": CHANNEL}],
                "slack": {"enabled": False, "timeout_seconds": 5},
                "jobs": {
                    "poll_interval_seconds": 0.05,
                    "lease_seconds": 5,
                    "shutdown_grace_seconds": grace,
                },
            }
        )
    )
    return str(path)


async def _inbound(service: ServiceProcess, voipbin: FakeVoipbin, text: str) -> None:
    import httpx

    message = voipbin.inbound("+31612345678", OUR_NUMBER, text)
    body = FakeVoipbin.event("message_created", message)
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(
            f"{service.url}/voipbin/webhook",
            content=body,
            headers={"x-voipbin-signature": voipbin.sign(body)},
        )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("grace", "hang"), [(5.0, 1.5), (0.5, 2.5)], ids=["finishes-in-grace", "released"]
)
async def test_sigterm_finishes_or_hands_back_in_flight_jobs(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    sqlite_url: str,
    grace: float,
    hang: float,
) -> None:
    kwargs: dict[str, Any] = {
        "slack": fake_slack,
        "voipbin": fake_voipbin,
        "database_url": sqlite_url,
        "config_path": config_file(tmp_path, grace),
        "log_path": str(tmp_path / "service.log"),
    }
    service = ServiceProcess(**kwargs)
    service.start()
    await service.wait_ready()
    await _inbound(service, fake_voipbin, "opening")
    await wait_until(lambda: len(fake_slack.messages(CHANNEL)) == 2)
    fake_slack.fail_next("chat.postMessage", mode="hang", delay=hang)
    await _inbound(service, fake_voipbin, "in flight at shutdown")
    await wait_until(lambda: len(fake_slack.calls("chat.postMessage")) >= 2, timeout=5)
    await asyncio.sleep(0.2)  # the post is now hanging at the fake
    code = await asyncio.to_thread(service.terminate)
    assert code == 0
    engine = create_engine(sqlite_url)
    try:
        states = {j.state for j in await queue.list_jobs(engine, ["running"])}
        assert states == set(), "no job is left claimed by the stopped process"
    finally:
        await engine.dispose()
    # A new process finishes whatever was handed back, without posting twice.
    again = ServiceProcess(**kwargs)
    again.start()
    await again.wait_ready()
    await wait_until(
        lambda: any("in flight" in m["text"] for m in fake_slack.messages(CHANNEL)), timeout=15
    )
    await asyncio.sleep(0.5)
    assert await asyncio.to_thread(again.terminate) == 0
    shown = [m for m in fake_slack.messages(CHANNEL) if "in flight" in m["text"]]
    assert len(shown) == 1


async def test_jobs_command_lists_and_revives_dead_jobs(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate(engine)
    async with engine.begin() as conn:
        await queue.enqueue(conn, kind="post_inbound", key="k1", payload={}, now=100.0)
    (job,) = await queue.claim(engine, owner="w", now=101, limit=1, lease_seconds=30)
    await queue.bury(engine, job, owner="w", now=102, error="Slack refused: not_in_channel")
    await engine.dispose()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "jobs", *args],
            env={"DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    listed = await asyncio.to_thread(run, "dead")
    assert listed.returncode == 0, listed.stderr
    assert "dead" in listed.stdout and "not_in_channel" in listed.stdout
    revived = await asyncio.to_thread(run, "retry", str(job.id))
    assert revived.returncode == 0 and "queued again" in revived.stdout
    again = await asyncio.to_thread(run, "retry", str(job.id))
    assert again.returncode == 1
    pending = await asyncio.to_thread(run, "list")
    assert "pending" in pending.stdout
