"""A fake Slack Web API on 127.0.0.1: the methods the bridge calls, with their state.

It keeps what was posted (threads, blocks, metadata, reactions) so a test can read a channel
the way a person would, records every call, and can be told to misbehave: an HTTP status, an
``ok: false`` error, a slow answer, a reset connection, or Slack's per-channel rate limit.

It refuses what real Slack refuses (bot/fakes/slack_limits.py): blocks, views and texts
over Slack's limits draw Slack's own answer (``invalid_blocks``, ``invalid_arguments``,
``msg_too_long``, ``msg_blocks_too_long``; a response_url post an HTTP 400), change nothing and
are recorded as failed. It paces as Slack does, by default: ``chat.postMessage`` about one per
second per channel with a short burst, ``chat.update`` about 50 a minute per workspace (Tier 3);
over the limit, HTTP 429 with ``Retry-After`` (``set_rate_limit`` changes or removes a limit;
``clock`` makes time a test's to move).

It also keeps the workspace's channels: who is a member of each (the bot too), which are
private or archived, which were deleted, and the token's scopes. ``conversations.info``
(``is_member``), ``conversations.members``, ``users.conversations`` and ``chat.postMessage``
all answer from that one model, as Slack does: a private channel the bot is not in is
``channel_not_found``, a public one refuses posts with ``not_in_channel``, and a read without
``channels:read`` / ``groups:read`` is ``missing_scope``. A channel nobody set up is a public
one whose only member is the bot.

It accepts what slack_sdk sends (reference slack.md §1.3): ``chat.*`` as JSON bodies, some
methods as a query string on a POST, ``chat.getPermalink`` as a GET, form bodies from the sync
client. Query, form and JSON parameters are merged into one dict.

Run it alone with ``python -m bot.fakes.slack --port 8901``; ``GET /_fake/calls`` and
``POST /_fake/fail_next`` then control it from another process.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import json
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from bot.fakes._server import Answer, FakeServer, Fault, Request, take_token
from bot.fakes.slack_limits import refusal

_PERMALINK_BASE = "https://fake.slack.test/archives"
_DEFAULT_ERRORS = {200: "fatal_error", 429: "ratelimited", 503: "service_unavailable"}
_JSON_PARAMS = ("blocks", "metadata", "attachments", "view")  # JSON when sent as a form
# The bot token's scopes unless a test says otherwise: those of manifests/slack-app.yaml.
DEFAULT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "channels:history",
        "groups:history",
        "reactions:write",
        "users:read",
        "usergroups:read",
        "channels:read",
        "groups:read",
    }
)


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``burst`` calls at once, refilled at ``per_second``, one bucket per
    channel (``per="channel"``) or one for the workspace (``per="workspace"``)."""

    per_second: float
    burst: int
    per: str = "channel"


# Slack's pacing (api.slack.com/apis/rate-limits, api.slack.com/methods/chat.postMessage):
# chat.postMessage "1 per second per channel, short bursts allowed"; chat.update Tier 3, "50+
# per minute" per workspace and app. Others are not limited here (Tier 3/4 for reads; nothing
# the bridge calls that often).
DEFAULT_RATE_LIMITS = {
    "chat.postMessage": RateLimit(per_second=1.0, burst=3, per="channel"),
    "chat.update": RateLimit(per_second=50 / 60, burst=50, per="workspace"),
}


@dataclass
class Channel:
    """A channel of the fake workspace."""

    id: str
    name: str
    members: list[str] = field(default_factory=list)
    private: bool = False
    archived: bool = False

    def info(self, viewer: str) -> dict[str, Any]:
        """The ``channel`` object of ``conversations.info`` as ``viewer`` sees it."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.private,
            "is_group": False,
            "is_private": self.private,
            "is_archived": self.archived,
            "is_member": viewer in self.members,
            "num_members": len(self.members),
        }


@dataclass(frozen=True)
class SlackCall:
    """One request to the fake: the Web API method (or ``"response_url"``), its merged
    parameters, when it arrived (``time.monotonic()``), the HTTP status it got (0 for a reset
    connection), and whether it failed (a scripted fault, a bad token, a rate limit, a refusal
    of what Slack refuses, or a genuine ``ok: false`` answer such as ``already_reacted``), with
    the ``error`` code it was answered, and ``warnings`` about an accepted call (e.g.
    ``missing_text_in_blocks``: blocks without a top-level text fallback)."""

    method: str
    params: dict[str, Any]
    at: float
    answered_status: int = 200
    failed: bool = False
    error: str = ""
    warnings: tuple[str, ...] = ()


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6] or 0)


def _in_window(ts: str, params: dict[str, Any]) -> bool:
    """Slack's ``oldest``/``latest`` bounds (exclusive unless ``inclusive``)."""
    key, inclusive = _ts_key(ts), _truthy(params.get("inclusive"))
    if params.get("oldest"):
        oldest = _ts_key(str(params["oldest"]))
        if key < oldest or (key == oldest and not inclusive):
            return False
    if params.get("latest"):
        latest = _ts_key(str(params["latest"]))
        if key > latest or (key == latest and not inclusive):
            return False
    return True


