"""Pacing shared by every process on the database (issue 15).

One row per bucket (a Slack channel, a rate-limited Slack method, VoIPbin's account): each
process takes its turns from it in one statement (bot/jobs/pacing.py), so two replicas
together keep to the pace Slack allows instead of each keeping to it alone. SQLite gets the
table too (the schema is the same everywhere) but paces in memory: it has one process.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pacing",
        sa.Column("bucket", sa.String(100), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("held_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_pacing"),
    )


def downgrade() -> None:
    op.drop_table("pacing")
