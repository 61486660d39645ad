"""FakeSlack and FakeVoipbin in a process of their own, for the bench.

Prints one JSON line with their URLs, then serves until SIGTERM. Besides the fakes' own
``/_fake/`` routes, Slack's fake answers:

- ``GET /_fake/bench/posts?since=N``: every chat.postMessage call from the N-th on, with the
  fake's arrival time (``time.monotonic()``, the same clock in every process on Linux);
- ``GET /_fake/bench/stats``: call counts and ``rate_limited_count``;
- ``POST /_fake/bench/rate_limit`` ``{"per_second": 1, "burst": 3}``: Slack's per-channel limit
  on chat.postMessage.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

from bench.common import ACCESSKEY, BOT_TOKEN, WEBHOOK_SECRET
from bot.fakes._server import Answer, Request
from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin


class BenchSlack(FakeSlack):
    def _control(self, request: Request) -> Answer:
        if request.path == "/_fake/bench/posts":
            since = int(request.query.get("since") or 0)
            with self.lock:
                calls = [c for c in self._calls if c.method == "chat.postMessage"][since:]
            posts: list[dict[str, Any]] = [
                {
                    "at": c.at,
                    "status": c.answered_status,
                    "failed": c.failed,
                    "channel": str(c.params.get("channel", "")),
                    "thread_ts": c.params.get("thread_ts"),
                    "text": str(c.params.get("text", "")),
                }
                for c in calls
            ]
            return Answer(200, {"posts": posts})
        if request.path == "/_fake/bench/stats":
            with self.lock:
                methods: dict[str, int] = {}
                for c in self._calls:
                    methods[c.method] = methods.get(c.method, 0) + 1
                return Answer(
                    200,
                    {
                        "calls": len(self._calls),
                        "rate_limited": self.rate_limited_count,
                        **{f"calls.{k}": v for k, v in methods.items()},
                    },
                )
        if request.path == "/_fake/bench/rate_limit" and request.method == "POST":
            spec = request.json() or {}
            self.set_rate_limit(
                "chat.postMessage", float(spec.get("per_second", 1.0)), int(spec.get("burst", 3))
            )
            return Answer(200, {"ok": True})
        return super()._control(request)


def main() -> None:
    slack = BenchSlack(bot_token=BOT_TOKEN)
    # FakeSlack paces as Slack does by default; the bench runs the bridge unpaced to measure
    # its throughput, and paced_delivery sets the limit it measures (/_fake/bench/rate_limit).
    slack.set_rate_limit(None)
    slack.start()
    voipbin = FakeVoipbin(accesskey=ACCESSKEY, webhook_secret=WEBHOOK_SECRET).start()
    line = {"slack_url": slack.url, "slack_base": slack.base, "voipbin_url": voipbin.url}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    slack.stop()
    voipbin.stop()


if __name__ == "__main__":
    main()
