"""The one ASGI app: Slack, VoIPbin webhooks, health, readiness and metrics.

``create_app`` is the factory ``sms-bridge serve`` runs and the tests drive: it wires the
database, the Slack and VoIPbin clients, the bridge and the job runner, and starts and stops
them with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.components import Components, build_components
from bot.config import AppConfig, Settings
from bot.dependencies import DependencyWatch, probe_database, probe_slack, probe_voipbin
from bot.jobs import queue
from bot.jobs.pressure import BackPressure
from bot.runtime import settle_garbage_collector
from bot.slack.app import build_bolt_app
from bot.store.db import migrate
from bot.voipbin.webhook import WebhookError, parse_event, signature_valid

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


class ListenError(Exception):
    """The port cannot be opened (taken, or not allowed); the message names host and port."""


def open_listener(host: str, port: int) -> socket.socket:
    """The listening socket for ``host:port``, opened before anything says "started": opened
    by uvicorn, a taken port ended the process with uvicorn's own error and exit status,
    after the start had been logged."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ListenError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; another process has the "
            "port, or it needs privileges: choose another with --port"
        ) from exc


class LimitBody:
    """Answers 413 to a request whose body is larger than ``limit`` bytes, whether it says so
    in Content-Length or not, before any handler reads it.

    The rest of the body is read and thrown away before the answer (up to ``DRAIN_BYTES``):
    a server that closes a connection with unread bytes in it makes the kernel reset the
    connection, and a sender that asked to close after the answer (``Connection: close``)
    then sees a reset instead of the 413 and retries. A body beyond the drain cap is answered
    at once and the connection closed; its sender may see the reset."""

    DRAIN_BYTES = 16 * 1024 * 1024

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                if int(value) <= self.DRAIN_BYTES:
                    await _drain(receive, self.DRAIN_BYTES)
                await _too_large(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _drain(receive, self.DRAIN_BYTES - received)
            await _too_large(scope, receive, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Reads and drops the rest of a request body, at most ``budget`` bytes of it."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class FrontDoor:
    """Counts the Slack and VoIPbin requests being answered in ``pressure`` (the runner's
    ``BackPressure``), so the job runner steps back while they queue and catches up at once
    when the last one is answered."""

    def __init__(self, app: ASGIApp, *, pressure: BackPressure) -> None:
        self.app = app
        self.pressure = pressure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ("/slack/events", "/voipbin/webhook"):
            await self.app(scope, receive, send)
            return
        self.pressure.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.pressure.request_answered()


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"error": "request body too large"}, status_code=413)
    await response(scope, receive, send)


