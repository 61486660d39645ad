"""The operator's configuration: ``app.yaml`` plus secrets from the environment.

``app.yaml`` holds what may be committed (numbers, channels, policy). Secrets never live in it:
it may only reference them as ``${NAME}``, which is replaced from the environment when the file
is loaded. Everything is validated by pydantic before anything starts, and an error names the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG_PATH = "./app.yaml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./sms-bridge.db"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


def _slack_channel_id(value: str) -> str:
    if not _CHANNEL_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Slack channel ID (like C0123456789); "
            "copy it from the channel's details in Slack, not its name"
        )
    return value


def _e164(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not an E.164 number like +31201234567") from exc
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if formatted != value:
        raise ValueError(f"{value!r} is not an E.164 number like +31201234567")
    if not phonenumbers.is_valid_number(parsed):
        # Merely possible (the right length for some country) is not enough: a digit short,
        # and VoIPbin would refuse every send from it; phone.parse_number says which way.
        from bot.phone import PhoneNumberError, parse_number

        try:
            parse_number(value, "US")
        except PhoneNumberError as exc:
            raise ValueError(exc.reason) from None
        raise ValueError(f"{value!r} is not a number in use; check the digits")
    return value


def _region(value: str) -> str:
    code = value.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not a region code like NL, US or GB")
    return code


ChannelId = Annotated[str, AfterValidator(_slack_channel_id)]
E164 = Annotated[str, AfterValidator(_e164)]
Region = Annotated[str, AfterValidator(_region)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Senders(_Strict):
    """Who may send from a number: these users, members of these user groups, and members of
    these channels. All empty (the default): anyone who can write in the number's channel,
    which Slack itself enforces for /sms and thread replies there."""

    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)
    channels: list[ChannelId] = Field(default_factory=list)

    @property
    def restricted(self) -> bool:
        return bool(self.users or self.usergroups or self.channels)


class NumberRoute(_Strict):
    """One VoIPbin number and the Slack channel its threads live in."""

    number: E164
    channel: ChannelId
    senders: Senders = Field(default_factory=Senders)


# phonenumbers' number types that reach a person's phone; the others (premium rate, shared
# cost, UAN, ...) are how SMS pumping fraud makes money.
DEFAULT_NUMBER_TYPES = ("mobile", "fixed_line_or_mobile", "fixed_line")


class PolicyConfig(_Strict):
    """What may be sent, to where, and how much. Every default is the safe one."""

    countries: list[Region] | None = Field(
        default=None, description="destination countries; default: only the country of region"
    )
    number_types: list[str] = Field(default_factory=lambda: list(DEFAULT_NUMBER_TYPES))
    max_segments: int = Field(default=6, ge=1, le=50)
    daily_segments_per_user: int | None = Field(default=200, ge=1)
    daily_segments_total: int | None = Field(default=2000, ge=1)
    per_number_per_minute: int | None = Field(default=None, ge=1)
    confirm_over_segments: int | None = Field(
        default=2, ge=1, description="longer /sms and modal sends ask Send/Cancel first"
    )
    send_delay_seconds: float = Field(
        default=0, ge=0, le=600, description="undo window: a thread reply deleted in it is not sent"
    )


class AlertsConfig(_Strict):
    channel: ChannelId | None = None
    stuck_after: float = Field(default=600, ge=1, description="seconds an SMS may stay queued")
    rollup_seconds: float = Field(
        default=60, ge=0, description="failures of a channel within this are one alert (0: off)"
    )
    dependency_check_seconds: float = Field(
        default=60,
        ge=1,
        description="how often a wrong credential or an unreachable dependency is logged again",
    )


class SlackPacing(_Strict):
    """Client-side pacing of chat.postMessage; Slack allows about one message per second per
    channel with short bursts."""

    per_channel_per_second: float = Field(default=1.0, gt=0)
    burst: int = Field(default=3, ge=1)
    enabled: bool = True
    timeout_seconds: float = Field(default=10.0, gt=0)


class VoipbinConfig(_Strict):
    timeout_seconds: float = Field(default=10.0, gt=0)
    # VoIPbin allows 16.7 requests a second per customer, with bursts of 33 (reference §6.2):
    # every request is paced to this, shared by every process on one PostgreSQL.
    requests_per_second: float = Field(default=16.0, gt=0)


class JobsConfig(_Strict):
    max_attempts: int = Field(default=6, ge=1)
    max_age_seconds: int = Field(default=24 * 3600, ge=60)
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=300.0, gt=0)
    concurrency: int = Field(default=8, ge=1, le=256)
    # A job of a process that died (SIGKILL, a lost node) is taken by another this long after
    # its last renewal; a running job renews its lease every third of it.
    lease_seconds: int = Field(default=15, ge=5)
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    seen_events_ttl_seconds: int = Field(default=24 * 3600, ge=3600)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)


class ThreadsConfig(_Strict):
    """The life of a number's thread."""

    idle_days: float | None = Field(
        default=None,
        gt=0,
        description="after this many days without messages, a number's next /sms or SMS opens "
        "a new thread that links to the old one; default: a number keeps one thread for ever",
    )


