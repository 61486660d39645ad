"""Dedupe windows are bounded: seen-event keys and early statuses expire after the configured
time."""

from __future__ import annotations

from bot.store import early_statuses, seen_events
from bot.store.db import create_engine, migrate


async def test_seen_keys_expire_after_the_window(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            assert await seen_events.first_seen(conn, "slack:Ev1", 1000.0)
            assert not await seen_events.first_seen(conn, "slack:Ev1", 1001.0)
            assert await seen_events.first_seen(conn, "slack:Ev2", 5000.0)
        async with engine.begin() as conn:
            removed = await seen_events.prune(conn, seen_before=4000.0)
        assert removed == 1
        async with engine.connect() as conn:
            assert not await seen_events.was_seen(conn, "slack:Ev1")
            assert await seen_events.was_seen(conn, "slack:Ev2")
    finally:
        await engine.dispose()


async def test_early_statuses_expire_after_the_window(database_url: str) -> None:
    """A status whose SMS never became known is forgotten too (the runner prunes both)."""
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await early_statuses.remember_early_status(
                conn, voipbin_id="old", status="sent", rank=1, now=1000.0
            )
            await early_statuses.remember_early_status(
                conn, voipbin_id="new", status="sent", rank=1, now=5000.0
            )
        async with engine.begin() as conn:
            await early_statuses.prune(conn, received_before=4000.0)
        async with engine.begin() as conn:
            assert await early_statuses.take_early_status(conn, "old") is None
            assert await early_statuses.take_early_status(conn, "new") == ("sent", 1)
    finally:
        await engine.dispose()
