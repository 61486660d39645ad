"""Dedupe windows are bounded: seen-event keys expire after the configured time."""

from __future__ import annotations

from bot.store import repo
from bot.store.db import create_engine, migrate


async def test_seen_keys_expire_after_the_window(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            assert await repo.first_seen(conn, "slack:Ev1", 1000.0)
            assert not await repo.first_seen(conn, "slack:Ev1", 1001.0)
            assert await repo.first_seen(conn, "slack:Ev2", 5000.0)
        async with engine.begin() as conn:
            removed = await repo.prune(conn, seen_before=4000.0)
        assert removed == 1
        async with engine.connect() as conn:
            assert not await repo.was_seen(conn, "slack:Ev1")
            assert await repo.was_seen(conn, "slack:Ev2")
    finally:
        await engine.dispose()