class FakeSlack(FakeServer):
    """The Slack Web API at ``url`` (``http://127.0.0.1:PORT/api/``), plus ``response_url``
    posts at ``base + "/response/<anything>"``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str = "xoxb-test",  # noqa: S107 - a fake's well-known test value
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host=host, port=port)
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.rate_limited_count = 0
        self._calls: list[SlackCall] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self._reactions: dict[tuple[str, str], list[str]] = {}  # any message, even a user's
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, Channel] = {}
        self._deleted: set[str] = set()
        self._scopes = set(DEFAULT_SCOPES)
        self._groups: dict[str, list[str]] = {}
        self._homes: dict[str, dict[str, Any]] = {}  # user -> the App Home view published
        self._ts = itertools.count(101)
        self._clock = clock  # the rate limits' time (a test may move it by hand)
        self._limits: dict[str, RateLimit] = dict(DEFAULT_RATE_LIMITS)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # -> (tokens, when)

    @property
    def url(self) -> str:
        """The Web API base URL, as ``AsyncWebClient(base_url=...)`` wants it."""
        return f"{self.base}/api/"

    # -- test-side set-up -------------------------------------------------------------------

    # fail_next (FakeServer): faults are keyed by Web API method (e.g. "chat.postMessage",
    # or "response_url"); without a status they answer 200 with an ok:false body, as Slack
    # does, and a 429 also gets Retry-After: 1.
    default_fault_status = 200

    def set_user(self, user_id: str, display_name: str, real_name: str | None = None) -> None:
        """Make ``users.info`` know ``user_id``."""
        real = real_name or display_name
        with self.lock:
            self._users[user_id] = {
                "id": user_id,
                "team_id": self.team_id,
                "name": display_name.lower().replace(" ", "."),
                "real_name": real,
                "is_bot": False,
                "profile": {"display_name": display_name, "real_name": real},
            }

    def add_channel(
        self,
        channel: str,
        *,
        name: str | None = None,
        members: Iterable[str] = (),
        bot_member: bool = True,
        private: bool | None = None,
        archived: bool = False,
    ) -> None:
        """Create (or replace) ``channel``: ``members`` are in it, and the bot too unless
        ``bot_member=False``. ``private`` defaults to whether the ID starts with ``G``."""
        people = list(members)
        if bot_member and self.bot_user_id not in people:
            people.append(self.bot_user_id)
        if not bot_member and self.bot_user_id in people:
            people.remove(self.bot_user_id)
        with self.lock:
            self._deleted.discard(channel)
            self._channels[channel] = Channel(
                id=channel,
                name=name or f"chan-{channel.lower()}",
                members=people,
                private=channel.startswith("G") if private is None else private,
                archived=archived,
            )

    def set_members(self, channel: str, members: list[str]) -> None:
        """Make ``members`` exactly the channel's members (the bot is one only if listed);
        a channel nobody set up has just the bot."""
        with self.lock:
            self._known(channel).members = list(members)

    def invite_bot(self, channel: str) -> None:
        """``/invite @bot`` in ``channel``."""
        with self.lock:
            members = self._known(channel).members
            if self.bot_user_id not in members:
                members.append(self.bot_user_id)

    def remove_bot(self, channel: str) -> None:
        """``/remove @bot`` in ``channel`` (or the bot was never invited)."""
        with self.lock:
            members = self._known(channel).members
            if self.bot_user_id in members:
                members.remove(self.bot_user_id)

    def delete_channel(self, channel: str) -> None:
        """The channel no longer exists: every method naming it answers channel_not_found."""
        with self.lock:
            self._channels.pop(channel, None)
            self._deleted.add(channel)

    def set_scopes(self, scopes: Iterable[str] | None) -> None:
        """The bot token's scopes (None: back to the manifest's, ``DEFAULT_SCOPES``)."""
        with self.lock:
            self._scopes = set(DEFAULT_SCOPES if scopes is None else scopes)

    def set_usergroup(self, group: str, users: list[str]) -> None:
        with self.lock:
            self._groups[group] = list(users)

    def set_rate_limit(
        self,
        method: str | None = "chat.postMessage",
        per_second: float | None = 1.0,
        burst: int = 3,
        *,
        per: str | None = None,
    ) -> None:
        """Set ``method``'s token bucket: ``burst`` calls at once, then ``per_second``, per
        channel or per workspace (``per``; by default per channel for chat.postMessage, per
        workspace otherwise). Over the limit: HTTP 429 with ``Retry-After``. ``per_second=None``
        removes ``method``'s limit; ``method=None`` removes every limit (Slack's defaults are
        ``DEFAULT_RATE_LIMITS``; a test that changes them says why)."""
        with self.lock:
            if method is None:
                self._limits.clear()
            elif per_second is None:
                self._limits.pop(method, None)
            else:
                scope = per or ("channel" if method == "chat.postMessage" else "workspace")
                if scope not in ("channel", "workspace") or per_second <= 0 or burst < 1:
                    raise ValueError(f"bad rate limit: {per_second}/s, burst {burst}, {scope}")
                self._limits[method] = RateLimit(per_second, burst, scope)
            self._buckets.clear()

    def rate_limits(self) -> dict[str, RateLimit]:
        """The limits enforced now, by method."""
        with self.lock:
            return dict(self._limits)

    def reset(self) -> None:
        """Forget calls, messages, reactions, faults and rate-limit state (users, channels,
        scopes and the rate-limit setting stay)."""
        with self.lock:
            self._calls.clear()
            self._messages.clear()
            self._reactions.clear()
            self._homes.clear()
            self._faults.clear()
            self._buckets.clear()
            self.rate_limited_count = 0
            self.lock.notify_all()

    # -- test-side queries ------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Every recorded call (of ``method``), in arrival order, failed ones included."""
        with self.lock:
            return [c for c in self._calls if method is None or c.method == method]

    def warned(self) -> list[SlackCall]:
        """The accepted calls that drew a warning (a test asserts there are none)."""
        with self.lock:
            return [c for c in self._calls if c.warnings]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The parameters of every successful ``chat.postMessage`` (to ``channel``)."""
        return [
            c.params
            for c in self.calls("chat.postMessage")
            if not c.failed and (channel is None or c.params.get("channel") == channel)
        ]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages as Slack holds them now (after updates), in ts order,
        thread replies included."""
        with self.lock:
            found = [self._view(m) for (ch, _), m in self._messages.items() if ch == channel]
        return sorted(found, key=lambda m: _ts_key(m["ts"]))

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The thread's root and its replies, in order."""
        return [
            m
            for m in self.messages(channel)
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The App Home view last published for ``user`` (``views.publish``), if any."""
        with self.lock:
            view = self._homes.get(user)
            return copy.deepcopy(view) if view is not None else None

    def reactions(self, channel: str, ts: str) -> list[str]:
        """The reaction names on a message (also on messages the fake never saw posted)."""
        with self.lock:
            return list(self._reactions.get((channel, ts), []))

    def summary(self) -> str:
        """The last recorded calls, for assertion messages."""
        with self.lock:
            recent = self._calls[-15:]
            total = len(self._calls)
        lines = []
        for c in recent:
            where = c.params.get("channel", c.params.get("path", ""))
            text = str(c.params.get("text", ""))[:40]
            flag = f" FAILED {c.error}".rstrip() if c.failed else ""
            lines.append(f"  {c.method} {where} -> {c.answered_status}{flag} {text!r}")
        return f"{total} calls, the last {len(recent)}:\n" + "\n".join(lines)

    # -- the server side --------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        """Answer one HTTP request (called on the server's threads)."""
        received = time.monotonic()
        if request.path.startswith("/_fake/"):
            return self._control(request)
        if request.path.startswith("/response/"):
            method, params = "response_url", self._params(request)
            params["path"] = request.path
        elif request.path.startswith("/api/"):
            method, params = request.path[len("/api/") :], self._params(request)
            if not self._authorised(request, params):
                self._record(method, params, received, 200, failed=True)
                return Answer(200, {"ok": False, "error": "invalid_auth"})
        else:
            return Answer(404, {"ok": False, "error": "unknown_method"})
        if "_invalid_json" in params:
            self._record(method, params, received, 200, failed=True)
            return Answer(200, {"ok": False, "error": "invalid_json"})

        fault = self.take_fault(method)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.mode != "hang":
            if fault.create_first:
                self._answer(method, params)
            answer = self._fault(fault)
            self._record(method, params, received, answer.status, failed=True)
            return answer
        retry_after = self._rate_limited(method, str(params.get("channel", "")))
        if retry_after is not None:
            self._record(method, params, received, 429, failed=True, error="ratelimited")
            body = {"ok": False, "error": "ratelimited"}
            return Answer(429, body, {"Retry-After": str(retry_after)})
        warnings: list[str] = []
        refused = refusal(method, params, warnings=warnings)
        if refused is not None:
            self._record(method, params, received, refused.status, failed=True, error=refused.error)
            if refused.status != 200:  # a response_url answers in plain text, as webhooks do
                return Answer(refused.status, None, raw=refused.error.encode())
            return Answer(200, refused.body())
        result = self._answer(method, params)
        ok = bool(result.get("ok", False))
        error = "" if ok else str(result.get("error", ""))
        self._record(method, params, received, 200, failed=not ok, error=error, warnings=warnings)
        return Answer(200, result)

    def _params(self, request: Request) -> dict[str, Any]:
        """Query string, form body and JSON body, merged (JSON-in-a-form decoded)."""
        params: dict[str, Any] = dict(request.query)
        if request.body:
            if "json" in request.headers.get("content-type", ""):
                try:
                    decoded = request.json()
                except (ValueError, UnicodeDecodeError):
                    decoded = None
                if isinstance(decoded, dict):
                    params.update(decoded)
                else:
                    params["_invalid_json"] = True
            else:
                form = parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True)
                params.update(form)
        for key in _JSON_PARAMS:
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return params

    def _authorised(self, request: Request, params: dict[str, Any]) -> bool:
        header = request.headers.get("authorization", "")
        return header == f"Bearer {self.bot_token}" or params.get("token") == self.bot_token

    @staticmethod
    def _fault(fault: Fault) -> Answer:
        if fault.mode == "reset":
            return Answer(0, None, reset=True)
        if fault.mode == "malformed":
            return Answer(200, None, raw=b"<html><body>upstream connect error</body></html>")
        body = fault.body
        if body is None:
            error = _DEFAULT_ERRORS.get(fault.status, "fatal_error")
            body = {"ok": False, "error": error}
        headers = dict(fault.headers)
        if fault.status == 429:
            headers.setdefault("Retry-After", "1")
        return Answer(fault.status, body, headers)

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        at: float,
        status: int,
        *,
        failed: bool,
        error: str = "",
        warnings: Iterable[str] = (),
    ) -> None:
        kept = copy.deepcopy(params)
        call = SlackCall(method, kept, at, status, failed, error, tuple(warnings))
        with self.lock:
            self._calls.append(call)
            self.lock.notify_all()

    def _rate_limited(self, method: str, channel: str) -> int | None:
        """None if the call may go ahead, else the seconds until the bucket has a token
        (whole seconds, rounded up, as Slack's ``Retry-After`` is)."""
        with self.lock:
            limit = self._limits.get(method)
            if limit is None:
                return None
            key = (method, channel if limit.per == "channel" else "")
            retry_after = take_token(
                self._buckets,
                key,
                per_second=limit.per_second,
                burst=limit.burst,
                now=self._clock(),
            )
            if retry_after is not None:
                self.rate_limited_count += 1
            return retry_after

    def _next_ts(self) -> str:
        """Unique, increasing message timestamps: 1700000000.000101, .000102, ..."""
        n = next(self._ts)
        return f"{1_700_000_000 + n // 1_000_000}.{n % 1_000_000:06d}"

    def _view(self, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Slack shows it, reactions included (a copy)."""
        shown = copy.deepcopy(message)
        names = self._reactions.get((message["channel"], message["ts"]))
        if names:
            shown["reactions"] = [
                {"name": n, "users": [self.bot_user_id], "count": 1} for n in names
            ]
        return shown

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The real answer of the Web API ``method`` (state changes included)."""
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
                return self._post_message(channel, params)
            if method == "chat.update":
                stored = self._messages.get((channel, str(params.get("ts"))))
                if stored is None:
                    return {"ok": False, "error": "message_not_found"}
                for key in ("text", "blocks", "metadata"):
                    if key in params:
                        stored[key] = params[key]
                return {
                    "ok": True,
                    "channel": channel,
                    "ts": stored["ts"],
                    "text": stored["text"],
                    "message": self._view(stored),
                }
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": self._next_ts()}
            if method == "chat.getPermalink":
                return self._permalink(channel, str(params.get("message_ts", "")))
            if method == "views.publish":
                return self._publish(params)
            if method in ("reactions.add", "reactions.remove"):
                return self._react(method, channel, params)
            if method in ("conversations.replies", "conversations.history"):
                return self._history(method, channel, params)
            if method == "users.info":
                user = self._users.get(str(params.get("user")))
                if user is None:
                    return {"ok": False, "error": "user_not_found"}
                return {"ok": True, "user": copy.deepcopy(user)}
            if method == "conversations.info":
                found = self._readable(channel)
                if isinstance(found, dict):
                    return found
                return {"ok": True, "channel": found.info(self.bot_user_id)}
            if method == "usergroups.users.list":
                group = self._groups.get(str(params.get("usergroup")))
                if group is None:
                    return {"ok": False, "error": "no_such_subteam"}
                return {"ok": True, "users": list(group)}
            if method == "conversations.members":
                found = self._readable(channel)
                if isinstance(found, dict):
                    return found
                members = list(found.members)
                return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}
            if method == "users.conversations":
                return self._user_conversations(params)
            if method in ("views.open", "views.push"):
                return self._open_view(params)
            if method == "views.update":
                view_id = params.get("view_id") or params.get("external_id")
                if not view_id:
                    return {"ok": False, "error": "invalid_arguments"}
                return {"ok": True, "view": {"id": str(view_id), **copy.deepcopy(params["view"])}}
            return {"ok": True}

    def _open_view(self, params: dict[str, Any]) -> dict[str, Any]:
        """``views.open`` and ``views.push``: a modal needs a trigger_id (Slack's expire after
        3 s; here any non-empty one is accepted) and a view; the view is answered back with an
        id."""
        view = params.get("view")
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **copy.deepcopy(view)}}

    # -- the workspace's channels (callers hold the lock) ---------------------------------------

    def _known(self, channel: str) -> Channel:
        """The channel, set up on first mention as a public one with the bot as its member."""
        if channel not in self._channels:
            self._deleted.discard(channel)
            private = channel.startswith("G")
            members = [self.bot_user_id]
            self._channels[channel] = Channel(channel, f"chan-{channel.lower()}", members, private)
        return self._channels[channel]

    def _find(self, channel: str) -> Channel | None:
        """The channel as the bot sees it: None if it does not exist (or is private and the
        bot is not in it, which Slack answers the same way)."""
        if not channel or channel in self._deleted:
            return None
        found = self._known(channel)
        if found.private and self.bot_user_id not in found.members:
            return None
        return found

    def _missing_scope(self, *needed: str) -> dict[str, Any] | None:
        lacking = [scope for scope in needed if scope not in self._scopes]
        if not lacking:
            return None
        provided = ",".join(sorted(self._scopes))
        return {"ok": False, "error": "missing_scope", "needed": lacking[0], "provided": provided}

    def _readable(self, channel: str) -> Channel | dict[str, Any]:
        """The channel for a ``conversations.*`` read, or Slack's error answer."""
        found = self._find(channel)
        if found is None:
            return {"ok": False, "error": "channel_not_found"}
        denied = self._missing_scope("groups:read" if found.private else "channels:read")
        return found if denied is None else denied

    def _user_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        """The channels ``user`` (default: the bot) is a member of, of ``types``."""
        user = str(params.get("user") or self.bot_user_id)
        types = str(params.get("types") or "public_channel").split(",")
        wanted = {"public_channel": False, "private_channel": True}
        scopes = {"public_channel": "channels:read", "private_channel": "groups:read"}
        denied = self._missing_scope(*(scopes[t] for t in types if t in scopes))
        if denied is not None:
            return denied
        private_kinds = {wanted[t] for t in types if t in wanted}
        skip_archived = _truthy(params.get("exclude_archived"))
        found = [
            c.info(self.bot_user_id)
            for c in self._channels.values()
            if user in c.members
            and c.private in private_kinds
            and not (skip_archived and c.archived)
        ]
        return {"ok": True, "channels": found, "response_metadata": {"next_cursor": ""}}

    def _post_message(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        found = self._find(channel)
        if found is None:
            return {"ok": False, "error": "channel_not_found"}
        if found.archived:
            return {"ok": False, "error": "is_archived"}
        if self.bot_user_id not in found.members and "chat:write.public" not in self._scopes:
            return {"ok": False, "error": "not_in_channel"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
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
        if message.get("thread_ts") and _truthy(params.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": self._view(message)}

    def _permalink(self, channel: str, ts: str) -> dict[str, Any]:
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        link = f"{_PERMALINK_BASE}/{channel}/p{ts.replace('.', '')}"
        stored = self._messages.get((channel, ts))
        if stored is not None and stored.get("thread_ts") not in (None, ts):
            link += f"?thread_ts={stored['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _publish(self, params: dict[str, Any]) -> dict[str, Any]:
        """``views.publish``: a home tab view for one user, replacing the one before."""
        user, view = str(params.get("user_id") or ""), params.get("view")
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        stored = copy.deepcopy(view) | {"id": f"V{next(self._ts):08d}", "team_id": self.team_id}
        self._homes[user] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _react(self, method: str, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        # Reactions are kept per (channel, ts) even for messages the fake never saw: the
        # bridge reacts to people's thread replies, which reach it as events, not via here.
        names = self._reactions.setdefault((channel, str(params.get("timestamp"))), [])
        name = str(params.get("name"))
        if method == "reactions.add":
            if name in names:
                return {"ok": False, "error": "already_reacted"}
            names.append(name)
        else:
            if name not in names:
                return {"ok": False, "error": "no_reaction"}
            names.remove(name)
        return {"ok": True}

    def _history(self, method: str, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        """``conversations.replies`` (root, then replies, oldest first) and
        ``conversations.history`` (top-level messages, newest first), paged by an offset
        cursor. ``metadata`` is only shown with ``include_all_metadata``, as in Slack."""
        found = sorted(
            (m for (ch, _), m in self._messages.items() if ch == channel),
            key=lambda m: _ts_key(m["ts"]),
        )
        if method == "conversations.replies":
            root = str(params.get("ts"))
            if (channel, root) not in self._messages:
                return {"ok": False, "error": "thread_not_found"}
            found = [m for m in found if m["ts"] == root or m.get("thread_ts") == root]
        else:
            top = [m for m in found if not m.get("thread_ts") or m.get("subtype")]
            found = top[::-1]
        found = [m for m in found if _in_window(m["ts"], params)]
        limit = min(int(params.get("limit") or 100), 1000)
        start = int(params.get("cursor") or 0)
        page = [self._view(m) for m in found[start : start + limit]]
        if not _truthy(params.get("include_all_metadata")):
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
        """``GET /_fake/calls[?method=]``, ``GET /_fake/messages?channel=``,
        ``POST /_fake/fail_next`` (``{"method": ..., **fail_next kwargs}``),
        ``POST /_fake/reset``."""
        if request.path == "/_fake/calls" and request.method == "GET":
            calls = [asdict(c) for c in self.calls(request.query.get("method"))]
            return Answer(200, {"ok": True, "calls": calls})
        if request.path == "/_fake/messages" and request.method == "GET":
            messages = self.messages(request.query.get("channel", ""))
            return Answer(200, {"ok": True, "messages": messages})
        if request.path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return Answer(200, {"ok": True})
        if request.path == "/_fake/fail_next" and request.method == "POST":
            try:
                spec = dict(request.json() or {})
                self.fail_next(spec.pop("method"), **spec)
            except (ValueError, TypeError, KeyError) as exc:
                return Answer(400, {"ok": False, "error": "invalid_arguments", "detail": str(exc)})
            return Answer(200, {"ok": True})
        return Answer(404, {"ok": False, "error": "unknown_method"})


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.fakes.slack``: serve until SIGTERM or SIGINT; print the URL first."""
    parser = argparse.ArgumentParser(description="A fake Slack Web API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bot-token", default="xoxb-test")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="answer every call, however fast"
    )
    args = parser.parse_args(argv)
    fake = FakeSlack(port=args.port, bot_token=args.bot_token)
    if args.no_rate_limits:
        fake.set_rate_limit(None)
    fake.start()
    print(fake.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
