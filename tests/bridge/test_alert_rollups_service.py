"""Alert roll-ups, by the domain alone: the failures of one channel within
``alerts.rollup_seconds`` are one alert-channel post that lists them all (updated in place),
and only the first is also broadcast from its thread to the channel; with roll-ups off, each
failure is an alert of its own. The ports are recorded and scripted (``domain_ports``); the
database and the job runner are real."""

from __future__ import annotations

from typing import Any

from domain_ports import Domain, ScriptedGateway, domain, fast_config
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.ports import Rejected

from harness import ALERTS, CHANNEL

PEERS = ["+31612345671", "+31612345672", "+31612345673"]


def refusing(n: int) -> ScriptedGateway:
    return ScriptedGateway(
        outcomes=[Rejected("forbidden", status=403, detail="number not verified")] * n
    )


async def fail_each(d: Domain) -> None:
    """One SMS to each of PEERS, each refused by the provider."""
    for i, peer in enumerate(PEERS):
        queued = await d.bridge.accept_send(
            channel=CHANNEL, user="U0ANNA", recipients=[peer], text="hi", request_key=f"r{i}"
        )
        assert isinstance(queued, list)


def rollup_draws(d: Domain) -> list[list[str]]:
    """What each post and update of the roll-up alert listed, in order."""
    return [
        [item.text for item in c.args["items"]]
        for c in d.messenger.calls
        if c.method in ("post_rollup", "update_rollup") and c.args["channel"] == ALERTS
    ]


def thread_notices(d: Domain) -> list[dict[str, Any]]:
    return [n for n in d.messenger.named("post_notice") if n["channel"] == CHANNEL]


async def test_failures_within_the_window_are_one_alert_that_lists_them_all(
    engine: AsyncEngine,
) -> None:
    async with domain(engine, refusing(3)) as d:
        await fail_each(d)
        await d.until(lambda: len(rollup_draws(d)) > 0 and len(rollup_draws(d)[-1]) == 3)
        await d.until_settled()
        assert len(d.messenger.named("post_rollup")) == 1, "one alert, updated in place"
        listed = sorted(rollup_draws(d)[-1])
        peers = ["+31 6 12345671", "+31 6 12345672", "+31 6 12345673"]
        for peer, text in zip(peers, listed, strict=True):
            assert text.startswith(f"SMS to {peer}: VoIPbin refused the SMS (403")
        (post,) = d.messenger.named("post_rollup")
        assert post["source"] == CHANNEL
        # Each failure has its notice in its thread; only the first is shown in the channel.
        notices = thread_notices(d)
        assert len(notices) == 3 and all(n["thread_ts"] is not None for n in notices)
        assert sorted(n["broadcast"] for n in notices) == [False, False, True]
        assert [n for n in d.messenger.named("post_notice") if n["channel"] == ALERTS] == []


async def test_without_roll_ups_each_failure_is_an_alert_of_its_own(
    engine: AsyncEngine,
) -> None:
    config = fast_config(alerts={"channel": ALERTS, "stuck_after": 600, "rollup_seconds": 0})
    async with domain(engine, refusing(3), config=config) as d:
        await fail_each(d)
        await d.until(
            lambda: (
                len([n for n in d.messenger.named("post_notice") if n["channel"] == ALERTS]) == 3
            )
        )
        await d.until_settled()
        assert d.messenger.named("post_rollup") == []
        alerts = [n for n in d.messenger.named("post_notice") if n["channel"] == ALERTS]
        assert sorted(a["text"][:21] for a in alerts) == [
            "SMS to +31 6 12345671",
            "SMS to +31 6 12345672",
            "SMS to +31 6 12345673",
        ]
        assert [n["broadcast"] for n in thread_notices(d)] == [True, True, True]
