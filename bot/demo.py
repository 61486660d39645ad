"""``sms-bridge demo``: the real bridge, a scripted conversation, and what Slack would show.

Everything runs on 127.0.0.1 and needs no account: the built-in fake Slack and VoIPbin
(``bot.fakes``) on free ports, the real service (``bot.web.create_app`` under uvicorn, as
``serve`` runs it) on another, SQLite in a temporary directory, fixed dummy secrets.

The script speaks to the bridge the way Slack and VoIPbin do, over HTTP and signed:

1. Anna types ``/sms +31612345678 ...`` (a signed form post to ``/slack/events``);
2. VoIPbin reports that SMS ``sent``, then ``delivered`` (signed ``message_updated`` webhooks);
3. the person texts back (a signed ``message_created`` inbound webhook);
4. Bob answers in the thread (a signed ``message`` event);
5. VoIPbin reports Bob's SMS ``failed``, which raises an alert.

Each step waits, with a deadline, until the fakes show its effect. Then the channels are
printed thread by thread as people would read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier

from bot.config import AppConfig, Settings
from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin
from bot.phone import format_international
from bot.slack.mrkdwn import to_plain_text

# Fixed dummy secrets: they only ever travel between this process and its own fakes.
BOT_TOKEN = "xoxb-demo-bot-token"  # noqa: S105
SIGNING_SECRET = "demo-signing-secret"  # noqa: S105
ACCESSKEY = "vb_demo_accesskey"
WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105

TEAM = "T0DEMO001"
CHANNEL = "C0SUPPORT1"
CHANNEL_NAME = "support"
ALERTS = "C0ALERTS01"
ALERTS_NAME = "sms-alerts"
OUR_NUMBER = "+31201234567"
PEER = "+31612345678"
USERS = {"U0ANNA0001": "Anna", "U0BOB00001": "Bob"}
ANNA, BOB = list(USERS)

FIRST_TEXT = "Hi Kim, your bike is repaired and ready to pick up."
INBOUND_TEXT = "Great, thanks! Can I come by at 5 today?"
REPLY_TEXT = "Yes, we are open until 6. See you then!"

STEP_TIMEOUT = 10.0
_PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


class DemoError(Exception):
    """A step did not take effect in time (the message says which)."""


@dataclass(frozen=True)
class HumanPost:
    """A message a person wrote in Slack: it reaches the bridge as an event, so the fake
    Slack never stored it. ``after`` is the ts of the last message shown before it."""

    channel: str
    ts: str
    thread_ts: str | None
    user: str
    text: str
    after: str


@dataclass(frozen=True)
class Ephemeral:
    """An answer only ``user`` sees (the /sms acknowledgement)."""

    channel: str
    user: str
    command: str
    text: str
    after: str


@dataclass
class Script:
    """The running demo: the fakes, a client for the bridge, and what people did."""

    http: httpx.AsyncClient
    slack: FakeSlack
    voipbin: FakeVoipbin
    humans: list[HumanPost] = field(default_factory=list)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    # -- speaking as Slack and VoIPbin --------------------------------------------------------

    def _signed(self, body: str, content_type: str) -> dict[str, str]:
        ts = str(int(time.time()))
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
        if signature is None:  # only without a secret, and the demo always has one
            raise DemoError("could not sign a Slack request")
        return {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature,
        }

    async def slash(self, user: str, text: str) -> dict[str, Any]:
        body = urlencode(
            {
                "token": "demo",
                "team_id": TEAM,
                "team_domain": "demo",
                "channel_id": CHANNEL,
                "channel_name": CHANNEL_NAME,
                "user_id": user,
                "user_name": USERS[user].lower(),
                "command": "/sms",
                "text": text,
                "api_app_id": "A0DEMO0001",
                "response_url": f"{self.slack.base}/response/{uuid.uuid4().hex}",
                "trigger_id": "1.2.3",
            }
        )
        after = _last_ts(self.slack, CHANNEL)
        response = await self.http.post(
            "/slack/events",
            content=body,
            headers=self._signed(body, "application/x-www-form-urlencoded"),
        )
        _expect_ok(response, "/sms")
        answer: dict[str, Any] = response.json()
        self.ephemerals.append(
            Ephemeral(CHANNEL, user, f"/sms {text}", str(answer.get("text", "")), after)
        )
        return answer

    async def thread_reply(self, user: str, thread_ts: str, text: str) -> str:
        ts = f"{time.time():.6f}"  # Slack's ts for the person's message; unique here
        after = _last_ts(self.slack, CHANNEL)
        event = {
            "type": "message",
            "channel": CHANNEL,
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "channel_type": "channel",
            "team": TEAM,
        }
        body = json.dumps(
            {
                "token": "demo",
                "team_id": TEAM,
                "api_app_id": "A0DEMO0001",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
            }
        )
        response = await self.http.post(
            "/slack/events", content=body, headers=self._signed(body, "application/json")
        )
        _expect_ok(response, "the thread reply event")
        self.humans.append(HumanPost(CHANNEL, ts, thread_ts, user, text, after))
        return ts

    async def webhook(self, kind: str, message: dict[str, Any]) -> None:
        body = FakeVoipbin.event(kind, message)
        headers = {
            "content-type": "application/json",
            "x-voipbin-signature": self.voipbin.sign(body),
        }
        response = await self.http.post("/voipbin/webhook", content=body, headers=headers)
        _expect_ok(response, f"the {kind} webhook")

    # -- waiting ----------------------------------------------------------------------------

    async def until(self, what: str, predicate: Callable[[], bool]) -> None:
        """Poll the fakes until ``predicate`` holds; after STEP_TIMEOUT, fail naming ``what``."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while not predicate():
            if time.monotonic() > deadline:
                raise DemoError(f"{what}: not seen within {STEP_TIMEOUT:.0f} s")
            await asyncio.sleep(0.02)

    def done(self, step: str) -> None:
        self.steps.append(step)


