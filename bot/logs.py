"""Logging set-up: one structured line per event, secrets redacted from every line."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime


class RedactSecrets(logging.Filter):
    """Replaces every known secret, and any ``accesskey=`` query value, with ``***``.

    A safety net: the code does not log secrets, but a library's message (an HTTP client
    printing a URL with the VoIPbin access key in its query string) could.
    """

    _QUERY_KEY = re.compile(r"(accesskey=)[^&\s\"']+", re.IGNORECASE)

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return self._QUERY_KEY.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        record.msg = message
        record.args = None
        return True


def _utc(record: logging.LogRecord) -> str:
    """When ``record`` was made, in UTC with milliseconds and the offset, so that lines of
    machines in other time zones (or a container without one) sort and compare."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _field(value: str) -> object:
    if value.isdigit():
        return int(value)
    return {"True": True, "False": False}.get(value, value)


class TextFormatter(logging.Formatter):
    """``time level logger message``, the time as in the JSON lines."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line. The ``key=value`` pairs our log lines carry
    (``conversation_id=3 message_id=17``) also become fields, so they can be queried."""

    _PAIR = re.compile(r"\b([a-z_]+)=([^\s=]+)")

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": _utc(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.name.startswith("bot."):
            for key, value in self._PAIR.findall(message):
                entry.setdefault(key, _field(value))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("json", "text")


class MaskNumbers(logging.Filter):
    """Masks every phone number (``+`` and 7-15 digits) in every line, a library's too, as
    ``bot.phone.mask`` does: full numbers are personal data. ``LOG_UNMASKED=1`` turns it off,
    for a developer's own machine."""

    _NUMBER = re.compile(r"(?<![\w*+])\+\d{7,15}(?!\d)")

    def mask(self, text: str) -> str:
        from bot.phone import mask

        return self._NUMBER.sub(lambda match: mask(match.group(0)), text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


class DropKnownNoise(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns, at every
    start, that the client it is given wins over that token; the client is made from the
    same variable, so the warning says nothing an operator could act on."""

    def __init__(self) -> None:
        super().__init__()
        from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

        self._bolt_token = warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("slack_bolt") and record.getMessage() == self._bolt_token
        )


def _setting(name: str, default: str, allowed: tuple[str, ...], meaning: str) -> str:
    from bot.config import ConfigError

    value = os.environ.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(
            f"{name}={os.environ.get(name)!r} is not {meaning}; use one of {', '.join(allowed)}"
        )
    return value


def setup_logging(secrets: Iterable[str], *, level: str | None = None) -> None:
    """Log to stderr: sms-bridge's own lines at ``LOG_LEVEL`` (default info), the libraries'
    at ``LOG_LIBRARY_LEVEL`` (default warning: at debug, SQLAlchemy and aiosqlite print every
    statement with its values), as ``LOG_FORMAT`` (json, or text for plain lines); numbers
    masked unless ``LOG_UNMASKED=1``. A value that is none of these is a ConfigError."""
    ours = (level or "").strip().lower() or _setting("LOG_LEVEL", "info", LEVELS, "a log level")
    libraries = _setting("LOG_LIBRARY_LEVEL", "warning", LEVELS, "a log level")
    form = _setting("LOG_FORMAT", "json", FORMATS, "a log format")
    handler = logging.StreamHandler()
    if form == "text":
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(DropKnownNoise())
    handler.addFilter(RedactSecrets(secrets))
    if os.environ.get("LOG_UNMASKED", "").strip() != "1":
        handler.addFilter(MaskNumbers())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(libraries.upper())
    logging.getLogger("bot").setLevel(ours.upper())
    # httpx logs every request URL at INFO, and VoIPbin's URLs carry the access key (which
    # RedactSecrets hides): only at the libraries' debug level are they shown.
    noisy = logging.DEBUG if libraries == "debug" else logging.WARNING
    for name in ("httpx", "httpcore", "slack_sdk", "slack_bolt", "aiohttp.access"):
        logging.getLogger(name).setLevel(noisy)
