"""``sms-bridge worker``: the job runner alone, beside ``sms-bridge serve --no-jobs``.

DESIGN.md "Storage": when the acknowledgement path must stay fast under load, requests and
jobs run as separate processes on the same database, each scaled on its own. ``serve
--no-jobs`` answers Slack and VoIPbin and records jobs; a worker claims and runs them (posts
to Slack, sends through VoIPbin, alerts). Several workers, and several ``serve`` processes,
may share one PostgreSQL database; on SQLite they share the file's one write lock.

A worker is not woken by the requests of another process: it finds new jobs by polling,
every ``jobs.poll_interval_seconds``.

With ``--port`` a worker also answers ``/healthz``, ``/readyz`` and ``/metrics`` (the same
routes as ``serve``, ``bot.web.health_routes``): its job counters exist only in its own
process, so it is scraped on its own, and an orchestrator can probe it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from bot.components import Components, build_components
from bot.config import AppConfig, Settings
from bot.dependencies import DependencyWatch
from bot.exit_codes import Exit
from bot.runtime import settle_garbage_collector
from bot.store.db import migrate, require_database
from bot.web import ListenError, health_routes, open_listener

log = logging.getLogger(__name__)


class _HealthServer(uvicorn.Server):
    """uvicorn inside the worker's loop, for the health routes only. The worker handles
    SIGINT and SIGTERM itself (``stop``), so uvicorn must not take them over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _health_server(parts: Components, host: str, port: int) -> _HealthServer:
    app = Starlette(routes=health_routes(parts))
    return _HealthServer(
        uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False)
    )


async def run_worker(
    settings: Settings,
    config: AppConfig,
    *,
    stop: asyncio.Event,
    settle_gc: bool = False,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> None:
    """Run the jobs until ``stop`` is set, then hand back what is unfinished and close.
    ``settle_gc`` as for ``create_app`` (the CLI sets it). With ``port``, also answer the
    health routes on ``host:port`` until then."""
    parts = build_components(settings, config)
    started = False
    health: _HealthServer | None = None
    serving: asyncio.Task[None] | None = None
    watch: asyncio.Task[None] | None = None
    try:
        # The worker upgrades the schema beside `serve` (whichever starts first), but it
        # never creates a SQLite file: one that is not there is the wrong folder or URL.
        await require_database(parts.engine, tables=False)
        await migrate(parts.engine)
        parts.open_slack_session()
        if port is not None:
            # Opened here, not by uvicorn, whose failure to bind would end the process
            # with its own exit status before the worker could close.
            listener = open_listener(host, port)
            health = _health_server(parts, host, port)
            serving = asyncio.create_task(health.serve([listener]), name="worker-health")
        parts.runner.start()
        started = True
        if settle_gc:
            settle_garbage_collector()
        log.info(
            "sms-bridge worker started numbers=%d health=%s",
            len(config.numbers),
            f"{host}:{port}" if port is not None else "off",
        )
        watch = asyncio.create_task(
            DependencyWatch(
                engine=parts.engine,
                slack=parts.slack_client,
                voipbin=parts.voipbin,
                settings=settings,
                webhook=False,  # the worker takes no webhooks; `serve` checks them
                interval=config.alerts.dependency_check_seconds,
            ).run()
        )
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        # The health routes answer until the jobs are handed back; then the rest closes.
        if started:
            await parts.runner.stop()
        if health is not None and serving is not None:
            health.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
        await parts.aclose(runner_started=False)
        log.info("sms-bridge worker stopped")


def serve_worker(
    settings: Settings, config: AppConfig, *, host: str = "127.0.0.1", port: int | None = None
) -> int:
    """The blocking form for the CLI: until SIGINT or SIGTERM; 0 after a clean stop."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await run_worker(settings, config, stop=stop, settle_gc=True, host=host, port=port)
        except ListenError as exc:
            log.error("sms-bridge worker: %s", exc)
            return Exit.CANNOT_LISTEN
        return Exit.OK

    return asyncio.run(main())