def _expect_ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise DemoError(f"the bridge answered {what} with HTTP {response.status_code}")


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int(micros.ljust(6, "0")[:6] or 0)


def _last_ts(slack: FakeSlack, channel: str) -> str:
    messages = slack.messages(channel)
    return str(messages[-1]["ts"]) if messages else "0"


def _find(slack: FakeSlack, channel: str, needle: str, *, in_thread: bool) -> dict[str, Any]:
    for message in slack.messages(channel):
        if bool(message.get("thread_ts")) == in_thread and needle in message.get("text", ""):
            return message
    return {}


def _shows(slack: FakeSlack, channel: str, ts: str, label: str) -> Callable[[], bool]:
    """A check: does the message at ``ts`` show ``label`` (its status line) now?"""

    def check() -> bool:
        for message in slack.messages(channel):
            if message["ts"] == ts:
                return label in json.dumps(message.get("blocks") or [])
        return False

    return check


# -- the script ---------------------------------------------------------------------------------


async def play(script: Script) -> None:
    slack, voipbin = script.slack, script.voipbin
    pretty_peer = format_international(PEER)

    # 1. /sms: a thread for the number, the text in it, and the SMS at VoIPbin.
    await script.slash(ANNA, f"{PEER} {FIRST_TEXT}")
    await script.until("the SMS sent through VoIPbin", lambda: len(voipbin.sends()) == 1)
    await script.until(
        "the /sms text in the number's thread",
        lambda: bool(_find(slack, CHANNEL, FIRST_TEXT, in_thread=True)),
    )
    root = _find(slack, CHANNEL, pretty_peer, in_thread=False)
    if not root:
        raise DemoError(f"no thread root for {pretty_peer} in #{CHANNEL_NAME}")
    thread_ts = str(root["ts"])
    script.done(f"Anna typed /sms {PEER} ...: VoIPbin was asked to send it")

    # 2. Its delivery: sent, then delivered, shown on the message.
    first = voipbin.messages()[0]
    posted = str(_find(slack, CHANNEL, FIRST_TEXT, in_thread=True)["ts"])
    for status, label in (("sent", "Sent"), ("delivered", "Delivered")):
        await script.webhook("message_updated", voipbin.set_status(first["id"], status))
        await script.until(
            f"the status {status!r} on the /sms message", _shows(slack, CHANNEL, posted, label)
        )
    script.done("VoIPbin reported it sent, then delivered: the status line followed")

    # 3. The person answers by SMS.
    inbound = voipbin.inbound(PEER, OUR_NUMBER, INBOUND_TEXT)
    await script.webhook("message_created", inbound)
    await script.until(
        "the inbound SMS in the thread",
        lambda: bool(_find(slack, CHANNEL, INBOUND_TEXT, in_thread=True)),
    )
    script.done(f"{pretty_peer} texted back: posted in the thread")

    # 4. Bob answers in the thread: it goes out as SMS, and his message gets a status reaction.
    reply_ts = await script.thread_reply(BOB, thread_ts, REPLY_TEXT)
    await script.until("Bob's reply sent through VoIPbin", lambda: len(voipbin.sends()) == 2)
    await script.until(
        "a status reaction on Bob's reply", lambda: bool(slack.reactions(CHANNEL, reply_ts))
    )
    script.done("Bob replied in the thread: VoIPbin was asked to send it")

    # 5. That SMS fails: the reaction turns to X, and the failure is alerted.
    reply_sms = next(m for m in voipbin.messages() if m["text"] == REPLY_TEXT)
    await script.webhook("message_updated", voipbin.set_status(reply_sms["id"], "failed"))
    await script.until(
        "the failed reaction on Bob's reply",
        lambda: slack.reactions(CHANNEL, reply_ts) == ["x"],
    )
    await script.until(
        "the failure notice in the thread",
        lambda: any(
            m.get("thread_ts") == thread_ts and "failed" in m.get("text", "")
            for m in slack.messages(CHANNEL)
        ),
    )
    await script.until(
        "the failure alert in the alerts channel",
        lambda: any("failed" in m.get("text", "") for m in slack.messages(ALERTS)),
    )
    script.done("VoIPbin reported Bob's SMS failed: alerted in the thread and in #sms-alerts")


