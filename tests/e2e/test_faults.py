"""Fault injection: Slack and VoIPbin misbehaving in every way they do. For each fault, no
loss, no duplicate, and an alert where a job gave up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import ALERTS, CHANNEL, make_config, serve, wait_for
from test_bridge_e2e import PEER, idle

FAST = {
    "poll_interval_seconds": 0.05,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "max_attempts": 6,
    "lease_seconds": 5,
}


def config(**extra: Any) -> Any:
    return make_config(
        slack={"enabled": False, "timeout_seconds": 1},
        voipbin={"timeout_seconds": 1},
        jobs=FAST,
        **extra,
    )


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {
            "status": 429,
            "headers": {"Retry-After": "1"},
            "body": {"ok": False, "error": "ratelimited"},
        },
        {"body": {"ok": False, "error": "ratelimited"}},
        {"body": {"ok": False, "error": "internal_error"}},
        {"delay": 1.5, "mode": "hang"},  # past the client timeout: Slack posts it anyway
    ],
    ids=["500", "503", "429", "ok-false-ratelimited", "ok-false-internal", "slow"],
)
async def test_slack_faults_on_an_inbound_post(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    fault: dict[str, Any],
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=config()) as service:
        await service.inbound(PEER, "opening")
        await wait_for(fake_slack, lambda s: len(s.messages(CHANNEL)) == 2)
        fake_slack.fail_next("chat.postMessage", **fault)
        await service.inbound(PEER, "through the fault")
        await wait_for(
            fake_slack,
            lambda s: any("through the fault" in m["text"] for m in s.messages(CHANNEL)),
            timeout=15,
        )
        await idle(service, timeout=15)
        shown = [m for m in fake_slack.messages(CHANNEL) if "through the fault" in m["text"]]
        assert len(shown) == 1
        assert fake_slack.posts(ALERTS) == []


async def test_a_slow_slack_root_post_is_not_duplicated(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, database_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=config()) as service:
        fake_slack.fail_next("chat.postMessage", delay=1.5, mode="hang")
        await service.inbound(PEER, "first contact")
        await wait_for(fake_slack, lambda s: len(s.messages(CHANNEL)) >= 2, timeout=15)
        await idle(service, timeout=15)
        roots = [m for m in fake_slack.messages(CHANNEL) if not m.get("thread_ts")]
        assert len(roots) == 1
        assert len(fake_slack.messages(CHANNEL)) == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 500, "create_first": True},
        {"status": 503},
        {"status": 503, "create_first": True},
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"mode": "hang", "delay": 1.5, "create_first": True},
        {"mode": "hang", "delay": 1.5},
        {"mode": "reset"},
        {"mode": "reset", "create_first": True},
        {"mode": "malformed", "create_first": True},
    ],
    ids=[
        "500",
        "500-after-create",
        "503",
        "503-after-create",
        "429",
        "timeout-after-create",
        "timeout",
        "reset",
        "reset-after-create",
        "malformed-after-create",
    ],
)
async def test_voipbin_faults_on_send(
    fake_slack: FakeSlack,
    fake_voipbin: FakeVoipbin,
    database_url: str,
    fault: dict[str, Any],
) -> None:
    async with serve(fake_slack, fake_voipbin, database_url, config=config()) as service:
        fake_voipbin.fail_next("POST /messages", **fault)
        response = await service.slash(f"{PEER} through the fault")
        assert response.status_code == 200
        await wait_for(fake_voipbin, lambda v: len(v.messages()) >= 1, timeout=15)
        await idle(service, timeout=15)
        # A send the bridge gave up waiting for may still be stored when VoIPbin wakes up:
        # count only once every call has been answered.
        await wait_for(fake_voipbin, lambda v: v.answering == 0, timeout=15)
        created = [m for m in fake_voipbin.messages() if m["text"] == "through the fault"]
        assert len(created) == 1, f"{len(created)} SMS created"
        assert fake_slack.posts(ALERTS) == []


async def test_voipbin_unavailable_for_good_gives_up_loudly(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=config()) as service:
        fake_voipbin.fail_next("POST /messages", mode="reset", times=100)
        await service.slash(f"{PEER} never")
        await wait_for(fake_slack, lambda s: len(s.posts(ALERTS)) == 1, timeout=20)
        await idle(service)
        assert fake_voipbin.messages() == []
        alert = fake_slack.posts(ALERTS)[0]
        assert "+31 6 12345678" in alert["text"] and "not sent" in alert["text"]
        await wait_for(
            fake_slack,
            lambda s: any(
                "Failed" in json.dumps(m["blocks"])
                for m in s.messages(CHANNEL)
                if "<@U0ANNA>" in m["text"]
            ),
        )


async def test_a_burst_of_inbound_sms_is_paced_complete_and_in_order(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    # Slack's real limit is about 1/s per channel; the same shape, scaled up 10x, keeps the
    # test short: the fake enforces 10/s with a burst of 3, the bridge paces at 10/s.
    fake_slack.set_rate_limit(method="chat.postMessage", per_second=10.0, burst=3)
    cfg = make_config(
        slack={"enabled": True, "per_channel_per_second": 10.0, "burst": 3},
        jobs=FAST | {"concurrency": 16},
    )
    peers = [f"+3161000{n:04d}" for n in range(1, 11)]
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=cfg) as service:
        for n in range(200):
            await service.inbound(peers[n % 10], f"burst {n % 10} {n // 10:02d}")
        await wait_for(
            fake_slack,
            lambda s: sum("burst" in m["text"] for m in s.messages(CHANNEL)) == 200,
            timeout=60,
        )
        await idle(service)
    posted = [m for m in fake_slack.messages(CHANNEL) if "burst" in m["text"]]
    for p in range(10):
        thread = {m["thread_ts"] for m in posted if f"burst {p} " in m["text"]}
        assert len(thread) == 1, "one thread per number"
        shown = [m["text"].split(": ", 1)[1] for m in posted if f"burst {p} " in m["text"]]
        assert shown == [f"burst {p} {i:02d}" for i in range(20)]
    calls = len(fake_slack.calls("chat.postMessage"))
    # Few 429s: pacing 30 % too fast (13/s) got 31 of 241 calls refused. At 10/s a tenth of
    # a second of scheduling jitter on a loaded machine is a token, so the bound is 2 %, not
    # the 1 % the benchmark holds at Slack's real 1/s (docs/PERFORMANCE.md).
    assert fake_slack.rate_limited_count <= max(4, calls // 50)


async def test_a_rate_limited_channel_does_not_hold_up_the_others(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> None:
    other_channel, other_number = "C0OTHER0001", "+31201234568"
    cfg = make_config(
        numbers=[
            {"number": "+31201234567", "channel": CHANNEL},
            {"number": other_number, "channel": other_channel},
        ],
        slack={"enabled": True, "per_channel_per_second": 50.0, "burst": 3},
        jobs=FAST,
    )
    async with serve(fake_slack, fake_voipbin, sqlite_url, config=cfg) as service:
        # The first channel's first post is answered 429 with Retry-After: 3 ...
        fake_slack.fail_next(
            "chat.postMessage",
            status=429,
            headers={"Retry-After": "3"},
            body={"ok": False, "error": "ratelimited"},
        )
        await service.inbound(PEER, "to the limited channel")
        await wait_for(fake_slack, lambda s: len(s.calls("chat.postMessage")) == 1)
        # ... and the other channel is served meanwhile, while the first is still held.
        await service.inbound(PEER, "to the other channel", to=other_number)
        await wait_for(fake_slack, lambda s: len(s.posts(other_channel)) == 2)
        assert fake_slack.posts(CHANNEL) == []
        # Retry-After is honoured: the held channel gets its posts afterwards, once.
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2, timeout=15)
        limited = fake_slack.calls("chat.postMessage")
        first_try, retried = (
            limited[0],
            next(c for c in limited[1:] if c.params["channel"] == CHANNEL),
        )
        assert retried.at - first_try.at >= 2.9
