"""Persistence: conversations, messages, jobs and seen events (SQLAlchemy 2, async)."""
