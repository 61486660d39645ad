"""The schema. Changes here need an Alembic migration in ``bot/store/migrations/versions``.

Times are stored as seconds since the epoch (float): comparisons in the job claim query stay
cheap and identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One phone number (peer) talking to one of our numbers, mapped to one Slack thread.
conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("our_number", String(32), nullable=False),
    Column("peer_number", String(64), nullable=False),
    Column("thread_ts", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("last_activity_at", Float, nullable=False),
    UniqueConstraint("channel", "our_number", "peer_number"),
)
Index("ix_conversations_thread", conversations.c.channel, conversations.c.thread_ts)

# One SMS, either direction, and the Slack message that shows it.
messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("direction", String(16), nullable=False),  # outbound | inbound
    Column("origin", String(16), nullable=False),  # command | reply | inbound
    Column("text", Text, nullable=False),
    Column("author", String(32), nullable=True),  # Slack user id for outbound
    Column("slack_ts", String(32), nullable=True),  # the Slack message showing this SMS
    Column("voipbin_id", String(64), nullable=True, unique=True),
    Column("status", String(32), nullable=False),
    Column("status_rank", Integer, nullable=False, default=0),
    Column("shown_status", String(32), nullable=True),  # what the Slack message shows now
    Column("error", Text, nullable=True),
    Column("send_started_at", Float, nullable=True),
    Column("alerted", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_messages_conversation", messages.c.conversation_id, messages.c.id)

# Statuses of outbound messages whose webhook arrived before we stored their VoIPbin id.
early_statuses = Table(
    "early_statuses",
    metadata,
    Column("voipbin_id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("status_rank", Integer, nullable=False),
    Column("received_at", Float, nullable=False),
)

# The outbox: every side effect (SMS send, Slack post) is a row here, written in the same
# transaction as the state change that causes it.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("lane", String(64), nullable=True),  # jobs of one lane run one at a time, in id order
    Column("channel", String(32), nullable=True),  # for per-channel pacing
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending | running | done | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", Float, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
# Only the jobs still to run: claims read these and skip the finished ones kept for dedup.
_ACTIVE = text("state IN ('pending', 'running')")
Index("ix_jobs_active", jobs.c.id, postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)
Index("ix_jobs_lane_active", jobs.c.lane, jobs.c.id, postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)

# Deliveries already taken in (Slack event ids, VoIPbin webhook keys); rows expire.
seen_events = Table(
    "seen_events",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("seen_at", Float, nullable=False),
)
Index("ix_seen_events_seen_at", seen_events.c.seen_at)

# Numbers that asked for no more SMS (STOP) from one of our numbers.
opt_outs = Table(
    "opt_outs",
    metadata,
    Column("our_number", String(32), primary_key=True),
    Column("peer_number", String(64), primary_key=True),
    Column("opted_out", Boolean, nullable=False),
    Column("changed_at", Float, nullable=False),
    Column("changed_by", String(64), nullable=False),  # "sms" or a Slack user id
)

# Who sent what to whom and when, refusals and opt-out changes. Also the basis of quotas.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),  # Slack user id, or "sms" for the peer
    Column("action", String(16), nullable=False),  # sent | refused | opt_out | opt_in
    Column("channel", String(32), nullable=True),
    Column("our_number", String(32), nullable=True),
    Column("peer_number", String(64), nullable=True),
    Column("segments", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=True),
)
Index("ix_audit_at", audit.c.at)
Index("ix_audit_actor_at", audit.c.actor, audit.c.at)
Index("ix_audit_peer_at", audit.c.peer_number, audit.c.at)

# Names people gave phone numbers (`/sms name`); one name per number for the whole workspace.
contacts = Table(
    "contacts",
    metadata,
    Column("peer_number", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("updated_by", String(64), nullable=False),  # Slack user id
    Column("updated_at", Float, nullable=False),
)

# Threads a conversation used before it moved to a new one (``threads.idle_days``). Replies
# typed in them still reach the conversation.
past_threads = Table(
    "past_threads",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("thread_ts", String(32), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("closed_at", Float, nullable=False),
)
Index("ix_past_threads_conversation", past_threads.c.conversation_id, past_threads.c.closed_at)

# Per-person settings (`/sms signature`).
user_settings = Table(
    "user_settings",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("signature", Text, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# Sends held until their sender confirms them (over ``policy.confirm_over_segments``). The
# row is the pending message: a restart loses nothing, and the Send button's claim of it
# (pending → sent) is what makes a double click send once.
pending_sends = Table(
    "pending_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("our_number", String(32), nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list of E.164 numbers
    Column("text", Text, nullable=False),
    Column("state", String(16), nullable=False),  # pending|sent|cancelled|refused|expired
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# One alert in the alerts channel that lists the failures of one channel within a window
# (``alerts.rollup_seconds``), updated in place as more arrive.
alert_rollups = Table(
    "alert_rollups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),  # where the failures happened
    Column("opened_at", Float, nullable=False),
    Column("alert_ts", String(32), nullable=True),  # the alert's message, once posted
    Column("items", Text, nullable=False),  # JSON list of {"text", "conversation_id"}
    Column("updated_at", Float, nullable=False),
)
Index("ix_alert_rollups_channel_opened", alert_rollups.c.channel, alert_rollups.c.opened_at)

# Pacing buckets shared by every process on PostgreSQL (bot/jobs/pacing.py): a Slack channel,
# a rate-limited Slack method, VoIPbin's account. Times on the database's clock.
pacing = Table(
    "pacing",
    metadata,
    Column("bucket", String(100), primary_key=True),
    Column("tat", Float, nullable=False),  # GCRA's theoretical arrival time
    Column("held_until", Float, nullable=False),  # a 429's Retry-After holds turns until then
)