class AppConfig(_Strict):
    """The contents of ``app.yaml``."""

    region: Region = "US"
    numbers: list[NumberRoute] = Field(default_factory=list)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    slack: SlackPacing = Field(default_factory=SlackPacing)
    voipbin: VoipbinConfig = Field(default_factory=VoipbinConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    threads: ThreadsConfig = Field(default_factory=ThreadsConfig)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

    @field_validator("numbers")
    @classmethod
    def _unique_numbers(cls, numbers: list[NumberRoute]) -> list[NumberRoute]:
        seen: set[str] = set()
        for route in numbers:
            if route.number in seen:
                raise ValueError(f"{route.number} is listed twice; a number routes to one channel")
            seen.add(route.number)
        return numbers

    def route_for(self, our_number: str) -> NumberRoute | None:
        for route in self.numbers:
            if route.number == our_number:
                return route
        return None

    def destination_countries(self) -> list[str]:
        return list(self.policy.countries) if self.policy.countries else [self.region]

    def channel_for(self, our_number: str) -> str | None:
        """The channel that ``our_number`` (a VoIPbin number) routes to, if any."""
        for route in self.numbers:
            if route.number == our_number:
                return route.channel
        return None

    def numbers_for(self, channel: str) -> list[str]:
        """Our numbers routed to ``channel``; the first one is the channel's default."""
        return [route.number for route in self.numbers if route.channel == channel]


class Settings(BaseSettings):
    """Secrets and endpoints from the environment (names are a stable contract)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    slack_bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    # Each way Slack reaches the bridge needs one of these, and only that one (load_settings
    # says which is missing): HTTP requests are checked with the signing secret; Socket Mode
    # (``serve --no-public-url``) connects with the app-level token and is never signed.
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    voipbin_accesskey: SecretStr = Field(validation_alias="VOIPBIN_ACCESSKEY")
    voipbin_api_url: str = Field(
        default="https://api.voipbin.net/v1.0", validation_alias="VOIPBIN_API_URL"
    )
    voipbin_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="VOIPBIN_WEBHOOK_SECRET"
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    config_path: str = Field(default=DEFAULT_CONFIG_PATH, validation_alias="SMS_BRIDGE_CONFIG")

    @model_validator(mode="after")
    def _no_empty_secrets(self) -> Settings:
        for name in _SECRET_NAMES:
            secret: SecretStr | None = getattr(self, name)
            if secret is not None and not secret.get_secret_value().strip():
                raise ValueError(f"{name.upper()} is set but empty")
        return self

    def secrets(self) -> list[str]:
        """Every secret that is set, for the log redaction."""
        values = (getattr(self, name) for name in (*_SECRET_NAMES, "voipbin_webhook_secret"))
        return [v.get_secret_value() for v in values if v is not None]

    def require_signing_secret(self) -> str:
        """The signing secret that HTTP mode checks Slack's requests with."""
        if self.slack_signing_secret is None:
            raise ConfigError(_MISSING["SLACK_SIGNING_SECRET"])
        return self.slack_signing_secret.get_secret_value()


_SECRET_NAMES = ("slack_bot_token", "slack_signing_secret", "slack_app_token", "voipbin_accesskey")

# How Slack reaches the bridge: HTTP requests to /slack/events (``sms-bridge serve``), or
# Socket Mode (``sms-bridge serve --no-public-url``); None (``sms-bridge check``): either.
SlackMode = Literal["http", "socket_mode"]

_MISSING = {
    "SLACK_SIGNING_SECRET": (
        "SLACK_SIGNING_SECRET is not set: `sms-bridge serve` checks every Slack request with it "
        "(the Slack app's Basic Information → Signing Secret). Without a public URL, run "
        "`sms-bridge serve --no-public-url` with SLACK_APP_TOKEN instead, which needs no "
        "signing secret"
    ),
    "SLACK_APP_TOKEN": (
        "SLACK_APP_TOKEN is not set: `serve --no-public-url` connects to Slack over Socket Mode "
        "with an app-level token (xapp-…, scope connections:write; the Slack app's Basic "
        "Information → App-Level Tokens), and Socket Mode must be turned on in the app"
    ),
}


def _interpolate(node: Any, env: Mapping[str, str], path: str) -> Any:
    """Replace ``${NAME}`` in every string of the parsed YAML; a missing variable is an error."""
    if isinstance(node, dict):
        return {k: _interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(replace, node)
    return node


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source} is not valid:"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and indentation)"
        elif error["type"] == "missing":
            message = "required but missing"
        elif error["type"] == "string_type" and isinstance(error.get("input"), int | float):
            # YAML reads an unquoted +31201234567 as the integer 31201234567.
            message = (
                f"{message}: YAML read {error['input']} as a number; put it in quotes, "
                f'like "+{error["input"]}"'
            )
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> AppConfig:
    """Read and validate ``app.yaml``. Raises ConfigError with a message naming the key."""
    source = Path(path)
    try:
        # Read from the open file, not its text, so that YAML's errors name the file.
        with source.open(encoding="utf-8") as stream:
            raw = yaml.safe_load(stream)
    except FileNotFoundError as exc:
        raise ConfigError(f"{source}: no such file (set SMS_BRIDGE_CONFIG or --config)") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    data = _interpolate(raw, os.environ if env is None else env, "")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(source))) from None


