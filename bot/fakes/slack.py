"""A fake Slack Web API on 127.0.0.1: the methods the bridge calls, with their state.

It keeps the messages posted (with thread, blocks, metadata and reactions) so a test can read a
channel the way a person would, records every call, and can be told to fail: an HTTP status,
an ``ok: false`` error, a slow answer, or Slack's per-channel rate limit.

Run it alone with ``python -m bot.fakes.slack --port 8901`` (the crash tests and the demo do).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bot.fakes._server import Answer, FakeServer, Request


@dataclass(frozen=True)
class SlackCall:
    method: str
    params: dict[str, Any]
    at: float
    answered_status: int
    failed: bool


class FakeSlack(FakeServer):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str = "xoxb-test",  # noqa: S107 - a fake's well-known test value
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
    ) -> None:
        super().__init__(host=host, port=port)
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self._calls: list[SlackCall] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._members: dict[str, list[str]] = {}
        self._ts = itertools.count(1)
        self._limit: tuple[str, float, int] | None = None
        self._buckets: dict[str, tuple[float, float]] = {}
        self.rate_limited_count = 0

    @property
    def url(self) -> str:
        return f"{self.base}/api/"

    # -- test-side set-up and queries -------------------------------------------------------

    def fail_next(
        self,
        route: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
        mode: str = "status",
        create_first: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of a Web API method with a fault: an HTTP status,
        a body such as ``{"ok": false, "error": "not_in_channel"}`` (HTTP 200 unless
        ``status`` says otherwise), or ``mode="hang"`` to answer normally after ``delay``."""
        if status is None:
            status = 200 if body is not None else 500
        super().fail_next(
            route,
            status=status,
            body=body,
            headers=headers,
            times=times,
            delay=delay,
            mode=mode,
            create_first=create_first,
        )

    def set_user(self, user_id: str, display_name: str, real_name: str | None = None) -> None:
        with self.lock:
            self._users[user_id] = {
                "id": user_id,
                "name": display_name.lower().replace(" ", "."),
                "real_name": real_name or display_name,
                "profile": {"display_name": display_name, "real_name": real_name or display_name},
            }

    def set_members(self, channel: str, members: list[str]) -> None:
        with self.lock:
            self._members[channel] = list(members)

    def set_rate_limit(
        self, method: str | None = "chat.postMessage", per_second: float = 1.0, burst: int = 3
    ) -> None:
        """Enforce a per-channel token bucket on ``method`` (None turns it off)."""
        with self.lock:
            self._limit = None if method is None else (method, per_second, burst)
            self._buckets.clear()

    def calls(self, method: str | None = None) -> list[SlackCall]:
        with self.lock:
            return [c for c in self._calls if method is None or c.method == method]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The parameters of every successful chat.postMessage, in call order."""
        return [
            c.params
            for c in self.calls("chat.postMessage")
            if not c.failed and (channel is None or c.params.get("channel") == channel)
        ]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages as Slack holds them now (after updates), in ts order."""
        with self.lock:
            found = [dict(m) for (ch, _), m in self._messages.items() if ch == channel]
        return sorted(found, key=lambda m: float(m["ts"]))

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages(channel)
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]

    def reset(self) -> None:
        with self.lock:
            self._calls.clear()
            self._messages.clear()
            self._faults.clear()

    def summary(self) -> str:
        names = [c.method for c in self._calls]
        return f"{len(names)} calls: {names[-20:]}"

    # -- the server side --------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        if request.path.startswith("/response/"):
            posted: dict[str, Any] = request.json() or {}
            posted["path"] = request.path
            self._record("response_url", posted, 200, False)
            return Answer(200, {"ok": True})
        if request.path.startswith("/_fake/"):
            return self._control(request)
        if not request.path.startswith("/api/"):
            return Answer(404, {"ok": False, "error": "unknown_method"})
        method = request.path[len("/api/") :]
        params: dict[str, Any] = dict(request.query)
        content_type = request.headers.get("content-type", "")
        if request.body:
            if "json" in content_type:
                params.update(request.json() or {})
            else:
                params.update(dict(parse_qsl(request.body.decode(), keep_blank_values=True)))
        for key in ("blocks", "metadata"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(params[key])
        fault = self.take_fault(method)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.mode == "hang":
                fault = None  # a slow answer, then the real one
            else:
                body = fault.body if fault.body is not None else {"ok": False, "error": "fault"}
                self._record(method, params, fault.status, True)
                if fault.status == 200 and isinstance(body, dict) and body.get("ok"):
                    return Answer(200, body, fault.headers)
                return Answer(fault.status, body, fault.headers)
        if request.headers.get("authorization") != f"Bearer {self.bot_token}":
            self._record(method, params, 200, True)
            return Answer(200, {"ok": False, "error": "invalid_auth"})
        limited = self._rate_limited(method, str(params.get("channel", "")))
        if limited is not None:
            self._record(method, params, 429, True)
            return Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(limited)})
        body = self._answer(method, params)
        self._record(method, params, 200, not body.get("ok", False))
        return Answer(200, body)

    def _record(self, method: str, params: dict[str, Any], status: int, failed: bool) -> None:
        with self.lock:
            self._calls.append(SlackCall(method, params, time.monotonic(), status, failed))
            self.lock.notify_all()

    def _rate_limited(self, method: str, channel: str) -> int | None:
        with self.lock:
            if self._limit is None or self._limit[0] != method:
                return None
            _, rate, burst = self._limit
            now = time.monotonic()
            tokens, last = self._buckets.get(channel, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[channel] = (tokens - 1.0, now)
                return None
            self._buckets[channel] = (tokens, now)
            self.rate_limited_count += 1
            return max(1, math.ceil((1.0 - tokens) / rate))

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self.lock:
            if method == "auth.test":
                return {
                    "ok": True,
                    "url": "https://fake.slack.test/",
                    "team": "Fake",
                    "user": "sms-bridge",
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "bot_id": self.bot_id,
                }
            if method == "chat.postMessage":
                if not channel:
                    return {"ok": False, "error": "channel_not_found"}
                ts = self._next_ts()
                message = {
                    "type": "message",
                    "channel": channel,
                    "ts": ts,
                    "text": params.get("text", ""),
                    "user": self.bot_user_id,
                    "bot_id": self.bot_id,
                }
                for key in ("thread_ts", "blocks", "metadata"):
                    if params.get(key):
                        message[key] = params[key]
                self._messages[(channel, ts)] = message
                return {"ok": True, "channel": channel, "ts": ts, "message": message}
            if method == "chat.update":
                stored = self._messages.get((channel, str(params.get("ts"))))
                if stored is None:
                    return {"ok": False, "error": "message_not_found"}
                for key in ("text", "blocks"):
                    if key in params:
                        stored[key] = params[key]
                return {"ok": True, "channel": channel, "ts": stored["ts"], "text": stored["text"]}
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": self._next_ts()}
            if method == "chat.getPermalink":
                ts = str(params.get("message_ts", ""))
                link = f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"
                return {"ok": True, "channel": channel, "permalink": link}
            if method in ("reactions.add", "reactions.remove"):
                stored = self._messages.get((channel, str(params.get("timestamp"))))
                reactions: list[str] = stored.setdefault("reactions", []) if stored else []
                name = str(params.get("name"))
                if method == "reactions.add":
                    if name in reactions:
                        return {"ok": False, "error": "already_reacted"}
                    reactions.append(name)
                else:
                    if name not in reactions:
                        return {"ok": False, "error": "no_reaction"}
                    reactions.remove(name)
                return {"ok": True}
            if method in ("conversations.replies", "conversations.history"):
                return self._history(method, channel, params)
            if method == "users.info":
                user = self._users.get(str(params.get("user")))
                if user is None:
                    return {"ok": False, "error": "user_not_found"}
                return {"ok": True, "user": user}
            if method == "conversations.info":
                return {
                    "ok": True,
                    "channel": {
                        "id": channel,
                        "name": f"chan-{channel.lower()}",
                        "is_member": True,
                    },
                }
            if method == "conversations.members":
                members = self._members.get(channel, [self.bot_user_id])
                return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}
            return {"ok": True}

    def _history(self, method: str, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        found = sorted(
            (m for (ch, _), m in self._messages.items() if ch == channel),
            key=lambda m: float(m["ts"]),
        )
        if method == "conversations.replies":
            root = str(params.get("ts"))
            found = [m for m in found if m["ts"] == root or m.get("thread_ts") == root]
        else:
            found = [m for m in found if not m.get("thread_ts")]
            found.reverse()  # history is newest first
        include = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        page = [dict(m) for m in found[start : start + limit]]
        if not include:
            for m in page:
                m.pop("metadata", None)
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _control(self, request: Request) -> Answer:
        if request.path == "/_fake/calls":
            calls = [
                {"method": c.method, "params": c.params, "status": c.answered_status}
                for c in self.calls()
            ]
            return Answer(200, {"calls": calls})
        if request.path == "/_fake/messages":
            return Answer(200, {"messages": self.messages(request.query.get("channel", ""))})
        if request.path == "/_fake/fail_next" and request.method == "POST":
            spec = request.json() or {}
            method = spec.pop("method")
            self.fail_next(method, **spec)
            return Answer(200, {"ok": True})
        return Answer(404, {"ok": False, "error": "unknown_control"})


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Slack Web API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bot-token", default="xoxb-test")
    args = parser.parse_args()
    fake = FakeSlack(port=args.port, bot_token=args.bot_token).start()
    print(fake.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
