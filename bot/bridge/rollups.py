"""Alert roll-ups: the alert-channel posts of one channel's failures within
``alerts.rollup_seconds`` are one alert that lists them, updated in place, so a bad minute is
one post, not a stream (at 0, each failure is an alert of its own).

The first failure is posted at once. Later ones are written into the roll-up and redrawn by
a ``rollup_redraw`` job, at most one per REDRAW_SECONDS slot: 60 failures in a few seconds
are one post and a couple of updates, not 59 (``chat.update`` is Tier 3, about 50 a minute
for the whole workspace, https://api.slack.com/methods/chat.update, and the status lines of
outgoing SMS draw on the same budget). The redraw is a job written in the same transaction as
the failure it shows, and runs after the slot ends, so the last update always shows the full
count, even when the process stops in between.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bridge.context import Clock
from bot.bridge.jobs import Notice, RollupAlert, RollupRedraw, enqueue
from bot.bridge.outbox import slack
from bot.bridge.ports import AlertItem, Messenger
from bot.config import AlertsConfig
from bot.store import conversations, rollups

# At most one roll-up update per this many seconds: 12 a minute per failing channel, so
# even four channels failing at once stay within chat.update's ~50 a minute.
REDRAW_SECONDS = 5.0


class AlertRollups:
    """Failure alerts, rolled up per channel."""

    def __init__(
        self, *, engine: AsyncEngine, clock: Clock, messenger: Messenger, config: AlertsConfig
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._messenger = messenger
        self._config = config

    async def enqueue_alert(
        self,
        conn: AsyncConnection,
        *,
        key: str,
        conversation: conversations.Conversation,
        text: str,
        now: float,
    ) -> None:
        """The alert-channel post of a failure. Failures of one channel within
        ``alerts.rollup_seconds`` share one alert that lists them (updated in place), so a
        bad minute is one post, not a stream. Its jobs share a lane: they run in order."""
        alerts = self._config.channel
        assert alerts is not None
        if self._config.rollup_seconds <= 0:
            notice = Notice.alert_post(alerts, key=key, text=text, conversation_id=conversation.id)
            await enqueue(conn, notice, now=now)
            return
        rollup = RollupAlert.of(alerts, key=key, conversation=conversation, text=text)
        await enqueue(conn, rollup, now=now)

    async def job_rollup_alert(self, job: RollupAlert, attempt: int) -> None:
        alerts = self._config.channel
        if alerts is None:
            return
        source = job.source
        link: str | None = None
        async with self._engine.connect() as conn:
            conversation = await conversations.get_conversation(conn, job.conversation_id)
        if conversation.thread_ts is not None:
            link = await self._messenger.permalink(
                channel=conversation.channel, ts=conversation.thread_ts
            )
        item = {"key": job.key, "text": job.text, "link": link}
        now = self._clock()
        async with self._engine.begin() as conn:
            rollup = await rollups.open_rollup(
                conn, channel=source, since=now - self._config.rollup_seconds
            )
            if rollup is None:
                rollup_id = await rollups.start_rollup(conn, channel=source, item=item, now=now)
                items, alert_ts = [item], None
            else:
                rollup_id, alert_ts, items = rollup.id, rollup.alert_ts, rollup.items
                if all(i.get("key") != job.key for i in items):  # not a retry of this job
                    items = [*items, item]
                    await rollups.save_rollup(conn, rollup_id, now=now, items=items)
                if alert_ts is not None:
                    await self._schedule_redraw(conn, rollup_id, now=now)
        if alert_ts is not None:
            return
        ts: str = await slack(
            self._messenger.post_rollup(
                channel=alerts,
                source=source,
                items=_listed(items),
                key=f"rollup:{rollup_id}",
                reconcile=attempt > 1 or len(items) > 1,
            )
        )
        async with self._engine.begin() as conn:
            await rollups.save_rollup(conn, rollup_id, now=self._clock(), alert_ts=ts)

    async def _schedule_redraw(self, conn: AsyncConnection, rollup_id: int, *, now: float) -> None:
        """One redraw per slot of REDRAW_SECONDS, run when the slot ends: every failure
        written within the slot is in the roll-up by then (a second one in the same slot
        finds the job written and adds nothing)."""
        redraw, at = RollupRedraw.of(
            self._config.channel, rollup_id=rollup_id, now=now, slot_seconds=REDRAW_SECONDS
        )
        await enqueue(conn, redraw, now=now, run_after=at)

    async def job_rollup_redraw(self, job: RollupRedraw, attempt: int) -> None:
        """Show every failure the roll-up lists now."""
        alerts = self._config.channel
        if alerts is None:
            return
        async with self._engine.connect() as conn:
            rollup = await rollups.get_rollup(conn, job.rollup_id)
        if rollup is None or rollup.alert_ts is None:
            return  # the job that posts it shows every failure it lists
        await slack(
            self._messenger.update_rollup(
                channel=alerts,
                ts=rollup.alert_ts,
                source=rollup.channel,
                items=_listed(rollup.items),
            )
        )


def _listed(items: list[dict[str, Any]]) -> list[AlertItem]:
    return [AlertItem(text=str(i["text"]), link=i.get("link")) for i in items]
