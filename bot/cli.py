"""``sms-bridge``: serve, check, demo, migrate, jobs."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config import (
    DEFAULT_DATABASE_URL,
    AppConfig,
    ConfigError,
    Settings,
    load_config,
    load_settings,
)
from bot.exit_codes import Exit

DEFAULT_POLL_INTERVAL = 5.0


def _config_path(args: argparse.Namespace) -> str:
    import os

    return str(args.config or os.environ.get("SMS_BRIDGE_CONFIG") or "./app.yaml")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.logs import setup_logging
    from bot.web import create_app, open_listener

    # Slack reaches the bridge over Socket Mode (SLACK_APP_TOKEN) or over HTTP, signed
    # (SLACK_SIGNING_SECRET): each mode requires its own secret and not the other's.
    settings = load_settings(slack="socket_mode" if args.no_public_url else "http")
    config = load_config(_config_path(args))
    setup_logging(settings.secrets())
    if args.no_public_url:
        from bot.nopublic.service import serve_without_public_url

        assert settings.slack_app_token is not None  # load_settings required it
        return serve_without_public_url(
            settings,
            config,
            app_token=settings.slack_app_token.get_secret_value(),
            inbound=args.inbound or "websocket",
            poll_interval=DEFAULT_POLL_INTERVAL
            if args.poll_interval is None
            else args.poll_interval,
        )
    if settings.voipbin_webhook_secret is None:
        import logging

        logging.getLogger("bot").warning(
            "VOIPBIN_WEBHOOK_SECRET is not set: webhook deliveries are accepted unsigned. "
            "Set it to the webhook_secret of GET /customer."
        )
    # Migrate before serving, so a database newer than this code stops the start with a
    # clear message and a non-zero exit instead of a failed lifespan.
    from bot.store.db import create_engine, migrate

    async def upgrade() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    listener = open_listener(args.host, args.port)
    app = create_app(settings, config, run_jobs=not args.no_jobs, settle_gc=True)
    app.state.listening = f"{args.host}:{args.port}"
    server = _graceful_server_class()(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(config.jobs.shutdown_grace_seconds) + 5,
        )
    )
    server.run(sockets=[listener])
    return Exit.OK


def _graceful_server_class() -> type:
    import contextlib
    import signal
    from collections.abc import Iterator

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after a graceful shutdown, so the process would end "killed
        by SIGTERM". A stop we asked for and finished cleanly is a success: exit 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {
                sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.logs import setup_logging
    from bot.worker import serve_worker

    # A worker takes no requests: it needs the Slack bot token and VoIPbin's key, not the
    # signing secret or the app token.
    settings = load_settings(slack=None)
    config = load_config(_config_path(args))
    setup_logging(settings.secrets())
    return serve_worker(settings, config, host=args.host, port=args.port)


def cmd_check(args: argparse.Namespace) -> int:
    path = _config_path(args)
    config = load_config(path)
    print(f"{path}: valid")
    print(f"  region: {config.region}")
    for route in config.numbers:
        print(f"  {route.number} -> channel {route.channel}")
    if not config.numbers:
        print("  warning: no numbers are routed; /sms will refuse every channel")
    print(f"  alerts: {config.alerts.channel or 'only in the conversation channels'}")
    if args.offline:
        if args.fix_webhook:
            print("sms-bridge: --fix-webhook talks to VoIPbin; drop --offline", file=sys.stderr)
            return 2
        print("online checks skipped (--offline)")
        return 0
    try:
        # Either Slack mode will do here; the doctor says which one the secrets allow.
        settings = load_settings(slack=None)
    except ConfigError as exc:
        print(f"FAIL  {exc}")
        if args.fix_webhook:
            print("FAIL  --fix-webhook: not changed, the secrets are not in the environment")
            return Exit.FAILED
        # app.yaml is fine, but the service could not start: say so in the exit status too,
        # so that a script or a CI step running `check` does not pass.
        print(
            "online checks skipped: the secrets are not in the environment "
            "(set them to check Slack and VoIPbin too, or pass --offline to check app.yaml alone)"
        )
        return Exit.CONFIG
    return _report_online(settings, config, fix_webhook=args.fix_webhook)


def _report_online(settings: Settings, config: AppConfig, *, fix_webhook: str | None) -> int:
    from bot.doctor import failed, run_checks
    from bot.logs import RedactSecrets

    findings = asyncio.run(run_checks(settings, config, fix_webhook=fix_webhook))
    # A safety net: no finding holds a secret, and none may be printed if one ever did.
    redact = RedactSecrets(settings.secrets()).redact
    for finding in findings:
        print(redact(str(finding)))
    counts = {level: sum(f.level == level for f in findings) for level in ("ok", "warn", "FAIL")}
    print(f"{counts['ok']} ok, {counts['warn']} warn, {counts['FAIL']} FAIL")
    return 1 if failed(findings) else 0


def cmd_demo(_: argparse.Namespace) -> int:
    from bot.demo import main as demo_main

    return demo_main()


def _database_url() -> str:
    import os

    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def cmd_migrate(_: argparse.Namespace) -> int:
    from bot.store.db import create_engine, migrate

    async def run() -> None:
        engine = create_engine(_database_url())
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("database schema is up to date")
    return 0


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_jobs(args: argparse.Namespace) -> int:
    from bot.jobs import queue
    from bot.store.db import create_engine, migrate, require_database

    async def run() -> int:
        engine = create_engine(_database_url())
        try:
            await require_database(engine)
            await migrate(engine)
            if args.action == "retry":
                if args.id is None:
                    print("usage: sms-bridge jobs retry ID", file=sys.stderr)
                    return 2
                if await queue.revive(engine, args.id, now=time.time()):
                    print(f"job {args.id} is queued again")
                    return 0
                print(f"job {args.id} is not a dead job", file=sys.stderr)
                return 1
            states = ["dead"] if args.action == "dead" else ["pending", "running", "dead"]
            rows = await queue.list_jobs(engine, states)
            if not rows:
                print("no jobs")
            for row in rows:
                error = f"  last error: {row.last_error}" if row.last_error else ""
                print(
                    f"{row.id:>6}  {row.state:<8} {row.kind:<13} attempts={row.attempts:<3} "
                    f"created={_when(row.created_at)}  next={_when(row.run_after)}{error}"
                )
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


_SPAN_UNITS = {"m": 60, "h": 3600, "d": 86400}


def since_moment(value: str) -> float:
    """``--since``: an ISO date/time (UTC unless it says otherwise) or a span like 30m, 2h,
    7d back from now, as epoch seconds; argparse reports anything else as a usage error."""
    text = value.strip()
    if text[-1:].lower() in _SPAN_UNITS and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * _SPAN_UNITS[text[-1].lower()]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a date/time like 2026-01-31 or 2026-01-31T09:00 (UTC unless "
            "it says +01:00) nor a span back from now like 30m, 2h or 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _audit_number(raw: str, config_path: str) -> str:
    """``--number`` as a person types it, read with app.yaml's region like /sms reads it; a
    number with its country code needs no app.yaml."""
    import os

    from bot.phone import PhoneNumberError, parse_number

    if raw.strip().startswith(("+", "00")):
        region = "US"  # not used: the number says its country
    elif os.path.exists(config_path):
        region = load_config(config_path).region
    else:
        raise ConfigError(
            f"--number {raw}: without its country code it is read in app.yaml's region, and "
            f"{config_path} is not there; write it as +<country code>… or pass --config"
        )
    try:
        return parse_number(raw, region)
    except PhoneNumberError as exc:
        raise ConfigError(f"--number {raw}: {exc.reason}") from None


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.store import audit
    from bot.store.db import create_engine, migrate, require_database

    number = _audit_number(args.number, _config_path(args)) if args.number else None
    since = args.since or 0.0

    async def run() -> int:
        engine = create_engine(_database_url())
        try:
            await require_database(engine)
            await migrate(engine)
            async with engine.connect() as conn:
                entries = await audit.audit_entries(conn, since=since, number=number)
        finally:
            await engine.dispose()
        if not entries:
            print("no audit entries")
        for e in entries:
            detail = (e.detail or "").replace("\n", " ")
            if len(detail) > 60:
                detail = detail[:57] + "..."
            print(
                f"{_when(e.at)}  {e.action:<8} by {e.actor:<12} "
                f"{e.our_number or '-':>14} -> {e.peer_number or '-':<16} "
                f"segments={e.segments}  {detail}"
            )
        return 0

    return asyncio.run(run())


def cmd_manifest(args: argparse.Namespace) -> int:
    from bot.slack.manifest import render

    print(render(args.url), end="")
    return 0


def public_url(value: str) -> str:
    """``manifest --url``: the service's public base URL, https:// and a host, as Slack's app
    configuration requires of a request URL (it verifies the TLS certificate); argparse
    reports anything else as a usage error."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a public https:// URL with a host, like https://sms.example.com "
            "(Slack sends requests to https:// URLs only)"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} has a port that is not a number") from None
    return value.strip()


