"""``sms-bridge check``'s online half: is this deployment wired up right?

It asks Slack and VoIPbin what they think of the configuration, the way the service will use
them, and turns every answer into a finding a person can act on: ``ok``, ``warn`` (works, but
you should know) or ``FAIL`` (something will not work), each saying what to do.

- Slack ``auth.test``: the bot token works; names the workspace and the bot.
- Slack ``conversations.info`` for every channel in ``app.yaml``: it exists and the bot is in it.
- How Slack reaches the bridge: ``SLACK_SIGNING_SECRET`` for ``sms-bridge serve`` (HTTP; it
  cannot be checked from here), ``SLACK_APP_TOKEN`` for ``serve --no-public-url`` (Socket
  Mode; ``apps.connections.open`` shows that Slack takes it). One of them is needed.
- VoIPbin ``GET /numbers`` (every page): each configured number is an ``active`` ``normal``
  number of the account (reference §5).
- VoIPbin ``GET /customer``: the webhook points at ``/voipbin/webhook`` with ``POST``, and its
  ``webhook_secret`` matches ``VOIPBIN_WEBHOOK_SECRET`` (reference §4.1); not when only Socket
  Mode is possible, which uses no webhook.
- ``fix_webhook``: point the webhook at a URL (``GET``, then ``PUT`` of all seven fields) and
  read it back.

No secret is ever part of a finding: secrets are compared, never shown, and VoIPbin errors
carry the path, not the URL with its access key.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import AppConfig, Settings
from bot.voipbin.client import (
    VoipbinClient,
    VoipbinError,
    VoipbinRejected,
    VoipbinUnavailable,
)
from bot.voipbin.models import Customer, Number

Level = Literal["ok", "warn", "FAIL"]

WEBHOOK_PATH = "/voipbin/webhook"
# Slack answers these when the token itself is no good.
_BAD_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: ``level`` is ``ok``, ``warn`` or ``FAIL``; ``message`` says
    what was found and, unless it is ``ok``, what to do about it."""

    level: Level
    message: str

    def __str__(self) -> str:
        return f"{self.level:<4}  {self.message}"


def ok(message: str) -> Finding:
    return Finding("ok", message)


def warn(message: str) -> Finding:
    return Finding("warn", message)


def fail(message: str) -> Finding:
    return Finding("FAIL", message)


def failed(findings: list[Finding]) -> bool:
    return any(f.level == "FAIL" for f in findings)


# -- Slack ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bot:
    name: str
    user_id: str


def _slack_error(exc: SlackApiError) -> str:
    response = exc.response
    return str(response.get("error", "") or "") if response is not None else ""


@dataclass(frozen=True, slots=True)
class _SlackAnswer:
    """A Web API answer: ``data`` when it worked, else ``error`` (Slack's error code, or
    ``unreachable (...)``) and, for ``missing_scope``, the scope Slack said it ``needed``."""

    data: Any | None
    error: str = ""
    needed: str = ""


async def _slack_call(call: Callable[[], Awaitable[Any]]) -> _SlackAnswer:
    try:
        return _SlackAnswer(await call())
    except SlackApiError as exc:
        needed = str(exc.response.get("needed") or "") if exc.response is not None else ""
        return _SlackAnswer(None, _slack_error(exc) or "unknown_error", needed)
    except (aiohttp.ClientError, TimeoutError, SlackClientError) as exc:
        return _SlackAnswer(None, f"unreachable ({type(exc).__name__})")


