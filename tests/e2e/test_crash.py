"""Nothing lost, nothing twice: the real service as a subprocess, killed with SIGKILL at random
moments under load, restarted, and checked from outside.

Senders behave like the real ones: VoIPbin redelivers a webhook that got no 2xx, Slack
redelivers an event (same event_id), and a person whose /sms got no answer does not know
whether it went out. So: every inbound SMS and thread reply must appear exactly once, every
acknowledged /sms exactly once, an unacknowledged one at most once, and each thread keeps the
order in which its messages were accepted.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.db import create_engine
from bot.store.tables import jobs

from harness import (
    ACCESSKEY,
    BOT_TOKEN,
    CHANNEL,
    OUR_NUMBER,
    TEAM,
    WEBHOOK_SECRET,
    ServiceProcess,
    sign_slack,
    slash_form,
)

pytestmark = pytest.mark.slow

INBOUND = 200  # N: inbound webhooks
COMMANDS = 30  # M = COMMANDS + REPLIES
REPLIES = 30
PEERS = [f"+316{n:08d}" for n in range(10_000_001, 10_000_021)]  # 20 numbers
KILLS = 3


def write_config(path: Path) -> str:
    config = {
        "region": "NL",
        "numbers": [{"number": OUR_NUMBER, "channel": CHANNEL}],
        "slack": {"enabled": False, "timeout_seconds": 3},
        "voipbin": {"timeout_seconds": 3},
        "jobs": {
            "lease_seconds": 5,
            "poll_interval_seconds": 0.05,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.5,
            "max_attempts": 50,
            "concurrency": 8,
        },
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


class Load:
    """Sends the traffic against whichever replica is up, retrying like the real senders."""

    def __init__(self, urls: list[str], slack: FakeSlack, voipbin: FakeVoipbin) -> None:
        self.urls = urls
        self.slack = slack
        self.voipbin = voipbin
        self.acked_commands: list[str] = []
        self.unacked_commands: list[str] = []
        self.inbound_order: dict[str, list[str]] = {p: [] for p in PEERS}
        self.replies: list[str] = []
        self.http = httpx.AsyncClient(trust_env=False, timeout=5)

    async def _post(self, path: str, body: bytes | str, headers: dict[str, str]) -> int | None:
        url = random.choice(self.urls) + path
        try:
            return (await self.http.post(url, content=body, headers=headers)).status_code
        except httpx.HTTPError:
            return None

    async def inbound(self, peer: str, text: str) -> None:
        message = self.voipbin.inbound(peer, OUR_NUMBER, text)
        body = FakeVoipbin.event("message_created", message)
        headers = {
            "content-type": "application/json",
            "x-voipbin-signature": self.voipbin.sign(body),
        }
        while await self._post("/voipbin/webhook", body, headers) != 200:
            await asyncio.sleep(0.1)  # VoIPbin retries; we keep going until it lands

    async def peer_stream(self, peer: str, count: int) -> None:
        for seq in range(count):
            text = f"in {peer} #{seq:03d}"
            await self.inbound(peer, text)
            self.inbound_order[peer].append(text)

    async def command(self, n: int) -> None:
        text = f"cmd #{n:03d}"
        body, headers = slash_form(self.slack, f"{PEERS[n % len(PEERS)]} {text}")
        status = await self._post("/slack/events", body, headers)
        (self.acked_commands if status == 200 else self.unacked_commands).append(text)

    async def reply(self, n: int, thread_ts: str) -> None:
        text = f"reply #{n:03d}"
        ts = f"{1_800_000_000 + n}.000100"
        body = json.dumps(
            {
                "team_id": TEAM,
                "type": "event_callback",
                "event_id": f"EvCRASH{n:04d}",
                "event": {
                    "type": "message",
                    "channel": CHANNEL,
                    "user": "U0ANNA",
                    "text": text,
                    "ts": ts,
                    "thread_ts": thread_ts,
                },
            }
        )
        attempt = 0
        while True:
            headers = sign_slack(body) | {"content-type": "application/json"}
            if attempt:
                headers["x-slack-retry-num"] = str(attempt)
            if await self._post("/slack/events", body, headers) == 200:
                break
            attempt += 1
            await asyncio.sleep(0.1)
        self.replies.append(text)


async def drained(database_url: str, timeout: float = 120) -> None:
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with engine.connect() as conn:
                busy = (
                    await conn.execute(
                        select(func.count())
                        .select_from(jobs)
                        .where(
                            jobs.c.state.in_(["pending", "running"]), jobs.c.kind != "check_stuck"
                        )
                    )
                ).scalar_one()
                dead = (
                    await conn.execute(
                        select(func.count()).select_from(jobs).where(jobs.c.state == "dead")
                    )
                ).scalar_one()
            assert dead == 0, "a job gave up during the crash test"
            if busy == 0:
                return
            assert time.monotonic() < deadline, f"{busy} jobs still pending"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def run_crash_scenario(
    tmp_path: Path, slack: FakeSlack, voipbin: FakeVoipbin, database_url: str, replicas: int
) -> dict[str, Any]:
    config_path = write_config(tmp_path / "app.yaml")
    services = [
        ServiceProcess(
            slack=slack,
            voipbin=voipbin,
            database_url=database_url,
            config_path=config_path,
            log_path=str(tmp_path / f"service{i}.log"),
        )
        for i in range(replicas)
    ]
    for service in services:
        service.start()
    for service in services:
        await service.wait_ready()
    load = Load([s.url for s in services], slack, voipbin)
    # Warm-up: a thread for each number, so the thread replies have somewhere to go.
    for peer in PEERS:
        await load.inbound(peer, f"hello from {peer}")
        load.inbound_order[peer].append(f"hello from {peer}")
    await drained(database_url)
    thread_of = {p["text"]: p["thread_ts"] for p in slack.posts(CHANNEL) if p.get("thread_ts")}
    threads = [thread_of[next(t for t in thread_of if peer in t)] for peer in PEERS]

    per_peer = (INBOUND - len(PEERS)) // len(PEERS)
    traffic = [load.peer_stream(peer, per_peer) for peer in PEERS]
    traffic += [load.command(n) for n in range(COMMANDS)]
    traffic += [load.reply(n, threads[n % len(threads)]) for n in range(REPLIES)]

    async def killer() -> int:
        kills = 0
        while kills < KILLS:
            await asyncio.sleep(random.uniform(0.3, 1.2))
            victim = random.choice(services)
            victim.kill()
            kills += 1
            victim.start()
            await victim.wait_ready()
        return kills

    random.shuffle(traffic)
    kills, *_ = await asyncio.gather(killer(), *traffic)
    await drained(database_url)
    codes = [service.terminate() for service in services]
    await load.http.aclose()
    return {
        "load": load,
        "kills": kills,
        "exit_codes": codes,
        "inbound": sum(len(v) for v in load.inbound_order.values()),
    }


def check_exactly_once(
    result: dict[str, Any], slack: FakeSlack, voipbin: FakeVoipbin
) -> dict[str, int]:
    load: Load = result["load"]
    posts = slack.messages(CHANNEL)
    texts = Counter()
    for message in posts:
        for needle in ("in +", "hello from", "cmd #", "reply #"):
            if needle in message["text"]:
                # the rendered text holds the SMS; count the SMS it shows
                texts[_sms_text(message["text"])] += 1
    sent = Counter(s["text"] for s in voipbin.sends())

    lost = duplicated = 0
    for peer, expected in load.inbound_order.items():
        for text in expected:
            lost += texts[text] == 0
            duplicated += max(0, texts[text] - 1)
        # order kept in the peer's thread
        shown = [_sms_text(m["text"]) for m in posts if m.get("thread_ts") and peer in m["text"]]
        shown = [t for t in shown if t in set(expected)]
        assert shown == expected, f"order broken in the thread of {peer}"
    for text in load.acked_commands + load.replies:
        lost += sent[text] == 0
        duplicated += max(0, sent[text] - 1)
    for text in load.unacked_commands:
        duplicated += max(0, sent[text] - 1)
    roots = Counter(m["text"] for m in posts if not m.get("thread_ts"))
    duplicated += sum(n - 1 for n in roots.values() if n > 1)
    return {"lost": lost, "duplicated": duplicated}


def _sms_text(rendered: str) -> str:
    # "SMS from +31 6 10000001: in +31610000001 #003" -> the text after the first ": "
    return rendered.split(": ", 1)[1] if ": " in rendered else rendered


async def _scenario(
    tmp_path: Path, database_url: str, replicas: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        FakeSlack(bot_token=BOT_TOKEN) as slack,
        FakeVoipbin(accesskey=ACCESSKEY, webhook_secret=WEBHOOK_SECRET) as voipbin,
    ):
        # The scenario drives hundreds of messages into one channel with the bridge's pacing
        # off (write_config), far faster than Slack's ~1/s per channel: it is about crashes
        # losing or doubling nothing, not about pacing, so the fake's post pacing is off too.
        slack.set_rate_limit("chat.postMessage", None)
        result = await run_crash_scenario(tmp_path, slack, voipbin, database_url, replicas)
        figures = check_exactly_once(result, slack, voipbin)
    load: Load = result["load"]
    m = len(load.acked_commands) + len(load.unacked_commands) + len(load.replies)
    report = (
        f"crash test db={database_url.split(':')[0]} replicas={replicas} "
        f"N={result['inbound']} M={m} "
        f"kills={result['kills']} lost={figures['lost']} duplicated={figures['duplicated']} "
        f"unacked_commands={len(load.unacked_commands)}"
    )
    with capsys.disabled():
        print("\n" + report)
    assert result["kills"] >= KILLS
    assert result["inbound"] >= 200
    assert figures == {"lost": 0, "duplicated": 0}, report
    assert result["exit_codes"] == [0] * replicas


async def test_crash_sqlite(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await _scenario(tmp_path, sqlite_url, 1, capsys)


@pytest.mark.parametrize("replicas", [1, 2])
async def test_crash_postgresql(
    tmp_path: Path, pg_url: str, replicas: int, capsys: pytest.CaptureFixture[str]
) -> None:
    await _scenario(tmp_path, pg_url, replicas, capsys)
