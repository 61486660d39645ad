"""Inbound SMS and statuses through VoIPbin's WebSocket subscription (reference §4.6).

Connects to ``<VOIPBIN_API_URL with http→ws>/ws?accesskey=<key>``, subscribes to
``customer_id:<id>:message`` (the id from ``GET /customer``), and hands every message frame,
wrapped or unwrapped (``bot.nopublic.frames``), to ``Bridge.accept``.

Nothing sent while we were not connected may be lost, so every (re)connect starts with a
catch-up poll of ``GET /messages`` (``bot.nopublic.poller``) reaching back to when the last
connection ended; frames that arrive meanwhile wait their turn, in order. A safety poll also
runs every ``safety_poll_interval`` seconds while connected; and while the socket stays down
(refused, unreachable), a poll runs every ``fallback_poll_interval`` seconds. A frame the
bridge could not record (the database is down, say) ends the connection: the catch-up after
reconnecting picks it up. Reconnects back off exponentially with jitter, up to
``max_backoff``. VoIPbin sends every message event twice to this subscription (reference
§4.6): the second copy of a frame (the same message in the same state) is dropped here.

The access key is in the URL, so no URL and no aiohttp error text (which can quote the URL)
reaches a log line unscrubbed.

How the socket authenticates. Reference §4.6 (from VoIPbin's docs) shows ``?token=<jwt>`` and
marks ``?accesskey=`` as uncertain. VoIPbin's source settles it (bin-api-manager): ``/ws`` is
an ordinary route of the ``/v1.0`` group, so the authentication middleware of reference §1.1
runs first and takes the access key from ``?accesskey=`` (or a cookie), never from a header
(``Authorization: Bearer`` is for JWTs, and a JWT in ``?token=`` or a cookie is looked at
before the key). A wrong or missing key gets the 401 envelope of §6.1. The handler then
accepts agent, access-key and direct identities; older releases took agent logins only and
ended an access key's request without upgrading it (HTTP 200, empty body). A subscribe frame
with a topic the key may not read (not ``customer_id:<its customer id>...``) ends the
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.nopublic.background import BackgroundTask
from bot.nopublic.frames import parse_frame
from bot.nopublic.poller import Acceptor, Poller, delivery_key
from bot.voipbin.client import VoipbinError
from bot.voipbin.models import Customer
from bot.voipbin.webhook import WebhookError

log = logging.getLogger(__name__)

_QUERY = re.compile(r"\?[^\s'\"]*")

# Frames remembered to drop VoIPbin's second copy of each (it publishes every message event
# on two topics that one subscription matches, reference §4.6); the copies come together.
SEEN_FRAMES = 2_048


class CustomerSource(Protocol):
    async def get_customer(self) -> Customer: ...


class FrameNotRecorded(Exception):
    """The bridge could not record a frame; the connection is ended so the catch-up after
    reconnecting picks the message up again (from ``created``, when the message says)."""

    def __init__(self, message: str, created: datetime | None) -> None:
        super().__init__(message)
        self.created = created


def websocket_url(api_url: str) -> str:
    """``https://api.voipbin.net/v1.0`` → ``wss://api.voipbin.net/v1.0/ws`` (no query)."""
    parts = urlsplit(api_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def message_topic(customer_id: str) -> str:
    return f"customer_id:{customer_id}:message"


def backoff_delay(
    attempt: int, *, initial: float, cap: float, rng: random.Random | None = None
) -> float:
    """Capped exponential backoff with jitter: a random delay between half and all of
    ``min(cap, initial * 2**attempt)``, so many clients do not reconnect in step."""
    ceiling = min(cap, initial * (2 ** min(attempt, 32)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def describe_error(exc: BaseException, *secrets: str) -> str:
    """An exception as a log-safe string: type, status if any, and its text with every query
    string and secret removed (aiohttp quotes the URL, access key included)."""
    text = _QUERY.sub("?…", str(exc))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    status = getattr(exc, "status", None)
    kind = type(exc).__name__ + (f" {status}" if isinstance(status, int) else "")
    return f"{kind}: {text}" if text else kind


class VoipbinSubscriber:
    """``start()`` runs the subscription in a task until ``stop()``."""

    def __init__(
        self,
        *,
        bridge: Acceptor,
        voipbin: CustomerSource,
        accesskey: str,
        url: str,
        catch_up: Poller | None,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
        stable_after: float = 30.0,
        heartbeat: float = 30.0,
        safety_poll_interval: float | None = 300.0,
        fallback_poll_interval: float = 5.0,
        customer_id: str | None = None,
    ) -> None:
        self._bridge = bridge
        self._voipbin = voipbin
        self._accesskey = accesskey
        self._url = url
        self._catch_up = catch_up
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._stable_after = stable_after
        self._heartbeat = heartbeat
        self._safety_poll_interval = safety_poll_interval
        self._fallback_poll_interval = fallback_poll_interval
        self._next_fallback_poll = 0.0
        self._subscribed_at: float | None = None
        self._customer_id = customer_id
        self._background = BackgroundTask("voipbin-websocket")
        self._caught_up = False
        self.connected = asyncio.Event()
        self.connects = 0  # successful subscriptions, for tests and logs
        self.frames_handled = 0
        self.frames_repeated = 0  # second copies dropped
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._background.task

    def start(self) -> None:
        self._background.start(self.run)

    async def stop(self) -> None:
        await self._background.stop()

    def _safe(self, exc: BaseException) -> str:
        return describe_error(exc, self._accesskey)

    async def _topic(self) -> str:
        if self._customer_id is None:
            customer = await self._voipbin.get_customer()
            if not customer.id:
                raise VoipbinError("VoIPbin GET /customer answered without an id")
            self._customer_id = customer.id
        return message_topic(self._customer_id)

    async def run(self) -> None:
        """Connect, subscribe, catch up, read; reconnect with backoff; until cancelled. While
        the socket stays down, poll every ``fallback_poll_interval`` so SMS keep coming."""
        attempt = 0
        self._next_fallback_poll = time.monotonic() + self._fallback_poll_interval
        async with aiohttp.ClientSession() as session:
            while True:
                self._subscribed_at = None
                try:
                    await self._connect_once(session)
                except asyncio.CancelledError:
                    raise
                except FrameNotRecorded as exc:
                    log.error("voipbin websocket: %s; reconnecting to catch up", exc)
                except VoipbinError as exc:
                    log.warning("voipbin websocket: cannot read the customer: %s", exc.message)
                except aiohttp.WSServerHandshakeError as exc:
                    if exc.status in (401, 403):
                        log.error(
                            "voipbin websocket: VoIPbin refused the access key on the WebSocket "
                            "(HTTP %d); polling GET /messages meanwhile (--inbound poll avoids "
                            "the socket)",
                            exc.status,
                        )
                    elif exc.status == 200:
                        log.error(
                            "voipbin websocket: VoIPbin answered the WebSocket without upgrading "
                            "it (HTTP 200): this VoIPbin release takes only agent logins on /ws, "
                            "not access keys; polling GET /messages meanwhile (--inbound poll "
                            "avoids the socket)"
                        )
                    else:
                        log.warning("voipbin websocket: connection failed: %s", self._safe(exc))
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("voipbin websocket: connection failed: %s", self._safe(exc))
                except Exception as exc:
                    log.error("voipbin websocket: unexpected error: %s", self._safe(exc))
                now = time.monotonic()
                if self._subscribed_at is not None:
                    if now - self._subscribed_at >= self._stable_after:
                        attempt = 0
                    self._next_fallback_poll = now + self._fallback_poll_interval
                delay = backoff_delay(attempt, initial=self._initial_backoff, cap=self._max_backoff)
                attempt += 1
                log.info("voipbin websocket: reconnecting in %.2fs (attempt %d)", delay, attempt)
                await self._wait_to_reconnect(delay)

    async def _wait_to_reconnect(self, delay: float) -> None:
        """Sleep ``delay`` seconds, polling meanwhile whenever a fallback poll is due."""
        deadline = time.monotonic() + delay
        while True:
            now = time.monotonic()
            if self._catch_up is not None and now >= self._next_fallback_poll:
                await self._poll()
                now = time.monotonic()
                self._next_fallback_poll = now + self._fallback_poll_interval
            if now >= deadline:
                return
            wake = deadline if self._catch_up is None else min(deadline, self._next_fallback_poll)
            await asyncio.sleep(max(0.0, wake - now))

    async def _connect_once(self, session: aiohttp.ClientSession) -> None:
        """One connection, from connecting to its end."""
        topic = await self._topic()
        async with session.ws_connect(
            self._url,
            # The access key goes in the query, as on every /v1.0 route (reference §1.1; see
            # the module docstring for why §4.6's ``?token=`` is not needed).
            params={"accesskey": self._accesskey},
            heartbeat=self._heartbeat,
            autoping=True,
        ) as ws:
            await ws.send_json({"type": "subscribe", "topics": [topic]})
            self.connects += 1
            self.connected.set()
            self._subscribed_at = time.monotonic()
            log.info("voipbin websocket: connected and subscribed (connection %d)", self.connects)
            self._caught_up = False
            failed_at: datetime | None = None
            try:
                await self._session(ws)
            except FrameNotRecorded as exc:
                failed_at = exc.created
                raise
            finally:
                self.connected.clear()
                if self._catch_up is not None and self._caught_up:
                    # Caught up, then frames flowed until now: the next catch-up starts here
                    # (less the overlap), or where a frame could not be recorded, if earlier.
                    ended = datetime.now(UTC)
                    self._catch_up.advance_to(min(ended, failed_at) if failed_at else ended)
            log.warning("voipbin websocket: connection closed (code %s)", ws.close_code)

    async def _session(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read frames into a queue (so reading, and the heartbeat, never wait for the
        bridge), and hand them over in order once the catch-up poll is done."""
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for frame in ws:
                    if frame.type == aiohttp.WSMsgType.TEXT:
                        queue.put_nowait(str(frame.data))
                    elif frame.type == aiohttp.WSMsgType.BINARY:
                        queue.put_nowait(bytes(frame.data).decode("utf-8", "replace"))
                    elif frame.type == aiohttp.WSMsgType.ERROR:
                        error = ws.exception()
                        detail = self._safe(error) if error is not None else "unknown"
                        log.warning("voipbin websocket: read error: %s", detail)
                        break
            finally:
                queue.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            poll_due = 0.0 if self._catch_up is not None else float("inf")
            retry = 0
            while True:
                if time.monotonic() >= poll_due:
                    if await self._poll():
                        self._caught_up = True
                        retry = 0
                        interval = self._safety_poll_interval
                        poll_due = time.monotonic() + (
                            interval if interval is not None else float("inf")
                        )
                    else:
                        retry += 1
                        poll_due = time.monotonic() + backoff_delay(
                            retry, initial=self._initial_backoff, cap=self._max_backoff
                        )
                wait = poll_due - time.monotonic()
                try:
                    data = await asyncio.wait_for(queue.get(), None if wait > 1e6 else wait)
                except TimeoutError:
                    continue
                if data is None:
                    return
                await self._handle(data)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _poll(self) -> bool:
        assert self._catch_up is not None
        try:
            await self._catch_up.poll_once()
        except asyncio.CancelledError:
            raise
        except VoipbinError as exc:
            log.warning("voipbin websocket: catch-up poll failed: %s", exc.message)
            return False
        except Exception:
            log.exception("voipbin websocket: catch-up poll failed")
            return False
        return True

    async def _handle(self, data: str) -> None:
        try:
            event = parse_frame(data)
        except WebhookError as exc:
            log.warning("voipbin websocket: frame ignored: %s", exc)
            return
        if event is None:
            keys = ",".join(sorted(_keys(data)))
            log.debug("voipbin websocket: frame ignored, not a message (keys %s)", keys)
            return
        key = delivery_key(event.message) if event.message is not None else None
        if key is not None and key in self._seen:
            self.frames_repeated += 1
            return
        try:
            delivery = event.delivery()
            outcome = "ignored" if delivery is None else await self._bridge.accept(delivery)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("voipbin websocket: frame could not be recorded type=%s", event.type)
            created = event.message.tm_create if event.message is not None else None
            raise FrameNotRecorded(
                f"a {event.type} frame could not be recorded ({type(exc).__name__})", created
            ) from None
        self.frames_handled += 1
        if key is not None:
            self._seen[key] = None
            while len(self._seen) > SEEN_FRAMES:
                self._seen.popitem(last=False)
        if self._catch_up is not None and event.message is not None:
            self._catch_up.note_handed(event.message)
        log.debug("voipbin websocket: frame type=%s result=%s", event.type, outcome)


def _keys(data: str) -> list[str]:
    with contextlib.suppress(ValueError):
        raw = json.loads(data)
        if isinstance(raw, dict):
            return [str(k) for k in raw][:10]
    return []