async def _check_slack_token(
    client: AsyncWebClient, settings: Settings, findings: list[Finding]
) -> _Bot | None:
    answer = await _slack_call(client.auth_test)
    response, error = answer.data, answer.error
    if response is None:
        if error.startswith("unreachable"):
            findings.append(
                fail(
                    f"Slack is {error} at {settings.slack_api_url}: check SLACK_API_URL "
                    "(default https://slack.com/api/) and that this host can reach it"
                )
            )
        elif error in _BAD_TOKEN:
            findings.append(
                fail(
                    f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token "
                    "(xoxb-...) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN "
                    "(reinstall the app to the workspace if it was removed)"
                )
            )
        else:
            findings.append(
                fail(f"Slack auth.test failed ({error}): check SLACK_BOT_TOKEN and SLACK_API_URL")
            )
        return None
    team = str(response.get("team") or "?")
    team_id = str(response.get("team_id") or "?")
    user = str(response.get("user") or "sms-bridge")
    user_id = str(response.get("user_id") or "?")
    findings.append(
        ok(f'Slack token is valid: workspace "{team}" ({team_id}), bot @{user} ({user_id})')
    )
    return _Bot(name=user, user_id=user_id)


def _channels(config: AppConfig) -> dict[str, list[str]]:
    """Every channel ``app.yaml`` names, with where it is named (in file order)."""
    uses: dict[str, list[str]] = {}
    for index, route in enumerate(config.numbers):
        uses.setdefault(route.channel, []).append(f"for numbers[{index}] {route.number}")
    if config.alerts.channel is not None:
        uses.setdefault(config.alerts.channel, []).append("alerts.channel")
    return uses


async def _check_channel(
    client: AsyncWebClient, bot: _Bot, channel: str, uses: list[str], findings: list[Finding]
) -> None:
    where = ", ".join(uses)
    answer = await _slack_call(lambda: client.conversations_info(channel=channel))
    response, error = answer.data, answer.error
    if response is None:
        if error == "channel_not_found":
            findings.append(
                fail(
                    f"Slack channel {channel} ({where}) was not found: copy the channel ID from "
                    "the channel's details in Slack into app.yaml; for a private channel, "
                    f"invite @{bot.name} first (until then Slack hides it from the bot)"
                )
            )
        elif error == "missing_scope":
            needed = answer.needed or _needed_scope(channel)
            findings.append(
                warn(
                    f"cannot check the bot's membership of {channel} ({where}): the token lacks "
                    f"the {needed} scope. Add it under OAuth & Permissions > Bot Token Scopes "
                    "(the manifest lists channels:read and groups:read) and reinstall the app"
                )
            )
        elif error.startswith("unreachable"):
            findings.append(fail(f"Slack is {error}: channel {channel} ({where}) not checked"))
        else:
            findings.append(
                fail(f"Slack conversations.info for {channel} ({where}) failed ({error})")
            )
        return
    info = response.get("channel") or {}
    name = f"#{info['name']} ({channel}, {where})" if info.get("name") else f"{channel} ({where})"
    if info.get("is_archived"):
        findings.append(
            fail(
                f"Slack channel {name} is archived: unarchive it, or route the "
                "number to another channel in app.yaml"
            )
        )
    elif not info.get("is_member"):
        findings.append(
            fail(
                f"the bot is not a member of {name}: invite @{bot.name} to "
                f"<#{channel}> (type /invite @{bot.name} in the channel)"
            )
        )
    else:
        findings.append(ok(f"Slack channel {name}: the bot is a member"))


def _needed_scope(channel: str) -> str:
    """When Slack's answer does not say: a private channel (G...) needs groups:read, a public
    one channels:read (and a private C... one groups:read)."""
    return "groups:read" if channel.startswith("G") else "channels:read (and groups:read)"


