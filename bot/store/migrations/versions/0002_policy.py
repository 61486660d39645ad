"""Opt-outs and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opt_outs",
        sa.Column("our_number", sa.String(32), nullable=False),
        sa.Column("peer_number", sa.String(64), nullable=False),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.Float, nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("our_number", "peer_number", name="pk_opt_outs"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("our_number", sa.String(32), nullable=True),
        sa.Column("peer_number", sa.String(64), nullable=True),
        sa.Column("segments", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_actor_at", "audit", ["actor", "at"])
    op.create_index("ix_audit_peer_at", "audit", ["peer_number", "at"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("opt_outs")