def load_settings(
    env: Mapping[str, str] | None = None, *, slack: SlackMode | None = "http"
) -> Settings:
    """Read the secrets and endpoints from the environment (or ``env`` for tests). ``slack``
    is how Slack will reach the bridge, which decides whether SLACK_SIGNING_SECRET ("http")
    or SLACK_APP_TOKEN ("socket_mode") is required; None requires neither. Every problem is
    named at once."""
    source = os.environ if env is None else env
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings() if env is None else Settings.model_validate(dict(env))
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] == "missing":
                problems.append(f"{'.'.join(str(p) for p in error['loc'])} is not set")
            else:
                problems.append(str(error["msg"]).removeprefix("Value error, "))
    required = {"http": "SLACK_SIGNING_SECRET", "socket_mode": "SLACK_APP_TOKEN"}.get(slack or "")
    if required is not None:
        if settings is None:
            missing = required not in source
        else:
            missing = getattr(settings, required.lower()) is None
        if missing:
            problems.append(_MISSING[required])
    app_token = source.get("SLACK_APP_TOKEN", "")
    if slack == "socket_mode" and app_token.strip() and not app_token.startswith("xapp-"):
        problems.append(
            "SLACK_APP_TOKEN must be an app-level token (xapp-…) with the connections:write "
            "scope, from the Slack app's Basic Information → App-Level Tokens"
        )
    if problems or settings is None:
        raise ConfigError("\n  ".join(["the environment is not complete:", *problems]))
    return settings