# -- running it ---------------------------------------------------------------------------------


def _config() -> AppConfig:
    return AppConfig.model_validate(
        {
            "region": "NL",
            "numbers": [{"number": OUR_NUMBER, "channel": CHANNEL}],
            "alerts": {"channel": ALERTS, "stuck_after": 600},
            # The fake Slack has no rate limit: do not pace the demo's posts.
            "slack": {"enabled": False},
            "jobs": {"poll_interval_seconds": 0.05, "shutdown_grace_seconds": 2},
        }
    )


def _settings(slack: FakeSlack, voipbin: FakeVoipbin, database_url: str) -> Settings:
    return Settings.model_validate(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "VOIPBIN_ACCESSKEY": ACCESSKEY,
            "VOIPBIN_API_URL": voipbin.url,
            "VOIPBIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database_url,
        }
    )


@contextlib.asynccontextmanager
async def _bridge(settings: Settings, config: AppConfig) -> AsyncIterator[str]:
    """The real service under uvicorn on a free loopback port; yields its base URL."""
    from bot.web import create_app

    app = create_app(settings, config, watch_dependencies=False)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="on", log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 15
    while not server.started and not task.done():
        if time.monotonic() > deadline:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=30)
            raise DemoError("the bridge did not start within 15 s")
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise DemoError("the bridge did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


@contextlib.contextmanager
def _fakes() -> Iterator[tuple[FakeSlack, FakeVoipbin]]:
    with (
        FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM) as slack,
        FakeVoipbin(accesskey=ACCESSKEY, webhook_secret=WEBHOOK_SECRET) as voipbin,
    ):
        voipbin.add_number(OUR_NUMBER)
        for user, name in USERS.items():
            slack.set_user(user, name)
        yield slack, voipbin


async def run(out: TextIO) -> None:
    """Run the whole demo and write the report to ``out``; raises DemoError on a stuck step."""
    started = time.monotonic()
    with _fakes() as (slack, voipbin), tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{os.path.join(tmp, 'demo.db')}"
        async with _bridge(_settings(slack, voipbin, database_url), _config()) as url:
            out.write(_header(url, slack, voipbin))
            async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
                script = Script(http=http, slack=slack, voipbin=voipbin)
                try:
                    await play(script)
                finally:
                    out.write(_steps(script))
            out.write(render(script))
    out.write(f"\nThe demo took {time.monotonic() - started:.1f} s; nothing left 127.0.0.1.\n")


def _header(url: str, slack: FakeSlack, voipbin: FakeVoipbin) -> str:
    return (
        "sms-bridge demo: the real bridge against fake Slack and VoIPbin, all on 127.0.0.1\n"
        f"  bridge   {url}  (SQLite in a temporary directory)\n"
        f"  Slack    {slack.url}  (fake)\n"
        f"  VoIPbin  {voipbin.url}  (fake)\n"
        f"  {format_international(OUR_NUMBER)} is routed to #{CHANNEL_NAME}; "
        f"alerts go to #{ALERTS_NAME}\n\n"
    )


def _steps(script: Script) -> str:
    lines = ["What happened:"]
    lines += [f"  {n}. {step}" for n, step in enumerate(script.steps, 1)]
    return "\n".join(lines) + "\n"


# -- what people see ----------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Slack mrkdwn as a person reads it: names for mentions, emoji, entities decoded."""
    return to_plain_text(text, user_names=USERS)


def _context_lines(message: dict[str, Any]) -> list[str]:
    """The small grey lines under a message (Block Kit context blocks): the status line,
    "Texting from ...". Everything else is shown by the text fallback."""
    lines = []
    for block in message.get("blocks") or []:
        if block.get("type") == "context":
            for element in block.get("elements") or []:
                if element.get("text"):
                    lines.append(_plain(str(element["text"])))
    return lines


