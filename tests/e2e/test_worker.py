"""``sms-bridge serve --no-jobs`` beside ``sms-bridge worker`` (DESIGN.md "Storage"): the
first answers Slack and VoIPbin and only records; the second, another process on the same
database, does the work. Both are real subprocesses; Slack and VoIPbin are the fakes."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.exit_codes import Exit
from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import (
    CHANNEL,
    Service,
    ServiceProcess,
    free_port,
    process_env,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow

PEER = "+31612345678"


def start_worker(
    slack: FakeSlack,
    voipbin: FakeVoipbin,
    database_url: str,
    config: str,
    log: Path,
    *,
    port: int | None = None,
) -> subprocess.Popen[bytes]:
    env = process_env(slack, voipbin, database_url)
    # A worker takes no requests and must not need the signing secret.
    del env["SLACK_SIGNING_SECRET"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--config", config]
            + ([] if port is None else ["--port", str(port)]),
            env=env,
            stdout=out,
            stderr=out,
        )


@pytest.mark.timeout(120)
async def test_serve_without_jobs_records_and_the_worker_does_the_work(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "jobs:\n  poll_interval_seconds: 0.1\n")
    front = ServiceProcess(
        slack=fake_slack,
        voipbin=fake_voipbin,
        database_url=database_url,
        config_path=config,
        log_path=str(tmp_path / "serve.log"),
        args=["--no-jobs"],
    )
    front.start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        await front.wait_ready()
        async with httpx.AsyncClient(base_url=front.url, trust_env=False) as http:
            service = Service(http=http, slack=fake_slack, voipbin=fake_voipbin, app=None)
            response = await service.slash(f"{PEER} sent by the worker")
            assert response.status_code == 200
            assert "Sending" in response.json()["text"]
            await service.inbound(PEER, "taken in by the worker")

            # Recorded, and nothing done: no job runs in the serving process (its jobs would
            # have run within the 0.1 s poll).
            await asyncio.sleep(1.0)
            assert fake_voipbin.sends() == []
            assert fake_slack.posts(CHANNEL) == []

            health = f"http://127.0.0.1:{free_port()}"
            worker = start_worker(
                fake_slack,
                fake_voipbin,
                database_url,
                config,
                tmp_path / "worker.log",
                port=int(health.rsplit(":", 1)[1]),
            )
            await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1, timeout=30)
            assert fake_voipbin.sends()[0]["text"].startswith("sent by the worker")
            await wait_for(
                fake_slack,
                lambda s: any("taken in by the worker" in p["text"] for p in s.posts(CHANNEL)),
                timeout=30,
            )
            # Still one SMS, one thread for the number.
            await asyncio.sleep(0.5)
            assert len(fake_voipbin.sends()) == 1
            roots = [p for p in fake_slack.posts(CHANNEL) if not p.get("thread_ts")]
            assert len(roots) == 1

            # The worker's own health routes: its job counters live only in its process.
            async with httpx.AsyncClient(base_url=health, trust_env=False) as probe:
                assert (await probe.get("/healthz")).json() == {"ok": True}
                ready = await probe.get("/readyz")
                assert ready.status_code == 200 and ready.json()["database"] == "ok"
                metrics = (await probe.get("/metrics")).text
                assert 'sms_bridge_jobs_total{kind="send_sms",outcome="done"} 1.0' in metrics
                assert 'sms_bridge_job_queue_depth{state="pending"}' in metrics, metrics
                # Not the front door: no Slack or VoIPbin requests are taken here.
                assert (await probe.post("/voipbin/webhook", content=b"{}")).status_code == 404

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
        assert "sms-bridge worker stopped" in (tmp_path / "worker.log").read_text()
        # the worker names its dependencies at start too; it takes no webhooks
        lines = (tmp_path / "worker.log").read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        named = {(e["dependency"], e["status"]) for e in entries if "dependency" in e}
        assert named == {("database", "ok"), ("slack", "ok"), ("voipbin", "ok")}, entries
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        front.terminate()


@pytest.mark.timeout(60)
def test_a_worker_whose_health_port_is_taken_says_so_and_exits_5(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    (tmp_path / "taken.db").touch()  # a worker uses the service's database, never creates one
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        worker = start_worker(
            fake_slack,
            fake_voipbin,
            f"sqlite+aiosqlite:///{tmp_path / 'taken.db'}",
            config,
            tmp_path / "worker.log",
            port=port,
        )
        try:
            assert worker.wait(timeout=45) == Exit.CANNOT_LISTEN
        finally:
            if worker.poll() is None:
                worker.kill()
    log = (tmp_path / "worker.log").read_text()
    assert f"cannot listen on 127.0.0.1:{port}" in log
    assert "sms-bridge worker stopped" in log
