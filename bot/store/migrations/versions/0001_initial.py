"""Initial schema: conversations, messages, early statuses, jobs, seen events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("our_number", sa.String(32), nullable=False),
        sa.Column("peer_number", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_activity_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint(
            "channel",
            "our_number",
            "peer_number",
            name="uq_conversations_channel_our_number_peer_number",
        ),
    )
    op.create_index("ix_conversations_thread", "conversations", ["channel", "thread_ts"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(32), nullable=True),
        sa.Column("slack_ts", sa.String(32), nullable=True),
        sa.Column("voipbin_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_rank", sa.Integer, nullable=False),
        sa.Column("shown_status", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("send_started_at", sa.Float, nullable=True),
        sa.Column("alerted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("key", name="uq_messages_key"),
        sa.UniqueConstraint("voipbin_id", name="uq_messages_voipbin_id"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_messages_conversation_id_conversations",
        ),
    )
    op.create_index("ix_messages_conversation", "messages", ["conversation_id", "id"])
    op.create_table(
        "early_statuses",
        sa.Column("voipbin_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_rank", sa.Integer, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("voipbin_id", name="pk_early_statuses"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("lane", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("run_after", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("key", name="uq_jobs_key"),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])
    op.create_index("ix_jobs_lane_id", "jobs", ["lane", "id"])
    op.create_table(
        "seen_events",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_seen_events"),
    )
    op.create_index("ix_seen_events_seen_at", "seen_events", ["seen_at"])


def downgrade() -> None:
    op.drop_table("seen_events")
    op.drop_table("jobs")
    op.drop_table("early_statuses")
    op.drop_table("messages")
    op.drop_table("conversations")