def _reactions(names: list[str]) -> str:
    return "  ".join(f"{_plain(f':{name}:')} (:{name}:)" for name in names)


@dataclass(frozen=True)
class _Shown:
    key: tuple[tuple[int, int], int]
    ts: str
    thread_ts: str | None
    author: str
    text: str
    details: list[str]
    broadcast: bool = False


def _entries(script: Script, channel: str) -> list[_Shown]:
    slack = script.slack
    shown: list[_Shown] = []
    for message in slack.messages(channel):
        thread_ts = message.get("thread_ts")
        details = _context_lines(message)
        names = [r["name"] for r in message.get("reactions") or []]
        if names:
            details.append(f"reactions: {_reactions(names)}")
        author = "sms-bridge" if message.get("bot_id") else USERS.get(message.get("user", ""), "?")
        shown.append(
            _Shown(
                key=(_ts_key(message["ts"]), 0),
                ts=message["ts"],
                thread_ts=thread_ts if thread_ts != message["ts"] else None,
                author=author,
                text=_plain(message.get("text", "")),
                details=details,
                broadcast=message.get("subtype") == "thread_broadcast",
            )
        )
    for human in script.humans:
        if human.channel != channel:
            continue
        names = slack.reactions(channel, human.ts)
        shown.append(
            _Shown(
                key=(_ts_key(human.after), 1),
                ts=human.ts,
                thread_ts=human.thread_ts,
                author=USERS[human.user],
                text=_plain(human.text),
                details=[f"reactions: {_reactions(names)}"] if names else [],
            )
        )
    for ephemeral in script.ephemerals:
        if ephemeral.channel != channel:
            continue
        shown.append(
            _Shown(
                key=(_ts_key(ephemeral.after), 1),
                ts="",
                thread_ts=None,
                author=f"sms-bridge (only visible to {USERS[ephemeral.user]})",
                text=_plain(ephemeral.text),
                details=[f"in answer to: {ephemeral.command}"],
            )
        )
    return sorted(shown, key=lambda s: s.key)


def _lines(entry: _Shown, indent: str) -> list[str]:
    head = f"{indent}{entry.author}: {entry.text}"
    if entry.broadcast:
        head += "   [also sent to the channel]"
    return [head] + [f"{indent}    {detail}" for detail in entry.details]


def render_channel(script: Script, channel: str, name: str) -> str:
    entries = _entries(script, channel)
    out = [f"#{name} ({channel})", "-" * (len(name) + len(channel) + 4)]
    if not entries:
        out.append("  (no messages)")
    for entry in entries:
        if entry.broadcast:
            # "Also send to the channel": shown in its thread and in the channel.
            out.append(f"  {entry.author} (from a thread): {entry.text}")
            continue
        if entry.thread_ts is not None:
            continue
        out += _lines(entry, "  ")
        replies = [e for e in entries if entry.ts and e.thread_ts == entry.ts]
        if replies:
            count = f"{len(replies)} {'reply' if len(replies) == 1 else 'replies'}"
            out.append(f"    thread, {count}:")
        for reply in replies:
            out += _lines(reply, "    | ")
    return "\n".join(out) + "\n"


def render_sms(script: Script) -> str:
    out = ["SMS at VoIPbin", "--------------"]
    for message in script.voipbin.messages(None):
        source = format_international(str(message["source"].get("target", "")))
        for target in message["targets"]:
            to = format_international(str(target["destination"].get("target", "")))
            arrow = "in " if message["direction"] == "inbound" else "out"
            out.append(f"  {arrow} {source} -> {to}  [{target['status']}]  {message['text']}")
    return "\n".join(out) + "\n"


def render(script: Script) -> str:
    """What the people in Slack see, channel by channel and thread by thread, then the SMS."""
    return "\n".join(
        [
            "",
            "What Slack shows:",
            "",
            render_channel(script, CHANNEL, CHANNEL_NAME),
            render_channel(script, ALERTS, ALERTS_NAME),
            render_sms(script),
        ]
    )


def main(out: TextIO | None = None) -> int:
    """``sms-bridge demo``: 0 when every step took effect, 1 otherwise."""
    from bot.logs import setup_logging

    stream = out or sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="replace")  # emoji on a console that has none
    # Everything the demo talks to is on 127.0.0.1. slack_sdk sends every call through
    # HTTPS_PROXY / HTTP_PROXY when set (it ignores NO_PROXY), so drop them for this process.
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)
    setup_logging(
        [BOT_TOKEN, SIGNING_SECRET, ACCESSKEY, WEBHOOK_SECRET],
        level=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    try:
        asyncio.run(run(stream))
    except DemoError as exc:
        print(f"sms-bridge demo: {exc}", file=sys.stderr)
        return 1
    return 0
