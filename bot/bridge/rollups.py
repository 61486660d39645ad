"""Alert roll-ups: the alert-channel posts of one channel's failures within
``alerts.rollup_seconds`` are one alert that lists them, updated in place, so a bad minute is
one post, not a stream (at 0, each failure is an alert of its own).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.bridge.core import BridgeCore
from bot.bridge.ports import AlertItem
from bot.jobs.queue import Job, enqueue
from bot.store import interactive, repo


class AlertRollups(BridgeCore):
    """Failure alerts, rolled up per channel."""

    async def _enqueue_alert(
        self,
        conn: AsyncConnection,
        *,
        key: str,
        conversation: repo.Conversation,
        text: str,
        now: float,
    ) -> None:
        """The alert-channel post of a failure. Failures of one channel within
        ``alerts.rollup_seconds`` share one alert that lists them (updated in place), so a
        bad minute is one post, not a stream. Its jobs share a lane: they run in order."""
        alerts = self.config.alerts.channel
        assert alerts is not None
        if self.config.alerts.rollup_seconds <= 0:
            await enqueue(
                conn,
                kind="notice",
                key=f"alert:{key}",
                payload={
                    "channel": alerts,
                    "conversation_id": conversation.id,
                    "text": text,
                    "alert": True,
                },
                channel=alerts,
                now=now,
            )
            return
        await enqueue(
            conn,
            kind="rollup_alert",
            key=f"alert:{key}",
            payload={
                "source": conversation.channel,
                "conversation_id": conversation.id,
                "text": text,
            },
            lane=f"alerts:{conversation.channel}",
            channel=alerts,
            now=now,
        )

    async def _job_rollup_alert(self, job: Job) -> None:
        alerts = self.config.alerts.channel
        if alerts is None:
            return
        payload = job.payload
        source = str(payload["source"])
        link: str | None = None
        async with self._engine.connect() as conn:
            conversation = await repo.get_conversation(conn, int(payload["conversation_id"]))
        if conversation.thread_ts is not None:
            link = await self._messenger.permalink(
                channel=conversation.channel, ts=conversation.thread_ts
            )
        item = {"key": job.key, "text": str(payload["text"]), "link": link}
        now = self._clock()
        async with self._engine.begin() as conn:
            rollup = await interactive.open_rollup(
                conn, channel=source, since=now - self.config.alerts.rollup_seconds
            )
            if rollup is None:
                rollup_id = await interactive.start_rollup(conn, channel=source, item=item, now=now)
                items, alert_ts = [item], None
            else:
                rollup_id, alert_ts, items = rollup.id, rollup.alert_ts, rollup.items
                if all(i.get("key") != job.key for i in items):  # not a retry of this job
                    items = [*items, item]
                    await interactive.save_rollup(conn, rollup_id, now=now, items=items)
        listed = [AlertItem(text=str(i["text"]), link=i.get("link")) for i in items]
        if alert_ts is None:
            ts: str = await self._slack(
                self._messenger.post_rollup(
                    channel=alerts,
                    source=source,
                    items=listed,
                    key=f"rollup:{rollup_id}",
                    reconcile=job.attempts > 1 or len(items) > 1,
                )
            )
            async with self._engine.begin() as conn:
                await interactive.save_rollup(conn, rollup_id, now=self._clock(), alert_ts=ts)
        else:
            await self._slack(
                self._messenger.update_rollup(
                    channel=alerts, ts=alert_ts, source=source, items=listed
                )
            )