async def _check_slack_mode(
    client: AsyncWebClient, settings: Settings, findings: list[Finding]
) -> None:
    """Which ways Slack can reach the bridge with the secrets given, and whether Slack takes
    the app-level token (``apps.connections.open`` hands out a Socket Mode URL, which is
    simply never used)."""
    signing, app_token = settings.slack_signing_secret, settings.slack_app_token
    if signing is None and app_token is None:
        findings.append(
            fail(
                "neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is set, so Slack cannot reach "
                "the bridge: `sms-bridge serve` needs SLACK_SIGNING_SECRET (Basic Information > "
                "Signing Secret); `sms-bridge serve --no-public-url` needs SLACK_APP_TOKEN "
                "(Basic Information > App-Level Tokens, scope connections:write)"
            )
        )
        return
    if signing is not None:
        findings.append(
            ok(
                "SLACK_SIGNING_SECRET is set: `sms-bridge serve` checks Slack's requests with it "
                "(only Slack's first request can tell whether it is the right one)"
            )
        )
    if app_token is None:
        return
    token = app_token.get_secret_value()
    if not token.startswith("xapp-"):
        findings.append(
            fail(
                "SLACK_APP_TOKEN is not an app-level token (xapp-...): create one with the "
                "connections:write scope under Basic Information > App-Level Tokens"
            )
        )
        return
    answer = await _slack_call(lambda: client.apps_connections_open(app_token=token))
    if answer.data is None:
        findings.append(
            fail(
                f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {answer.error}): it must "
                "be an app-level token with connections:write, and Socket Mode must be on "
                "(Settings > Socket Mode); `serve --no-public-url` cannot connect until then"
            )
        )
        return
    unsigned = "" if signing is not None else "; SLACK_SIGNING_SECRET is not needed for it"
    findings.append(
        ok(f"SLACK_APP_TOKEN works: `sms-bridge serve --no-public-url` can connect{unsigned}")
    )


async def check_slack(settings: Settings, config: AppConfig) -> list[Finding]:
    findings: list[Finding] = []
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url.rstrip("/") + "/",
        timeout=int(max(1, config.slack.timeout_seconds)),
    )
    bot = await _check_slack_token(client, settings, findings)
    await _check_slack_mode(client, settings, findings)
    channels = _channels(config)
    if bot is None:
        if channels:
            findings.append(warn("Slack channels not checked: fix the Slack token first"))
        return findings
    for channel, uses in channels.items():
        await _check_channel(client, bot, channel, uses, findings)
    return findings


# -- VoIPbin ----------------------------------------------------------------------------------


def _voipbin_problem(exc: VoipbinError, doing: str) -> Finding:
    """A finding for a failed VoIPbin call (its message names the path, never the URL)."""
    if isinstance(exc, VoipbinRejected) and exc.http_status == 401:
        return fail(
            f"VoIPbin refused VOIPBIN_ACCESSKEY ({exc.reason or 401}) while {doing}: create an "
            "access key (POST /v1.0/accesskeys, or in the VoIPbin admin) and put it in "
            "VOIPBIN_ACCESSKEY"
        )
    if isinstance(exc, VoipbinRejected) and exc.http_status == 403:
        return fail(
            f"VoIPbin denied {doing} ({exc.reason or 403}): the access key's user needs the "
            "CustomerAdmin permission"
        )
    if isinstance(exc, VoipbinUnavailable):
        return fail(
            f"VoIPbin could not be asked while {doing}: {exc.message}. Check VOIPBIN_API_URL"
        )
    return fail(f"VoIPbin failed while {doing}: {exc.message}")


def _number_finding(index: int, number: str, owned: list[Number]) -> Finding:
    where = f"{number} (numbers[{index}])"
    matches = [n for n in owned if n.number == number]
    if any(n.status == "active" and n.type == "normal" for n in matches):
        return ok(f"VoIPbin number {where} is an active normal number of the account")
    if not matches:
        return fail(
            f"VoIPbin number {where} is not a number of this account: buy it in VoIPbin, or "
            "fix the number in app.yaml (VOIPBIN_ACCESSKEY may belong to another account)"
        )
    found = matches[0]
    if found.type != "normal":
        return fail(
            f"VoIPbin number {where} is a {found.type or 'non-normal'} number: virtual numbers "
            "cannot send or receive SMS; route a normal (carrier) number instead"
        )
    return fail(
        f"VoIPbin number {where} is not active (status {found.status!r}): renew or "
        "reactivate it in VoIPbin, or route another number"
    )


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return _is_local(host)
    return not address.is_global