def _malformed_slack_body(body: bytes, content_type: str) -> str | None:
    """Why a body cannot be a Slack request, or None. Bolt parses the body before it checks
    the signature, the way ``slack_bolt.request.internals.parse_body`` does, and assumes a
    JSON object; anything else is turned away here with a 400 rather than reaching it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not text:
        return None
    if content_type.split(";")[0].strip() == "application/json" or text.startswith("{"):
        candidate: str | None = text
    elif "payload" in text:
        candidate = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
    else:
        candidate = None
    if candidate is None:
        return None
    try:
        parsed = json.loads(candidate)
    except json.JSONDecodeError:
        return "the body is not valid JSON"
    return None if isinstance(parsed, dict) else "the body is not a JSON object"


class Readiness:
    """``/readyz``: can this replica do its work? Each check is cached, so probes stay cheap.

    The database must answer and both credentials must be accepted. An outage of Slack or
    VoIPbin is reported but does not make the replica unready: it still takes webhooks and
    commands into the job table (that is what the table is for), and taking every replica out
    of rotation would turn VoIPbin's deliveries away, and VoIPbin gives up after 3 attempts.
    """

    def __init__(self, parts: Components, *, ttl: float = 30.0) -> None:
        self._parts = parts
        self._ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}

    async def _cached(self, name: str, probe: Callable[[], Awaitable[str]]) -> str:
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            result = await asyncio.wait_for(probe(), timeout=5)
        except Exception as exc:
            result = f"unreachable ({type(exc).__name__})"
        # A failing database is checked again at once; the APIs are not hammered.
        ttl = self._ttl if (name != "database" or result == "ok") else 0.0
        self._cache[name] = (now + ttl, result)
        return result

    async def _database(self) -> str:
        return await probe_database(self._parts.engine)

    async def _slack(self) -> str:
        return await probe_slack(self._parts.slack_client)

    async def _voipbin(self) -> str:
        return await probe_voipbin(self._parts.voipbin)

    async def check(self) -> dict[str, Any]:
        database = await self._cached("database", self._database)
        slack = await self._cached("slack", self._slack)
        voipbin = await self._cached("voipbin", self._voipbin)
        ready = (
            database == "ok"
            and not slack.startswith("invalid")
            and not (voipbin.startswith("invalid"))
        )
        return {"ready": ready, "database": database, "slack": slack, "voipbin": voipbin}


def health_routes(parts: Components) -> list[Route]:
    """``/healthz`` (the process answers), ``/readyz`` (``Readiness``) and ``/metrics``
    (Prometheus; the job queue's depth and age are read on each scrape) of one process:
    ``sms-bridge serve``, or ``sms-bridge worker --port``, whose job counters exist only in
    the worker's own process."""
    readiness = Readiness(parts)
    metrics = parts.metrics

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(_: Request) -> Response:
        report = await readiness.check()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    async def metrics_endpoint(_: Request) -> Response:
        try:
            depth = await queue.depth(parts.engine, now=time.time())
            oldest = await queue.oldest_pending(parts.engine)
        except Exception:
            log.warning("metrics: the job queue could not be read")
        else:
            for state in ("pending", queue.SCHEDULED, "running", "dead"):
                metrics.queue_depth.labels(state=state).set(depth.get(state, 0))
            metrics.queue_age.set(max(0.0, time.time() - oldest) if oldest else 0.0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]


def create_app(
    settings: Settings,
    config: AppConfig,
    *,
    run_jobs: bool = True,
    settle_gc: bool = False,
    watch_dependencies: bool = True,
) -> Starlette:
    """The service. ``run_jobs=False`` serves requests without a job runner in this process
    (another process, ``sms-bridge worker``, runs the jobs). ``settle_gc``: once started,
    tune the garbage collector for a long-running server (``settle_garbage_collector``);
    ``sms-bridge serve`` sets it, tests that run many apps in one process do not.
    ``watch_dependencies``: log each dependency's state at start and while one is wrong
    (``bot.dependencies.DependencyWatch``); off only for the demo, whose fakes it set up itself
    and which plays VoIPbin's webhooks by hand."""
    parts = build_components(settings, config)
    bolt = build_bolt_app(
        client=parts.slack_client,
        signing_secret=settings.require_signing_secret(),
        bridge=parts.bridge,
        messenger=parts.messenger,
    )
    slack_handler = AsyncSlackRequestHandler(bolt)
    webhook_secret = (
        settings.voipbin_webhook_secret.get_secret_value()
        if settings.voipbin_webhook_secret
        else None
    )
    metrics = parts.metrics

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        problem = _malformed_slack_body(
            await request.body(), request.headers.get("content-type", "")
        )
        if problem is not None:
            metrics.slack_requests.labels(result="400").inc()
            return JSONResponse({"error": problem}, status_code=400)
        response = await slack_handler.handle(request)
        metrics.slack_requests.labels(result=str(response.status_code)).inc()
        metrics.request_seconds.labels(route="/slack/events").observe(time.perf_counter() - started)
        return response

    # The webhook is the busiest route: its metric children and answers are made once.
    webhook_seconds = metrics.request_seconds.labels(route="/voipbin/webhook")
    webhook_results: dict[str, Any] = {}
    accepted: dict[str, bytes] = {}

    def count_webhook(result: str) -> None:
        child = webhook_results.get(result)
        if child is None:
            child = webhook_results[result] = metrics.webhooks.labels(result=result)
        child.inc()

    def accepted_answer(outcome: str) -> Response:
        body = accepted.get(outcome)
        if body is None:
            answer = {"ok": True, "result": outcome}
            body = accepted[outcome] = json.dumps(answer, separators=(",", ":")).encode()
        return Response(body, media_type="application/json")

    async def voipbin_webhook(request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await _webhook(request)
        finally:
            webhook_seconds.observe(time.perf_counter() - started)

    async def _webhook(request: Request) -> Response:
        body = await request.body()
        if webhook_secret is not None and not signature_valid(
            webhook_secret, body, request.headers.get("x-voipbin-signature")
        ):
            count_webhook("bad_signature")
            log.warning("webhook refused: missing or wrong X-VoIPBIN-Signature")
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = parse_event(body)
        except WebhookError as exc:
            count_webhook("malformed")
            log.warning("webhook refused: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        delivery = event.delivery()
        try:
            outcome = "ignored" if delivery is None else await parts.bridge.accept(delivery)
        except Exception:
            # Nothing was recorded: a 5xx makes VoIPbin deliver it again.
            count_webhook("error")
            log.exception("webhook could not be recorded type=%s", event.type)
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        count_webhook(outcome)
        return accepted_answer(outcome)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await migrate(parts.engine)
        parts.open_slack_session()
        if run_jobs:
            parts.runner.start()
        if settle_gc:
            settle_garbage_collector()
        log.info(
            "sms-bridge started numbers=%d jobs=%s listening=%s",
            len(config.numbers),
            run_jobs,
            getattr(app.state, "listening", "-"),
        )
        watch = DependencyWatch(
            engine=parts.engine,
            slack=parts.slack_client,
            voipbin=parts.voipbin,
            settings=settings,
            webhook=True,
            interval=config.alerts.dependency_check_seconds,
        )
        watching = asyncio.create_task(watch.run()) if watch_dependencies else None
        try:
            yield
        finally:
            if watching is not None:
                watching.cancel()
                await asyncio.gather(watching, return_exceptions=True)
            await parts.aclose(runner_started=run_jobs)
            log.info("sms-bridge stopped")

    app = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/voipbin/webhook", voipbin_webhook, methods=["POST"]),
            *health_routes(parts),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(FrontDoor, pressure=parts.pressure)
    app.add_middleware(LimitBody, limit=config.max_body_bytes)
    app.state.components = parts
    return app
