"""The baselines: bare apps on the service's own server stack (Starlette under uvicorn, the same
uvicorn settings as ``sms-bridge serve``), each run as a subprocess like the service.

- ``bolt``: a Slack Bolt ``AsyncApp`` behind ``AsyncSlackRequestHandler`` whose ``/sms``
  listener acknowledges at once (same client, signing secret and ``process_before_response``
  as the service's app).
- ``hmac``: a Starlette endpoint that checks ``X-VoIPBIN-Signature`` (HMAC-SHA256 of the raw
  body) and answers 200.

``python -m bench.baselines bolt|hmac --port P``; secrets and the fake Slack URL come from the
same environment variables as the service's.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def healthz(_: Request) -> Response:
    return JSONResponse({"ok": True})


def bolt_app() -> Starlette:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"],
        base_url=os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
        timeout=10,
    )
    app = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    @app.command("/sms")
    async def sms(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def hmac_app() -> Starlette:
    secret = os.environ["VOIPBIN_WEBHOOK_SECRET"].encode()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = (request.headers.get("x-voipbin-signature") or "").strip().lower()
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/voipbin/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["bolt", "hmac"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app: Any = bolt_app() if args.kind == "bolt" else hmac_app()
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            lifespan="on",
            log_config=None,
            access_log=False,
        )
    ).run()


if __name__ == "__main__":
    main()
