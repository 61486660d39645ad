"""Contact names, closed threads (thread lifecycle) and per-user settings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("peer_number", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("peer_number", name="pk_contacts"),
    )
    op.create_table(
        "past_threads",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("closed_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("channel", "thread_ts", name="pk_past_threads"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_past_threads_conversation_id_conversations",
        ),
    )
    op.create_index(
        "ix_past_threads_conversation", "past_threads", ["conversation_id", "closed_at"]
    )
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_settings"),
    )


def downgrade() -> None:
    op.drop_table("user_settings")
    op.drop_index("ix_past_threads_conversation", table_name="past_threads")
    op.drop_table("past_threads")
    op.drop_table("contacts")
