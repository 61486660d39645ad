"""``sms-bridge worker``: the job runner alone, beside ``sms-bridge serve --no-jobs``.

DESIGN.md "Storage": when the acknowledgement path must stay fast under load, requests and
jobs run as separate processes on the same database, each scaled on its own. ``serve
--no-jobs`` answers Slack and VoIPbin and records jobs; a worker claims and runs them (posts
to Slack, sends through VoIPbin, alerts). Several workers, and several ``serve`` processes,
may share one PostgreSQL database; on SQLite they share the file's one write lock.

A worker is not woken by the requests of another process: it finds new jobs by polling,
every ``jobs.poll_interval_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.config import AppConfig, Settings
from bot.store.db import migrate
from bot.web import build_components, settle_garbage_collector

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings, config: AppConfig, *, stop: asyncio.Event, settle_gc: bool = False
) -> None:
    """Run the jobs until ``stop`` is set, then hand back what is unfinished and close.
    ``settle_gc`` as for ``create_app`` (the CLI sets it)."""
    parts = build_components(settings, config)
    started = False
    try:
        await migrate(parts.engine)
        parts.open_slack_session()
        parts.runner.start()
        started = True
        if settle_gc:
            settle_garbage_collector()
        log.info("sms-bridge worker started numbers=%d", len(config.numbers))
        await stop.wait()
    finally:
        await parts.aclose(runner_started=started)
        log.info("sms-bridge worker stopped")


def serve_worker(settings: Settings, config: AppConfig) -> int:
    """The blocking form for the CLI: until SIGINT or SIGTERM; 0 after a clean stop."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, config, stop=stop, settle_gc=True)
        return 0

    return asyncio.run(main())
