"""The domain on its own: the bridge's services built with a recording ``Messenger`` and a
scripted ``SmsGateway`` (the ports of ``bot.bridge.ports``) on a real database, and the real
job runner, without HTTP. What a test asserts is what crossed a port: the Slack calls the
messenger was asked to make, the SMS the gateway was asked to send."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.ports import AlertItem, OutgoingView, SentSms
from bot.bridge.service import Bridge
from bot.config import AppConfig
from bot.jobs import queue
from bot.jobs.runner import JobRunner

from harness import make_config, wait_until


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    answer: str | None = None  # the ts a post was answered with


@dataclass
class RecordingMessenger:
    """Slack as the domain sees it, recording every call; posts answer fresh ts values."""

    calls: list[Call] = field(default_factory=list)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def named(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    def answers(self, method: str) -> list[str | None]:
        """The ts each call of ``method`` was answered with, in order."""
        return [c.answer for c in self.calls if c.method == method]

    def _post(self, method: str, args: dict[str, Any]) -> str:
        ts = f"1700000000.{next(self._ts):06d}"
        self.calls.append(Call(method, args, ts))
        return ts

    async def open_thread(self, **args: Any) -> str:
        return self._post("open_thread", args)

    async def post_outgoing(self, **args: Any) -> str:
        return self._post("post_outgoing", args)

    async def update_outgoing(self, *, channel: str, ts: str, view: OutgoingView) -> None:
        self.calls.append(Call("update_outgoing", {"channel": channel, "ts": ts, "view": view}))

    async def mark_reply(self, **args: Any) -> None:
        self.calls.append(Call("mark_reply", args))

    async def post_inbound(self, **args: Any) -> str:
        return self._post("post_inbound", args)

    async def post_notice(self, **args: Any) -> str:
        return self._post("post_notice", args)

    async def tell(self, **args: Any) -> None:
        self.calls.append(Call("tell", args))

    async def post_rollup(
        self, *, channel: str, source: str, items: list[AlertItem], key: str, reconcile: bool
    ) -> str:
        return self._post("post_rollup", {"channel": channel, "source": source, "items": items})

    async def update_rollup(self, **args: Any) -> None:
        self.calls.append(Call("update_rollup", args))

    async def permalink(self, *, channel: str, ts: str) -> str | None:
        return f"https://slack.example/{channel}/{ts}"

    async def user_names(self, user_ids: list[str]) -> dict[str, str]:
        return {}


@dataclass
class ScriptedGateway:
    """The SMS provider, answering each send with the next scripted outcome (a ``SentSms``
    or an exception to raise); ``found`` is what a look-up for an earlier send finds;
    ``statuses`` what a status read of an SMS answers (``queued`` when not given)."""

    outcomes: list[SentSms | Exception] = field(default_factory=list)
    found: list[SentSms] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    sends: list[dict[str, str]] = field(default_factory=list)
    lookups: int = 0
    status_reads: list[str] = field(default_factory=list)

    async def send(self, *, source: str, destination: str, text: str) -> SentSms:
        self.sends.append({"source": source, "destination": destination, "text": text})
        outcome = (
            self.outcomes.pop(0) if self.outcomes else SentSms(f"sms-{len(self.sends)}", "queued")
        )
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def status(self, sms_id: str) -> str:
        self.status_reads.append(sms_id)
        return self.statuses.get(sms_id, "queued")

    async def find_sent(
        self, *, source: str, destination: str, text: str, since: float
    ) -> list[SentSms]:
        self.lookups += 1
        return list(self.found)


@dataclass
class Domain:
    bridge: Bridge
    messenger: RecordingMessenger
    gateway: ScriptedGateway
    runner: JobRunner
    engine: AsyncEngine

    async def until(self, predicate: Any, timeout: float = 10) -> None:
        await wait_until(predicate, timeout=timeout)

    async def until_done(self, kind: str, timeout: float = 10) -> None:
        """Wait until a job of ``kind`` has finished."""
        deadline = time.monotonic() + timeout
        while not any(j.kind == kind for j in await queue.list_jobs(self.engine, ["done"])):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} job finished in time")
            await asyncio.sleep(0.02)

    async def until_settled(self, timeout: float = 10) -> None:
        """Wait until no job is due or running (timers set for later aside): what the
        bridge was going to do about what it was told has been done."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = await queue.list_jobs(self.engine, ["pending", "running"])
            if not any(j.state == "running" or j.run_after <= time.time() for j in jobs):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still due after {timeout} s: {jobs}")
            await asyncio.sleep(0.02)


def fast_config(**overrides: Any) -> AppConfig:
    return make_config(**overrides)


@asynccontextmanager
async def domain(
    engine: AsyncEngine,
    gateway: ScriptedGateway | None = None,
    config: AppConfig | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Domain]:
    """The bridge on ``engine`` with recording ports, its jobs run by a real ``JobRunner``;
    ``clock`` is the bridge's (the runner keeps the real one)."""
    config = config or fast_config()
    messenger = RecordingMessenger()
    gateway = gateway or ScriptedGateway()
    bridge = Bridge(engine=engine, config=config, messenger=messenger, gateway=gateway, clock=clock)
    runner = JobRunner(
        engine=engine, handlers=bridge.handlers, config=config.jobs, on_dead=bridge.on_dead
    )
    bridge.set_wake(runner.wake)
    runner.start()
    try:
        yield Domain(
            bridge=bridge, messenger=messenger, gateway=gateway, runner=runner, engine=engine
        )
    finally:
        await runner.stop(grace=5)
        await bridge.aclose()