def port_number(value: str) -> int:
    """``--port``: a TCP port, 1-65535; argparse reports anything else as a usage error."""
    if not value.strip().isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535)")
    return int(value)


_CONFIG_HELP = "path to app.yaml (default: $SMS_BRIDGE_CONFIG, else ./app.yaml)"


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none or the help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
        if shown and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sms-bridge")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The command line of every ``sms-bridge`` command, each option with its help and
    default (``sms-bridge COMMAND --help``)."""
    parser = argparse.ArgumentParser(
        prog="sms-bridge",
        description="Text phone numbers from Slack through VoIPbin.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        found: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=_HelpFormatter
        )
        found.set_defaults(parser=found)
        return found

    serve = command("serve", "serve Slack and VoIPbin requests and run the jobs")
    serve.add_argument("--config", help=_CONFIG_HELP)
    serve.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - a server listens on all
        help="address to listen on (:: for IPv6)",
    )
    serve.add_argument(
        "--port",
        type=port_number,
        # A string default goes through port_number too: a $PORT that is no port is refused.
        default=os.environ.get("PORT") or "8080",
        help="TCP port to listen on; $PORT when it is set, as in the container image",
    )
    serve.add_argument(
        "--no-jobs",
        action="store_true",
        help="answer requests only; `sms-bridge worker` runs the jobs",
    )
    serve.add_argument(
        "--no-public-url",
        action="store_true",
        help="no HTTP endpoint: Slack through Socket Mode (SLACK_APP_TOKEN), SMS through "
        "VoIPbin's WebSocket or polling",
    )
    serve.add_argument(
        "--inbound",
        choices=["websocket", "poll"],
        default=None,
        help="with --no-public-url: how inbound SMS arrive, VoIPbin's WebSocket or polling "
        "GET /messages (default: websocket)",
    )
    serve.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"with --no-public-url: seconds between polls (default: {DEFAULT_POLL_INTERVAL})",
    )
    serve.set_defaults(func=cmd_serve)

    worker = command("worker", "run the jobs only, beside `serve --no-jobs` (same database)")
    worker.add_argument("--config", help=_CONFIG_HELP)
    worker.add_argument(
        "--port",
        type=port_number,
        default=None,
        help="also answer /healthz, /readyz and /metrics on this port (default: no listener)",
    )
    worker.add_argument("--host", default="127.0.0.1", help="address for --port")
    worker.set_defaults(func=cmd_worker)

    check = command(
        "check", "validate app.yaml, then check the Slack and VoIPbin set-up (needs the secrets)"
    )
    check.add_argument("--config", help=_CONFIG_HELP)
    check.add_argument(
        "--offline", action="store_true", help="only validate app.yaml; ask no API anything"
    )
    check.add_argument(
        "--fix-webhook",
        metavar="URL",
        help="point the VoIPbin webhook at URL (https://<host>/voipbin/webhook), then check",
    )
    check.set_defaults(func=cmd_check)

    demo = command(
        "demo", "run the bridge against built-in fake Slack and VoIPbin and show a conversation"
    )
    demo.set_defaults(func=cmd_demo)

    manifest = command("manifest", "print the Slack app manifest for a public URL")
    manifest.add_argument(
        "--url",
        required=True,
        type=public_url,
        help="the service's public base URL, https://<host>[/prefix]; /slack/events is added",
    )
    manifest.set_defaults(func=cmd_manifest)

    mig = command("migrate", "create or upgrade the database schema (DATABASE_URL)")
    mig.set_defaults(func=cmd_migrate)

    audit = command("audit", "who sent what to whom, refusals, opt-out changes")
    audit.add_argument(
        "--since",
        type=since_moment,
        metavar="WHEN",
        help="only entries from then on: an ISO date/time (UTC unless it says otherwise) or a "
        "span back from now like 30m, 2h or 7d (default: all)",
    )
    audit.add_argument(
        "--number",
        help="only entries with this number: +<country code>…, or national in app.yaml's region "
        "(default: every number)",
    )
    audit.add_argument("--config", help="app.yaml, for its region; " + _CONFIG_HELP)
    audit.set_defaults(func=cmd_audit)

    jobs = command("jobs", "list pending and dead jobs, or retry a dead one")
    jobs.add_argument(
        "action",
        nargs="?",
        choices=["list", "dead", "retry"],
        default="list",
        help="list: pending, running and dead jobs; dead: only those; retry ID: queue a dead "
        "job again (default: list)",
    )
    jobs.add_argument("id", nargs="?", type=int, help="the job to retry (from jobs dead)")
    jobs.set_defaults(func=cmd_jobs)
    return parser


def _refuse_combinations(args: argparse.Namespace) -> None:
    """Options that would be silently ignored together are a usage error instead."""
    if args.command != "serve" or args.no_public_url:
        if args.command == "serve" and args.no_jobs:
            args.parser.error(
                "--no-jobs is for the HTTP mode; --no-public-url always runs the jobs"
            )
        return
    for given, name in ((args.inbound, "--inbound"), (args.poll_interval, "--poll-interval")):
        if given is not None:
            args.parser.error(f"{name} is only used with --no-public-url; add it, or drop {name}")


def _fail(exc: Exception, code: Exit) -> int:
    """One or two lines naming the setting; the traceback only when LOG_LEVEL=debug."""
    import os
    import traceback

    if os.environ.get("LOG_LEVEL", "").strip().lower() == "debug":
        traceback.print_exception(exc, file=sys.stderr)
    print(f"sms-bridge: {exc}", file=sys.stderr)
    return int(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every mistake an operator can make ends in words and an ``Exit``."""
    args = build_parser().parse_args(argv)
    _refuse_combinations(args)
    from bot.store.db import DatabaseUnavailable, SchemaError
    from bot.web import ListenError

    try:
        code: int = args.func(args)
    except ConfigError as exc:
        return _fail(exc, Exit.CONFIG)
    except SchemaError as exc:
        return _fail(exc, Exit.SCHEMA_TOO_NEW)
    except DatabaseUnavailable as exc:
        return _fail(exc, Exit.UNREACHABLE)
    except ListenError as exc:
        return _fail(exc, Exit.CANNOT_LISTEN)
    return code


if __name__ == "__main__":
    sys.exit(main())
