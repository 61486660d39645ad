"""Logging set-up: one structured line per event, secrets redacted from every line."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable


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


class JsonFormatter(logging.Formatter):
    """One JSON object per line. The ``key=value`` pairs our log lines carry
    (``conversation_id=3 message_id=17``) also become fields, so they can be queried."""

    _PAIR = re.compile(r"\b([a-z_]+)=([^\s=]+)")

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.name.startswith("bot."):
            for key, value in self._PAIR.findall(message):
                entry.setdefault(key, int(value) if value.isdigit() else value)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(secrets: Iterable[str], *, level: str | None = None) -> None:
    """Log to stderr at ``LOG_LEVEL`` (default INFO); ``LOG_FORMAT=text`` for plain lines."""
    handler = logging.StreamHandler()
    if os.environ.get("LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    # httpx logs every request URL at INFO, and VoIPbin's URLs carry the access key.
    for noisy in ("httpx", "httpcore", "slack_sdk", "slack_bolt", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