def shown_uri(uri: str) -> str:
    """A URI safe to print: no user info, no query, no fragment (any could hold a token)."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    suffix = "?..." if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{suffix}" if parts.scheme else "(not a URL)"


def webhook_uri_problems(uri: str, *, api_url: str) -> list[Finding]:
    """What is wrong with ``uri`` as the bridge's webhook address (empty: nothing)."""
    fix = "run `sms-bridge check --fix-webhook https://<your host>/voipbin/webhook`"
    if not uri:
        return [
            fail(
                "VoIPbin webhook_uri is not set: no inbound SMS and no delivery status will "
                f"reach the bridge; {fix}"
            )
        ]
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return [fail(f"VoIPbin webhook_uri {shown_uri(uri)} is not an http(s) URL; {fix}")]
    problems: list[Finding] = []
    if not parts.path.endswith(WEBHOOK_PATH):
        problems.append(
            fail(
                f"VoIPbin webhook_uri {shown_uri(uri)} does not end with {WEBHOOK_PATH}, so "
                f"deliveries do not reach the bridge; {fix}"
            )
        )
    if parts.scheme != "https" and not _is_local(host):
        problems.append(
            warn(
                f"VoIPbin webhook_uri {shown_uri(uri)} uses http: SMS texts and numbers travel "
                "unencrypted. Serve the bridge over HTTPS and "
                "run `sms-bridge check --fix-webhook https://...`"
            )
        )
    api_host = urlsplit(api_url).hostname or ""
    if _is_private(host) and not _is_private(api_host):
        problems.append(
            warn(
                f"VoIPbin webhook_uri {shown_uri(uri)} is a local or private address: VoIPbin "
                "only delivers webhooks to public addresses, so these deliveries are dropped. "
                "Expose the bridge at a public HTTPS URL (a tunnel, for development)"
            )
        )
    return problems


def check_webhook(customer: Customer, settings: Settings) -> list[Finding]:
    """The account's webhook as the bridge needs it: a URL VoIPbin can reach, method POST."""
    findings = webhook_uri_problems(customer.webhook_uri, api_url=settings.voipbin_api_url)
    method = customer.webhook_method
    if method != "POST":
        findings.append(
            fail(
                f"VoIPbin webhook_method is {method or 'empty (VoIPbin then uses GET)'}, but the "
                "bridge only accepts POST: deliveries are answered 405 and lost; run "
                "`sms-bridge check --fix-webhook <url>` (it sets POST)"
            )
        )
    if not findings:
        findings.append(ok(f"VoIPbin webhook: POST {shown_uri(customer.webhook_uri)}"))
    return findings


def check_secret(customer: Customer, settings: Settings) -> Finding:
    """``VOIPBIN_WEBHOOK_SECRET`` against the account's ``webhook_secret`` (never printed)."""
    configured = settings.voipbin_webhook_secret
    account = customer.webhook_secret
    if configured is None:
        if not account:
            return warn(
                "the VoIPbin account has no webhook_secret, so deliveries arrive unsigned and "
                "anyone who knows the URL can post to it; ask VoIPbin support for a secret"
            )
        return warn(
            "VOIPBIN_WEBHOOK_SECRET is not set: webhook deliveries are accepted unsigned. Set "
            "it to the webhook_secret of GET /v1.0/customer (this check does not print it)"
        )
    if not account:
        return fail(
            "VOIPBIN_WEBHOOK_SECRET is set but the VoIPbin account has no webhook_secret: "
            "VoIPbin sends deliveries unsigned and the bridge refuses them all (401); unset "
            "VOIPBIN_WEBHOOK_SECRET or ask VoIPbin support for a secret"
        )
    if not hmac.compare_digest(configured.get_secret_value().encode(), account.encode()):
        return fail(
            "VOIPBIN_WEBHOOK_SECRET does not match the account's webhook_secret: every "
            "delivery will be refused (401). Copy webhook_secret from GET /v1.0/customer into "
            "VOIPBIN_WEBHOOK_SECRET and restart"
        )
    return ok("VOIPBIN_WEBHOOK_SECRET matches the account's webhook_secret")


