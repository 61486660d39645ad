"""PostgreSQL drops the service's connections (a restart, a failover, an idle timeout in a
proxy): the pooled connections are dead, and the next commands and webhooks must still be
answered and recorded, without an error to the user.

``bot.store.db`` checks a pooled connection before use only when it has been idle for
``PING_AFTER_IDLE_SECONDS`` (not on every checkout, which cost three round trips per shared
commit); these tests hold that to the promise that dead connections are replaced."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.store.db import PING_AFTER_IDLE_SECONDS

from harness import CHANNEL, serve, wait_for

PEER = "+31612345678"


async def _drop_connections(url: str) -> int:
    """Terminate every other session of the database (what a restart does to the pool)."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    try:
        killed = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return len(killed)


@pytest.mark.parametrize("idle", [False, True], ids=["at-once", "after-idle"])
async def test_commands_and_webhooks_are_recorded_after_the_database_drops_its_connections(
    fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, pg_url: str, idle: bool
) -> None:
    async with serve(fake_slack, fake_voipbin, pg_url) as service:
        await service.inbound(PEER, "before")
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 2)
        assert await _drop_connections(pg_url) >= 1
        if idle:
            await asyncio.sleep(PING_AFTER_IDLE_SECONDS * 1.5)

        await service.inbound(PEER, "after")  # asserts the 200
        response = await service.slash(f"{PEER} and back")
        assert response.status_code == 200
        assert "Sending" in response.json()["text"], response.json()["text"]

        await wait_for(fake_voipbin, lambda v: len(v.sends()) == 1)
        await wait_for(fake_slack, lambda s: len(s.posts(CHANNEL)) == 4)
        texts = [p["text"] for p in fake_slack.posts(CHANNEL)]
        for said in ("before", "after", "and back"):
            assert sum(said in t for t in texts) == 1, (said, texts)
