"""Writing the bridge's common jobs (in the caller's transaction), and running a Slack call
inside a job."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.bridge.jobs import Notice, SendSms, ShowStatus, enqueue
from bot.bridge.ports import RateLimited, Rejected, Unavailable
from bot.jobs.runner import GiveUp, RetryLater
from bot.store import conversations, sms

T = TypeVar("T")


async def enqueue_send(
    conn: AsyncConnection, conversation: conversations.Conversation, message_id: int, now: float
) -> None:
    """Send a recorded SMS, in its conversation's lane."""
    await enqueue(conn, SendSms.of(conversation, message_id), now=now)
    await conversations.touch_conversation(conn, conversation.id, now)


async def enqueue_show(
    conn: AsyncConnection, message: sms.Message, label: str, now: float, *, force: bool = False
) -> None:
    """Redraw a message's status. The job runs in the conversation's lane: two redraws of
    one message never race, so an older status can never be drawn over a newer one."""
    await enqueue(conn, ShowStatus.of(message, label, force=force), now=now)


async def thread_notice(
    conn: AsyncConnection,
    conversation: conversations.Conversation,
    *,
    key: str,
    text: str,
    now: float,
    broadcast: bool = False,
    mention: str | None = None,
    retry: int | None = None,
) -> None:
    """A notice in the conversation's thread, after everything already queued for it (it
    runs in the conversation's lane, so it never lands before the message it is about).
    ``retry``: a failed thread reply's message id, for a Retry button on the notice."""
    notice = Notice.in_thread(
        conversation, key=key, text=text, broadcast=broadcast, mention=mention, retry=retry
    )
    await enqueue(conn, notice, now=now)


async def slack(call: Awaitable[T]) -> T:
    """Run a Slack call inside a job, turning its errors into job outcomes."""
    try:
        return await call
    except RateLimited as exc:
        raise RetryLater(exc.message, after=exc.retry_after, count_attempt=False) from exc
    except Unavailable as exc:
        raise RetryLater(exc.message) from exc
    except Rejected as exc:
        raise GiveUp(f"Slack refused: {exc.message}") from exc
