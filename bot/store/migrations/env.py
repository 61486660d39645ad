"""Alembic environment: migrations run on a connection handed in by ``bot.store.db.migrate``."""

from __future__ import annotations

from alembic import context

from bot.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `sms-bridge migrate` (bot.store.db.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
