"""Several replicas, one Slack (issue 15): two real ``sms-bridge serve`` processes on one
throw-away PostgreSQL database keep one pace per channel, and one for the VoIPbin account,
between them, and a 429 one of them gets holds the other too.

The fake Slack paces ``chat.postMessage`` as Slack does (scaled up 2x to keep the test short:
2 a second per channel, a burst of 3) and answers an over-pace post 429: with each replica
pacing alone, two replicas post twice what the channel allows.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.db import create_engine
from bot.store.tables import jobs

from harness import ServiceProcess, slash_form, wait_for

pytestmark = pytest.mark.slow

RATE, BURST = 2.0, 3
NUMBERS = [f"+3120123{n:04d}" for n in range(1, 4)]
CHANNELS = [f"C0PACE{n:04d}" for n in range(1, 4)]


def write_config(path: Path, **more: object) -> str:
    config: dict[str, object] = {
        "region": "NL",
        "numbers": [
            {"number": number, "channel": channel}
            for number, channel in zip(NUMBERS, CHANNELS, strict=True)
        ],
        "slack": {
            "enabled": True,
            "per_channel_per_second": RATE,
            "burst": BURST,
            "timeout_seconds": 3,
        },
        "voipbin": {"timeout_seconds": 3},
        "jobs": {
            "lease_seconds": 10,
            "poll_interval_seconds": 0.05,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.5,
            "max_attempts": 50,
            "concurrency": 8,
        },
    }
    config.update(more)
    path.write_text(yaml.safe_dump(config))
    return str(path)


class Replicas:
    def __init__(
        self,
        tmp_path: Path,
        slack: FakeSlack,
        voipbin: FakeVoipbin,
        database_url: str,
        config: dict[str, object] | None = None,
    ) -> None:
        config_path = write_config(tmp_path / "app.yaml", **(config or {}))
        self.slack = slack
        self.voipbin = voipbin
        self.services = [
            ServiceProcess(
                slack=slack,
                voipbin=voipbin,
                database_url=database_url,
                config_path=config_path,
                log_path=str(tmp_path / f"replica{i}.log"),
            )
            for i in range(2)
        ]
        self.http = httpx.AsyncClient(trust_env=False, timeout=5)

    async def __aenter__(self) -> Replicas:
        for service in self.services:
            service.start()
        for service in self.services:
            await service.wait_ready()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()
        for service in self.services:
            if service.process is not None and service.process.poll() is None:
                service.terminate()

    async def inbound(self, replica: int, peer: str, to: str, text: str) -> None:
        message = self.voipbin.inbound(peer, to, text)
        body = FakeVoipbin.event("message_created", message)
        headers = {
            "content-type": "application/json",
            "x-voipbin-signature": self.voipbin.sign(body),
        }
        url = self.services[replica].url + "/voipbin/webhook"
        response = await self.http.post(url, content=body, headers=headers)
        assert response.status_code == 200, response.text

    async def slash(self, replica: int, channel: str, text: str, *, user: str) -> None:
        body, headers = slash_form(self.slack, text, channel=channel, user=user)
        url = self.services[replica].url + "/slack/events"
        response = await self.http.post(url, content=body, headers=headers)
        assert response.status_code == 200 and "Sending to" in response.text, response.text


async def test_two_replicas_keep_one_pace_per_channel(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, pg_url: str
) -> None:
    fake_slack.set_rate_limit(method="chat.postMessage", per_second=RATE, burst=BURST)
    peers = [f"+3161200{n:04d}" for n in range(1, 5)]
    per_peer = 5
    busy = CHANNELS[:2]
    async with Replicas(tmp_path, fake_slack, fake_voipbin, pg_url) as replicas:

        async def stream(c: int, p: int) -> None:
            for m in range(per_peer):
                # Each SMS to either replica: both take jobs from the same queue.
                text = f"paced {c} {p} {m}"
                await replicas.inbound((p + m) % 2, peers[p], NUMBERS[c], text)

        await asyncio.gather(*(stream(c, p) for c in range(len(busy)) for p in range(len(peers))))
        expected = len(peers) * (per_peer + 1)  # + each number's thread root
        await wait_for(
            fake_slack,
            lambda s: all(len(s.posts(channel)) == expected for channel in busy),
            timeout=90,
        )
    calls = fake_slack.calls("chat.postMessage")
    assert fake_slack.rate_limited_count <= 1, (
        f"{fake_slack.rate_limited_count} posts over the pace of {len(calls)}"
    )
    for c, channel in enumerate(busy):
        for p in range(len(peers)):
            shown = [
                post["text"].rsplit(": ", 1)[-1]
                for post in fake_slack.posts(channel)
                if f"paced {c} {p} " in post["text"]
            ]
            assert shown == [f"paced {c} {p} {m}" for m in range(per_peer)]


async def test_a_retry_after_one_replica_got_holds_the_other(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, pg_url: str
) -> None:
    hold = 4
    engine = create_engine(pg_url)
    try:
        async with Replicas(tmp_path, fake_slack, fake_voipbin, pg_url) as replicas:
            first, second = replicas.services
            # The second replica is frozen while the first takes the job and gets the 429.
            second.process.send_signal(signal.SIGSTOP)
            fake_slack.fail_next(
                "chat.postMessage",
                status=429,
                headers={"Retry-After": str(hold)},
                body={"ok": False, "error": "ratelimited"},
            )
            await replicas.inbound(0, "+31612000001", NUMBERS[0], "first")
            await wait_for(fake_slack, lambda s: len(s.calls("chat.postMessage")) == 1)
            limited_at = fake_slack.calls("chat.postMessage")[0].at

            async def handed_back() -> bool:
                async with engine.connect() as conn:
                    states = (await conn.execute(select(jobs.c.state))).scalars().all()
                return "running" not in states

            # The replica that got the 429 hands its job back (after writing the hold) ...
            deadline = time.monotonic() + 10
            while not await handed_back():
                assert time.monotonic() < deadline, "the job was not handed back after the 429"
                await asyncio.sleep(0.05)
            # ... and is gone: the other one, woken now, must keep to the hold too.
            first.kill()
            second.process.send_signal(signal.SIGCONT)
            await replicas.inbound(1, "+31612000002", NUMBERS[0], "second")
            await wait_for(fake_slack, lambda s: len(s.posts(CHANNELS[0])) == 4, timeout=30)
        posted = [c for c in fake_slack.calls("chat.postMessage") if not c.failed]
        early = [round(c.at - limited_at, 2) for c in posted if c.at - limited_at < hold - 0.1]
        assert early == [], f"posted {early} s after a 429 with Retry-After: {hold}"
    finally:
        await engine.dispose()


async def test_two_replicas_keep_one_pace_for_the_voipbin_account(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, pg_url: str
) -> None:
    # VoIPbin limits the customer, not a process (reference §6.2); scaled down here to
    # 6 requests a second with a burst of 5, the bridge configured to 4 a second (burst 4).
    # Each replica pacing alone sends 8 a second between them and is answered 429 (seen: 4).
    fake_voipbin.set_rate_limit(6.0, 5)
    fake_slack.set_rate_limit(None)  # Slack's pace is not what this test is about
    count = 32
    config = {"voipbin": {"requests_per_second": 4}, "slack": {"enabled": False}}
    async with Replicas(tmp_path, fake_slack, fake_voipbin, pg_url, config) as replicas:
        await asyncio.sleep(1.0)  # the start-up checks' requests go first
        await asyncio.gather(
            *(
                replicas.slash(
                    n % 2, CHANNELS[n % 3], f"+3161300{n:04d} burst {n}", user=f"U0B{n % 6:04d}"
                )
                for n in range(count)
            )
        )
        await wait_for(fake_voipbin, lambda v: len(v.sends()) >= count, timeout=60)
        await asyncio.sleep(0.5)
    targets = [send["destinations"][0]["target"] for send in fake_voipbin.sends()]
    assert sorted(targets) == sorted(f"+3161300{n:04d}" for n in range(count)), "each once"
    assert fake_voipbin.rate_limited_count == 0, (
        f"{fake_voipbin.rate_limited_count} VoIPbin requests over the account's pace"
    )