async def _voipbin(call: Callable[[], Awaitable[_T]]) -> tuple[_T | None, VoipbinError | None]:
    try:
        return await call(), None
    except VoipbinError as exc:
        return None, exc


async def _fix_webhook(
    client: VoipbinClient, uri: str, settings: Settings, findings: list[Finding]
) -> None:
    problems = webhook_uri_problems(uri, api_url=settings.voipbin_api_url)
    refused = [f for f in problems if f.level == "FAIL"]
    if refused:
        findings.append(fail(f"--fix-webhook: not changed, {refused[0].message}"))
        return
    _, error = await _voipbin(lambda: client.set_webhook(uri))
    if error is not None:
        findings.append(_voipbin_problem(error, "setting the webhook (PUT /customer)"))
        return
    customer, error = await _voipbin(client.get_customer)
    if error is not None or customer is None:
        assert error is not None
        findings.append(_voipbin_problem(error, "reading the webhook back (GET /customer)"))
        return
    if customer.webhook_uri == uri and customer.webhook_method == "POST":
        findings.append(
            ok(
                f"VoIPbin webhook set to POST {shown_uri(uri)} and read back "
                "(the other customer fields were kept)"
            )
        )
    else:
        findings.append(
            fail(
                f"VoIPbin webhook was set to {shown_uri(uri)} but reads back as "
                f"{customer.webhook_method or '-'} {shown_uri(customer.webhook_uri)}; "
                "try again, or set it in the VoIPbin admin"
            )
        )


def _socket_mode_only(settings: Settings) -> bool:
    """Only ``serve --no-public-url`` can run with these secrets."""
    return settings.slack_signing_secret is None and settings.slack_app_token is not None


async def check_voipbin(
    settings: Settings, config: AppConfig, *, fix_webhook: str | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    client = VoipbinClient(
        base_url=settings.voipbin_api_url,
        accesskey=settings.voipbin_accesskey.get_secret_value(),
        timeout=config.voipbin.timeout_seconds,
        requests_per_second=config.voipbin.requests_per_second,
    )
    try:
        owned, error = await _voipbin(client.list_numbers)
        if error is not None:
            findings.append(_voipbin_problem(error, "listing the numbers (GET /numbers)"))
            if isinstance(error, VoipbinUnavailable) or error.http_status == 401:
                if fix_webhook is not None:
                    findings.append(fail("--fix-webhook: not changed, VoIPbin cannot be used"))
                return findings
        else:
            assert owned is not None
            for index, route in enumerate(config.numbers):
                findings.append(_number_finding(index, route.number, owned))
        if fix_webhook is not None:
            await _fix_webhook(client, fix_webhook, settings, findings)
        if _socket_mode_only(settings) and fix_webhook is None:
            findings.append(
                ok(
                    "VoIPbin webhook not checked: without SLACK_SIGNING_SECRET only "
                    "`serve --no-public-url` can run, which takes SMS and statuses from the "
                    "WebSocket or by polling, not from the webhook"
                )
            )
            return findings
        customer, error = await _voipbin(client.get_customer)
        if error is not None or customer is None:
            assert error is not None
            findings.append(_voipbin_problem(error, "reading the customer (GET /customer)"))
            return findings
        findings.extend(check_webhook(customer, settings))
        findings.append(check_secret(customer, settings))
        return findings
    finally:
        await client.aclose()


async def run_checks(
    settings: Settings, config: AppConfig, *, fix_webhook: str | None = None
) -> list[Finding]:
    """Every online check, Slack first, then VoIPbin; ``fix_webhook`` first sets the
    account's webhook to that URL."""
    findings = await check_slack(settings, config)
    findings += await check_voipbin(settings, config, fix_webhook=fix_webhook)
    return findings
