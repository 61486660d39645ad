"""The service's dependencies as an operator needs to hear about them: the database, the Slack
token, the VoIPbin access key and the VoIPbin webhook.

``probe_*`` answer one word-y line each ("ok …", "invalid token (invalid_auth)", …); the
readiness endpoint (``bot.web.Readiness``) caches them. ``DependencyWatch`` logs one line per
dependency when the service starts, saying ok or what is wrong and what to do, without a
secret; while one is wrong it warns again every ``interval`` seconds until it is fixed, and
says so once when it is: under ``docker run`` nobody reads ``/readyz``, everyone reads the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.voipbin.client import VoipbinClient, VoipbinRejected
from bot.voipbin.models import Customer

log = logging.getLogger(__name__)

_REFUSED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked"}


async def probe_database(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return "ok"


async def probe_slack(client: AsyncWebClient) -> str:
    try:
        await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        if error in _REFUSED_TOKEN:
            return f"invalid token ({error})"
        return f"unreachable ({error or 'error'})"
    return "ok"


async def read_customer(client: VoipbinClient) -> tuple[str, Customer | None]:
    """The VoIPbin probe's answer, and the account read with it (for the webhook's check)."""
    try:
        customer = await client.get_customer()
    except VoipbinRejected as exc:
        if exc.http_status in (401, 403):
            return f"invalid access key ({exc.reason or exc.http_status})", None
        return f"error ({exc.reason or exc.http_status})", None
    return "ok", customer


async def probe_voipbin(client: VoipbinClient) -> str:
    return (await read_customer(client))[0]


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's state: ``ok`` or not, in words, and what to do when it is not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _fixes(name: str, answer: str) -> str:
    if name == "database":
        return "check DATABASE_URL and that the database server is up"
    if name == "slack":
        if answer.startswith("invalid token"):
            return (
                "SLACK_BOT_TOKEN was refused by Slack: set it to the Bot User OAuth Token "
                "(xoxb-…) of the installed app and restart"
            )
        return "Slack cannot be reached from here; posts wait in the job table until it can"
    if answer.startswith("invalid access key"):
        return (
            "VOIPBIN_ACCESSKEY was refused by VoIPbin: set it to an access key of the account "
            "and restart"
        )
    return "VoIPbin cannot be reached from here; sends wait in the job table until it can"


class DependencyWatch:
    """Logs each dependency's state at start, and again while one is wrong (see the module's
    docstring). ``webhook`` is False where the service takes no webhooks (no public URL)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        slack: AsyncWebClient,
        voipbin: VoipbinClient,
        settings: Settings,
        webhook: bool,
        interval: float = 60.0,
    ) -> None:
        self._engine = engine
        self._slack = slack
        self._voipbin = voipbin
        self._settings = settings
        self._webhook = webhook
        self._interval = interval
        self._last: dict[str, bool] = {}

    async def _answer(self, probe: Callable[[], Awaitable[str]]) -> str:
        try:
            return await asyncio.wait_for(probe(), timeout=10)
        except Exception as exc:
            return f"unreachable ({type(exc).__name__})"

    async def checks(self) -> list[Check]:
        """Every dependency once, in the order they are needed."""
        from bot.doctor import check_secret, check_webhook

        found: list[Check] = []
        database = await self._answer(lambda: probe_database(self._engine))
        url = self._engine.url.render_as_string(hide_password=True)
        found.append(
            Check("database", database == "ok", f"{database} ({url})", _fixes("database", ""))
        )
        slack = await self._answer(lambda: probe_slack(self._slack))
        found.append(Check("slack", slack == "ok", slack, _fixes("slack", slack)))
        try:
            voipbin, customer = await asyncio.wait_for(read_customer(self._voipbin), timeout=10)
        except Exception as exc:
            voipbin, customer = f"unreachable ({type(exc).__name__})", None
        found.append(Check("voipbin", voipbin == "ok", voipbin, _fixes("voipbin", voipbin)))
        if self._webhook and customer is not None:
            findings = [*check_webhook(customer, self._settings)]
            findings.append(check_secret(customer, self._settings))
            wrong = [f for f in findings if f.level != "ok"]
            if wrong:
                words = "; ".join(f.message for f in wrong)
                found.append(Check("webhook", False, words))
            else:
                found.append(Check("webhook", True, "; ".join(f.message for f in findings)))
        return found

    def _log(self, check: Check) -> None:
        before = self._last.get(check.name)
        self._last[check.name] = check.ok
        if check.ok:
            if before is None:
                log.info("dependency=%s status=ok %s", check.name, check.detail)
            elif before is False:
                log.info("dependency=%s status=ok again: %s", check.name, check.detail)
            return
        fix = f" - {check.fix}" if check.fix else ""
        log.warning("dependency=%s status=wrong %s%s", check.name, check.detail, fix)

    async def once(self) -> list[Check]:
        found = await self.checks()
        for check in found:
            self._log(check)
        return found

    async def run(self) -> None:
        """At start and then every ``interval`` seconds, until cancelled."""
        while True:
            await self.once()
            await asyncio.sleep(self._interval)
