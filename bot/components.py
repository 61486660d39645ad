"""The composition root: the engine, the Slack and VoIPbin clients, the bridge and the job
runner, built and wired once. Used by ``sms-bridge serve`` (``bot.web.create_app``),
``sms-bridge worker`` (``bot.worker``) and the no-public-URL mode (``bot.nopublic.service``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.service import Bridge
from bot.config import AppConfig, Settings
from bot.jobs.pacing import Pacer
from bot.jobs.pressure import BackPressure
from bot.jobs.runner import JobRunner
from bot.metrics import Metrics
from bot.slack.messenger import SlackMessenger
from bot.store.db import create_engine
from bot.voipbin.client import VoipbinClient
from bot.voipbin.gateway import VoipbinGateway


@dataclass
class Components:
    engine: AsyncEngine
    bridge: Bridge
    messenger: SlackMessenger
    runner: JobRunner
    slack_client: AsyncWebClient
    voipbin: VoipbinClient
    metrics: Metrics
    pressure: BackPressure

    def open_slack_session(self) -> None:
        """One HTTP session (connection pool) for every Slack call. Without it slack_sdk
        opens a new aiohttp session, and a new TCP and TLS connection, for each call. Called
        inside the running event loop (aiohttp requires it)."""
        if self.slack_client.session is None:
            self.slack_client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.slack_client.timeout)
            )

    async def close_slack_session(self) -> None:
        session, self.slack_client.session = self.slack_client.session, None
        if session is not None:
            await session.close()

    async def aclose(self, *, runner_started: bool) -> None:
        """Stop the job runner (when it was started: it hands back what is unfinished), then
        close the clients, the job writer and the database, in that order."""
        if runner_started:
            await self.runner.stop()
        await self.voipbin.aclose()
        await self.close_slack_session()
        await self.bridge.aclose()
        await self.engine.dispose()


def build_components(settings: Settings, config: AppConfig) -> Components:
    metrics = Metrics()
    pressure = BackPressure()
    engine = create_engine(settings.database_url)
    slack_client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(max(1, config.slack.timeout_seconds)),
    )
    voipbin = VoipbinClient(
        base_url=settings.voipbin_api_url,
        accesskey=settings.voipbin_accesskey.get_secret_value(),
        timeout=config.voipbin.timeout_seconds,
        requests_per_second=config.voipbin.requests_per_second,
        pacer=Pacer(engine),
        observe=lambda route, outcome: metrics.api_calls.labels(
            api="voipbin", method=route, outcome=outcome
        ).inc(),
    )
    messenger = SlackMessenger(
        client=slack_client,
        pacing=config.slack,
        pacer=Pacer(engine, pressure=pressure),
        observe=lambda method, outcome: metrics.api_calls.labels(
            api="slack", method=method, outcome=outcome
        ).inc(),
    )
    bridge = Bridge(
        engine=engine,
        config=config,
        messenger=messenger,
        gateway=VoipbinGateway(voipbin),
        metrics=metrics,
    )
    runner = JobRunner(
        engine=engine,
        handlers=bridge.handlers,
        config=config.jobs,
        on_dead=bridge.on_dead,
        per_channel_limit=min(config.slack.burst, 4),
        observe=lambda kind, outcome: metrics.jobs.labels(kind=kind, outcome=outcome).inc(),
        pressure=pressure,
        settle_seconds=max(config.slack.timeout_seconds, config.voipbin.timeout_seconds),
    )
    bridge.set_wake(runner.wake)
    return Components(
        engine=engine,
        bridge=bridge,
        messenger=messenger,
        runner=runner,
        slack_client=slack_client,
        voipbin=voipbin,
        metrics=metrics,
        pressure=pressure,
    )
