"""One migration set for both databases: it builds exactly the schema the code declares, an
older schema is upgraded at start, and a newer one is refused."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.store.db import SchemaError, create_engine, migrate
from bot.store.tables import metadata


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, metadata))


async def test_migrations_build_the_declared_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        await migrate(engine)  # a second start changes nothing
    finally:
        await engine.dispose()


async def test_a_database_newer_than_the_code_is_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaError, match="newer sms-bridge"):
            await migrate(engine)
    finally:
        await engine.dispose()


async def test_serve_refuses_a_newer_database_with_a_clear_message(
    sqlite_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from bot.cli import main

    engine = create_engine(sqlite_url)
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    await engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    code = await _run_in_thread(main, ["migrate"])
    assert code == 3
    assert "newer sms-bridge" in capsys.readouterr().err


async def _run_in_thread(func: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(func, *args)


async def test_an_older_schema_is_upgraded_with_its_data(database_url: str) -> None:
    from alembic import command

    from bot.store.db import _alembic_config

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0001"))
            await conn.execute(
                text(
                    "INSERT INTO conversations (channel, our_number, peer_number, thread_ts, "
                    "created_at, last_activity_at) VALUES ('C1', '+31201234567', "
                    "'+31612345678', '1.2', 1, 1)"
                )
            )
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            kept = (await conn.execute(text("SELECT thread_ts FROM conversations"))).scalar_one()
            assert kept == "1.2"
            version = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
            assert version == "0006"
    finally:
        await engine.dispose()
