"""The service without a public URL: the same components as ``bot.web.create_app`` (bridge,
job runner, Bolt app), with Slack over Socket Mode and VoIPbin over its WebSocket or by
polling, and no HTTP server at all.

``sms-bridge serve --no-public-url [--inbound websocket|poll]`` runs
``serve_without_public_url(...)`` (blocking, stops cleanly on SIGINT/SIGTERM); in asyncio code,
``await run_without_public_url(...)`` runs until cancelled, and ``NoPublicUrlService`` is the
same as an object with ``start``/``stop`` (and ``async with``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable
from typing import Literal, Self

from bot.components import Components, build_components
from bot.config import AppConfig, Settings
from bot.dependencies import DependencyWatch
from bot.nopublic.poller import Poller
from bot.nopublic.socket_mode import SlackSocketMode
from bot.nopublic.voipbin_ws import VoipbinSubscriber, websocket_url
from bot.slack.app import build_bolt_app
from bot.store.db import migrate

log = logging.getLogger(__name__)

InboundMode = Literal["websocket", "poll"]
INBOUND_MODES: tuple[InboundMode, ...] = ("websocket", "poll")


class NoPublicUrlService:
    """Start: build the components, migrate, start the job runner and the inbound mode, then
    connect Socket Mode. Stop: the reverse, each part given its chance to finish.

    ``slack_socket_api_url`` (default ``SLACK_API_URL``) is where ``apps.connections.open`` is
    called; ``voipbin_ws_url`` (default ``VOIPBIN_API_URL`` with http→ws plus ``/ws``) is the
    subscription endpoint. ``lookback`` is how far back the first poll (or the first catch-up)
    reaches; ``safety_poll_interval`` is how often the WebSocket mode polls anyway."""

    def __init__(
        self,
        settings: Settings,
        config: AppConfig,
        *,
        app_token: str,
        inbound: InboundMode,
        poll_interval: float = 5.0,
        lookback: float = 600.0,
        overlap: float = 60.0,
        slack_socket_api_url: str | None = None,
        voipbin_ws_url: str | None = None,
        reconnect_initial: float = 1.0,
        reconnect_max: float = 60.0,
        safety_poll_interval: float | None = 300.0,
        socket_ping_interval: float = 10.0,
    ) -> None:
        if inbound not in INBOUND_MODES:
            raise ValueError(f"inbound must be one of {', '.join(INBOUND_MODES)}, not {inbound!r}")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.settings = settings
        self.config = config
        self.inbound: InboundMode = inbound
        self._app_token = app_token
        self._poll_interval = poll_interval
        self._lookback = lookback
        self._overlap = overlap
        self._slack_socket_api_url = slack_socket_api_url or settings.slack_api_url
        self._voipbin_ws_url = voipbin_ws_url or websocket_url(settings.voipbin_api_url)
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._safety_poll_interval = safety_poll_interval
        self._socket_ping_interval = socket_ping_interval
        self.components: Components | None = None
        self.poller: Poller | None = None
        self.subscriber: VoipbinSubscriber | None = None
        self.socket_mode: SlackSocketMode | None = None
        self._runner_started = False
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        parts = build_components(self.settings, self.config)
        self.components = parts
        try:
            bolt = build_bolt_app(
                client=parts.slack_client,
                # Socket Mode requests are never signed (Bolt skips the check for them), so
                # this mode needs no SLACK_SIGNING_SECRET; "" also keeps Bolt from reading one
                # from the environment.
                signing_secret="",
                bridge=parts.bridge,
                messenger=parts.messenger,
            )
            socket_mode = SlackSocketMode(
                bolt,
                self._app_token,
                web_api_url=self._slack_socket_api_url,
                ping_interval=self._socket_ping_interval,
                drain_seconds=max(1.0, self.config.jobs.shutdown_grace_seconds / 2),
            )
            await migrate(parts.engine)
            parts.open_slack_session()
            parts.runner.start()
            self._runner_started = True
            self.poller = Poller(
                bridge=parts.bridge,
                voipbin=parts.voipbin,
                lookback=self._lookback,
                overlap=self._overlap,
                status_window=self.config.alerts.stuck_after,
                max_backoff=self._reconnect_max,
            )
            if self.inbound == "poll":
                self.poller.start(self._poll_interval)
            else:
                self.subscriber = VoipbinSubscriber(
                    bridge=parts.bridge,
                    voipbin=parts.voipbin,
                    accesskey=self.settings.voipbin_accesskey.get_secret_value(),
                    url=self._voipbin_ws_url,
                    catch_up=self.poller,
                    initial_backoff=self._reconnect_initial,
                    max_backoff=self._reconnect_max,
                    safety_poll_interval=self._safety_poll_interval,
                    fallback_poll_interval=self._poll_interval,
                )
                self.subscriber.start()
            self.socket_mode = socket_mode
            await socket_mode.start()
        except BaseException:
            await self.stop()
            raise
        log.info(
            "sms-bridge started without a public URL numbers=%d inbound=%s",
            len(self.config.numbers),
            self.inbound,
        )
        self._watch = asyncio.create_task(
            DependencyWatch(
                engine=parts.engine,
                slack=parts.slack_client,
                voipbin=parts.voipbin,
                settings=self.settings,
                webhook=False,  # without a public URL, SMS come from the WebSocket or polling
                interval=self.config.alerts.dependency_check_seconds,
            ).run()
        )

    async def stop(self) -> None:
        """Stop taking work (Slack, then VoIPbin), let the job runner finish, close up."""
        parts, self.components = self.components, None
        socket_mode, self.socket_mode = self.socket_mode, None
        subscriber, self.subscriber = self.subscriber, None
        poller, self.poller = self.poller, None
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        if socket_mode is not None:
            await _quietly(socket_mode.stop(), "socket mode")
        if subscriber is not None:
            await _quietly(subscriber.stop(), "voipbin websocket")
        if poller is not None:
            await _quietly(poller.stop(), "poller")
        if parts is not None:
            if self._runner_started:
                self._runner_started = False
                await _quietly(parts.runner.stop(), "job runner")
            await _quietly(parts.voipbin.aclose(), "voipbin client")
            await _quietly(parts.close_slack_session(), "slack session")
            await _quietly(parts.bridge.aclose(), "job writer")
            await _quietly(parts.engine.dispose(), "database")
            log.info("sms-bridge stopped")

    async def wait(self) -> None:
        """Until the inbound task ends, which it only does by failing: then raise its error.
        (Both loops retry every error they expect; this is for the ones nobody expected.)"""
        task = (
            self.subscriber.task if self.subscriber else self.poller.task if self.poller else None
        )
        if task is None:
            raise RuntimeError("the service is not started")
        await asyncio.wait([task])
        if task.cancelled():
            raise RuntimeError(f"the {self.inbound} inbound task was cancelled")
        error = task.exception()
        raise RuntimeError(f"the {self.inbound} inbound task ended") from error

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


async def _quietly(step: Awaitable[object], name: str) -> None:
    try:
        await step
    except Exception:
        log.exception("stopping the %s failed", name)


async def run_without_public_url(
    settings: Settings,
    config: AppConfig,
    *,
    app_token: str,
    inbound: InboundMode,
    poll_interval: float = 5.0,
    voipbin_ws_url: str | None = None,
    slack_socket_api_url: str | None = None,
) -> None:
    """Run until cancelled (then stop everything cleanly), or until a part fails for good.
    The URLs default to ``SLACK_API_URL`` and ``VOIPBIN_API_URL`` (see NoPublicUrlService)."""
    service = NoPublicUrlService(
        settings,
        config,
        app_token=app_token,
        inbound=inbound,
        poll_interval=poll_interval,
        voipbin_ws_url=voipbin_ws_url,
        slack_socket_api_url=slack_socket_api_url,
    )
    await service.start()
    try:
        await service.wait()
    finally:
        await service.stop()


def serve_without_public_url(
    settings: Settings,
    config: AppConfig,
    *,
    app_token: str,
    inbound: InboundMode,
    poll_interval: float = 5.0,
    voipbin_ws_url: str | None = None,
    slack_socket_api_url: str | None = None,
) -> int:
    """The blocking form for the CLI: runs until SIGINT or SIGTERM, then stops cleanly and
    returns 0 (1 if a part failed)."""

    async def main() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        stopping = False

        def on_signal() -> None:
            nonlocal stopping
            if not stopping:
                stopping = True
                log.info("stopping (signal received)")
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal)
        try:
            await run_without_public_url(
                settings,
                config,
                app_token=app_token,
                inbound=inbound,
                poll_interval=poll_interval,
                voipbin_ws_url=voipbin_ws_url,
                slack_socket_api_url=slack_socket_api_url,
            )
        except asyncio.CancelledError:
            if not stopping:
                raise
            return 0
        except Exception:
            log.exception("sms-bridge stopped on an error")
            return 1
        return 1  # pragma: no cover - run_without_public_url only ends by raising

    return asyncio.run(main())
